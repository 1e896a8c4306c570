# semcom — set-up, demo, tests, benchmarks, lint.
# The install order matters (see ../shared/DEPENDENCIES.md): torch + torchvision first,
# then the project, then compressai without its dependencies.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.semcom-installed
# the versions the tests passed with (see constraints.txt; `make constraints` refreshes it)
PINS   := -c constraints.txt
export HF_HUB_OFFLINE := 1

.PHONY: install demo test test-fast bench lint docs clean constraints

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install $(PINS) torch==2.14.1 torchvision==0.29.1
	$(PIP) install $(PINS) -e ".[test,dev,docs]"
	$(PIP) install $(PINS) --no-deps compressai==1.2.8
	$(PY) -c "import sionna.phy, importlib.metadata as m; v = m.version('sionna-no-rt'); assert v.startswith('2.'), f'sionna-no-rt {v} is the TensorFlow 1.x line; reinstall sionna-no-rt>=2.2'"
	touch $(STAMP)

install: $(STAMP)

# The embedded default: the default sweep (MTGC-tiny and the conventional codecs over
# AWGN, Rayleigh and TDL-A) and its figures, plus the link's BLER curves.
demo: $(STAMP)
	$(VENV)/bin/semcom sweep experiments/configs/default.yaml --out runs/default --resume
	$(VENV)/bin/semcom plot runs/default --out figures/sweep
	$(VENV)/bin/semcom link --channel awgn --mcs mcs2 mcs4 mcs9 mcs15 mcs20 mcs27 \
		--snr-db auto --bits 1024 --blocks 50 --seed 0 --plot figures/bler_awgn.png

# Everything, lint first (CI runs this); test-fast skips the tests marked slow.
test: $(STAMP) lint
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/link.py
	@for b in benchmarks/*.py; do [ "$$b" = benchmarks/link.py ] || $(PY) $$b; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The documentation site (mkdocs-material, API pages from the docstrings) into site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf site $(VENV) .pytest_cache build *.egg-info

# Rewrite constraints.txt from this environment (after the tests pass with newer versions).
constraints: $(STAMP)
	{ sed -n '1,3p' constraints.txt; $(PIP) freeze --exclude-editable | grep -v '^semcom'; } > constraints.tmp
	mv constraints.tmp constraints.txt
