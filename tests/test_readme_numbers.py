"""The result tables of the README and of the guide pages are the shipped result files'
tables, row for row.

Every table of README.md and docs/guide.md whose header starts
``| codec |`` must equal, line for line, a table of some ``docs/results/*/table*.md`` (what
`semcom evaluate` or `semcom export` wrote), so a number cannot drift from the run behind it;
the threshold tables of docs/measured.md are the shipped calibration's.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The pages that quote result tables.
PAGES = ("README.md", "docs/guide.md")


def _tables(text: str) -> list[list[str]]:
    """The markdown tables of ``text``: runs of consecutive lines that start with '|'."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line.rstrip())
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def test_readme_result_tables_come_from_result_files() -> None:
    shipped = [
        table
        for path in sorted((ROOT / "docs" / "results").glob("*/table*.md"))
        for table in _tables(path.read_text())
    ]
    assert shipped, "no docs/results/*/table.md"
    for page in PAGES:
        tables = [t for t in _tables((ROOT / page).read_text()) if t[0].startswith("| codec |")]
        assert tables, f"{page} has no result table"
        for table in tables:
            assert table in shipped, f"{page}: table not in docs/results: {table[:3]}"


def test_readme_threshold_tables_are_the_shipped_calibration() -> None:
    from channels.calibrate import markdown_table
    from channels.mcs import load_thresholds

    measured = (ROOT / "docs" / "measured.md").read_text()
    data = load_thresholds()
    for bits in (1024, *sorted(int(b) for b in data.get("by_bits", {}))):
        assert markdown_table(data, bits) in measured, f"docs/measured.md's {bits}-bit table"
