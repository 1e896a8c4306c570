"""``semcom list codecs``: what is installed (built-ins and plug-ins alike)."""

from __future__ import annotations

import typer

from semcom.errors import SemcomError

#: What ``semcom list`` can show.
WHAT = ("codecs",)


def register(app: typer.Typer) -> None:
    """Add ``semcom list`` to ``app``."""
    app.command("list")(list_installed)


def list_installed(
    what: str = typer.Argument("codecs", help="What to list: codecs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the installed codecs: name, kind, streams, options and where each comes from."""
    import json
    from importlib.metadata import entry_points

    from semcom.registry import CODECS_GROUP, codec_class, codec_names

    if what not in WHAT:
        raise SemcomError(f"semcom list shows {', '.join(WHAT)}, not {what!r}.")
    sources = {ep.name: ep.value for ep in entry_points(group=CODECS_GROUP)}
    rows = []
    for name in codec_names():
        try:
            cls = codec_class(name)
        except SemcomError as err:
            rows.append(
                {"name": name, "kind": "broken", "error": str(err), "source": sources[name]}
            )
            continue
        rows.append(
            {
                "name": name,
                "kind": cls.kind,
                "streams": list(cls.streams),
                "options": list(getattr(cls, "option_names", ())),
                "summary": getattr(cls, "summary", ""),
                "source": sources[name],
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("codec", "kind", "streams", "options", "summary", "from")
    for r in rows:
        table.add_row(
            r["name"],
            r["kind"],
            ", ".join(r.get("streams", [])),
            ", ".join(r.get("options", [])),
            r.get("summary") or r.get("error", ""),
            r["source"],
        )
    import sys

    Console(width=None if sys.stdout.isatty() else 160).print(table)
