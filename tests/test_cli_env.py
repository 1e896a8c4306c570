"""The command line's start-up checks: a missing compressai or the TensorFlow Sionna line
is one sentence and exit 2, before any command runs."""

from __future__ import annotations

import importlib.metadata as metadata

import pytest

from semcom.cli import main


@pytest.mark.parametrize(
    ("package", "installed", "needle"),
    [
        ("compressai", None, "compressai is not installed"),
        ("sionna-no-rt", None, "sionna-no-rt is not installed"),
        ("sionna-no-rt", "1.2.1", "is the TensorFlow line"),
    ],
)
def test_a_broken_environment_is_one_sentence(monkeypatch, capsys, package, installed, needle):
    real = metadata.version

    def version(name: str) -> str:
        if name == package:
            if installed is None:
                raise metadata.PackageNotFoundError(name)
            return installed
        return real(name)

    monkeypatch.setattr(metadata, "version", version)
    assert main(["list", "codecs"]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


def test_the_semcom_package_never_imports_experiments() -> None:
    """The import graph runs one way: experiments builds on semcom (the CLI finds the
    experiment commands through entry points), never the reverse."""
    import ast
    from pathlib import Path

    import semcom

    offenders = []
    for path in Path(semcom.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "experiments"]
    assert offenders == []


def test_every_command_is_registered_through_entry_points() -> None:
    from importlib.metadata import entry_points

    from semcom.cli import COMMAND_ORDER, COMMANDS_GROUP

    names = {ep.name for ep in entry_points(group=COMMANDS_GROUP)}
    assert set(COMMAND_ORDER) <= names
