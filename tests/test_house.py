"""The house rules a newcomer relies on: small modules, one job each."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The most lines a module of the project's packages and benchmarks may have.
MAX_LINES = 450


def test_no_module_is_over_450_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for folder in ("semcom", "channels", "experiments", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules by what they hold: {long}"
