"""The house rules a newcomer relies on: small modules, one job each."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The most lines a module of the project's packages and benchmarks may have.
MAX_LINES = 450


def test_no_module_is_over_450_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for folder in ("semcom", "channels", "experiments", "benchmarks", "plugin_registry")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules by what they hold: {long}"


def _imports(folder: str) -> dict[str, set[str]]:
    """Top-level packages each module of ``folder`` imports (any indentation)."""
    import re

    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        names = re.findall(r"^\s*(?:from|import)\s+(\w+)", text, re.M)
        found[str(path.relative_to(ROOT))] = set(names)
    return found


def test_imports_run_downwards():
    """plugin_registry imports nothing of ours; channels nothing of semcom or experiments;
    semcom nothing of experiments but for the command line registering experiments'
    commands."""
    for module, names in _imports("plugin_registry").items():
        assert not names & {"semcom", "experiments", "channels"}, module
    for module, names in _imports("channels").items():
        assert not names & {"semcom", "experiments"}, module
    for module, names in _imports("semcom").items():
        if module != "semcom/cli.py":
            assert "experiments" not in names, module
