"""``semcom list codecs|channels|metrics|datasets``: what is installed (built-ins and
plug-ins alike) and the data sets a ``--dataset`` may name."""

from __future__ import annotations

import re

import typer

from semcom.errors import SemcomError

#: What ``semcom list`` can show.
WHAT = ("codecs", "channels", "metrics", "datasets")


def register(app: typer.Typer) -> None:
    """Add ``semcom list`` to ``app``."""
    app.command("list")(list_installed)


def list_installed(
    what: str = typer.Argument(
        "codecs", help="What to list: codecs, channels, metrics or datasets."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the installed codecs, channels or metrics (name, what each is, where from), or
    the data sets a --dataset may name."""
    if what not in WHAT:
        raise SemcomError(f"semcom list shows {', '.join(WHAT)}, not {what!r}.")
    if what == "datasets":
        _print(_dataset_rows(), ("dataset", "summary", "reader"), as_json)
        return
    if what == "metrics":
        header = ("metric", "fields", "available", "summary", "from")
        _print(_metric_rows(), header, as_json)
        return
    if what == "channels":
        header = ("channel", "options", "MCS thresholds", "summary", "from")
        _print(_channel_rows(), header, as_json)
        return
    header = ("codec", "kind", "streams", "options", "value table", "world", "summary", "from")
    _print(_codec_rows(), header, as_json)


def _codec_rows() -> list[dict]:
    from importlib.metadata import entry_points

    from semcom.registry import CODECS_GROUP, codec_class, codec_names

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
        codec = _default_codec(name)
        row = {
            "name": name,
            "kind": cls.kind,
            "streams": list(cls.streams),
            "options": list(getattr(cls, "option_names", ())),
            "values": _value_table(codec) if cls.kind == "digital" else "-",
            "world": _world(codec),
            "summary": getattr(cls, "summary", ""),
            "source": sources[name],
        }
        presets = getattr(codec, "preset_worlds", None)
        if isinstance(presets, dict) and presets:
            row["preset_worlds"] = {p: w or "-" for p, w in presets.items()}
        rows.append(row)
    return rows


def _default_codec(name: str) -> object | None:
    """The codec with its default options (built, weights not loaded), or None for a
    plug-in that cannot be built without its options."""
    from semcom.registry import make_codec

    try:
        return make_codec(name, {})
    except Exception:  # a plug-in's own failure: what it knows is not known
        return None


def _world(codec: object | None) -> str:
    """The images a codec's weights were trained on (:mod:`semcom.worlds`): ``shapes``,
    ``natural``, ``untrained`` or a data set's name; ``-`` for a codec that states none
    (a conventional codec works on any image), ``unknown`` when it cannot be built."""
    from semcom.worlds import codec_world

    if codec is None:
        return "unknown"
    return codec_world(codec) or "-"


def _value_table(codec: object | None) -> str:
    """Which value tables a digital codec ships (what planned protection needs): the
    world of each and how many validation scenes it was measured on, e.g. ``shapes (48)``."""
    import json
    from pathlib import Path

    if codec is None:
        return "unknown"
    shipped = getattr(codec, "shipped_values", None)
    paths = shipped() if shipped is not None else [getattr(codec, "values_path", None)]
    found = []
    for path in paths:
        if path is None or not Path(path).is_file():
            continue
        try:
            meta = json.loads(Path(path).read_text()).get("meta", {})
        except (OSError, ValueError):
            found.append(f"{Path(path).name} unreadable")
            continue
        scenes = meta.get("scenes")
        found.append(f"{meta.get('dataset', 'shapes')}" + (f" ({scenes})" if scenes else ""))
    return ", ".join(found) if found else "none"


def _dataset_rows() -> list[dict]:
    from semcom.data.datasets import DATASETS

    readers = {"shapes": "semantic probe (per grid cell)", "shapes-complex": "object detector"}
    rows = [
        {"name": name, "summary": summary, "reader": readers.get(name, "-")}
        for name, summary in DATASETS.items()
    ]
    rows.append(
        {
            "name": "folder:PATH",
            "summary": "your own PNG/JPEG/WebP images (captions optional)",
            "reader": "none (pixel and perceptual figures only)",
        }
    )
    return rows


def _metric_rows() -> list[dict]:
    from semcom.metrics.registry import metric, metric_names, metric_source

    rows = []
    for name in metric_names():
        try:
            m = metric(name)
        except SemcomError as err:
            rows.append({"name": name, "error": str(err), "source": metric_source(name)})
            continue
        status = m.status()
        row = {
            "name": name,
            "fields": [f.name for f in m.fields],
            "available": "yes" if status == "ok" else "no (--json says why)",
            "summary": m.summary,
            "source": metric_source(name),
        }
        if status != "ok":
            row["why"] = status
        rows.append(row)
    return rows


def _channel_options(factory: object) -> list[str]:
    """Keyword options of a channel factory (its ``options_of`` class's, if it names one)."""
    import inspect

    target = getattr(factory, "options_of", factory)
    skip = {"self", "device", "precision", "model"}
    return [
        p.name
        for p in inspect.signature(target).parameters.values()  # type: ignore[arg-type]
        if p.name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def _channel_rows() -> list[dict]:
    from importlib.metadata import entry_points

    from channels.errors import LinkError
    from channels.mcs import load_thresholds
    from channels.registry import CHANNELS_GROUP, channel_factory, channel_names, channel_summary

    sources = {ep.name: ep.value for ep in entry_points(group=CHANNELS_GROUP)}
    calibrated = load_thresholds()["thresholds"]
    rows = []
    try:
        names = channel_names()
    except LinkError as err:
        raise SemcomError(str(err)) from err
    for name in names:
        try:
            factory = channel_factory(name)
        except LinkError as err:
            rows.append({"name": name, "error": str(err), "source": sources[name]})
            continue
        own = getattr(factory, "thresholds_from", None) or name
        mcs = "calibrated" if own == name else f"from {own}"
        # its configurations with tables: own (one antenna) and own-NxN (MIMO)
        mimo = re.compile(rf"{re.escape(own)}-\d+x\d+")
        configs = [c for c in calibrated if c == own or mimo.fullmatch(c)]
        if len(configs) > 1 or (configs and configs[0] != own):
            mcs += " (" + ", ".join("1x1" if c == own else c[len(own) + 1 :] for c in configs) + ")"
        rows.append(
            {
                "name": name,
                "options": _channel_options(factory),
                "thresholds": mcs if configs else "none (fixed MCS only)",
                "summary": channel_summary(name),
                "source": sources[name],
            }
        )
    return rows


def _print(rows: list[dict], header: tuple[str, ...], as_json: bool) -> None:
    """Rows as JSON or as a table with ``header`` (rows' keys in the same order)."""
    import json
    import sys

    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*header)
    for r in rows:
        cells = []
        for key in r:
            if key in ("error", "why", "preset_worlds"):
                continue
            v = r[key]
            if key == "world" and "preset_worlds" in r:  # each preset's: tiny: shapes, ...
                v = [f"{p}: {w}" for p, w in r["preset_worlds"].items()]
            cells.append(", ".join(v) if isinstance(v, list) else str(v))
        if "error" in r:
            cells = [r["name"], "broken", *[""] * (len(header) - 4), r["error"], r["source"]]
        table.add_row(*cells)
    Console(width=None if sys.stdout.isatty() else 160).print(table)
