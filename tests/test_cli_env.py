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
