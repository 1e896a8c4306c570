"""Every bad option is one sentence: each command of the installed CLI, driven with an
unknown option, a missing argument and a wrong-typed value for every numeric option,
exits with status 2 and one line on stderr, never a traceback.

The commands and their options are read from the CLI itself, so a command or option added
later is covered without editing this file. Values are refused while the command line is
parsed, so nothing runs."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import torch

from semcom.cli import _register_commands, app


def _commands() -> dict[str, object]:
    """name → click command, every command (and sub-command) registered."""
    import typer.main

    _register_commands()
    root = typer.main.get_command(app)
    out = {}
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        if sub:
            out.update({f"{name} {s}": c for s, c in sub.items()})
        else:
            out[name] = cmd
    return out


COMMANDS = _commands()


def _numeric_options(cmd) -> list[str]:
    """The long names of ``cmd``'s int and float options (typer records each option's
    annotation; its own click classes are not ``click``'s)."""
    names = []
    for param in cmd.params:
        if param.param_type_name != "option" or param.is_flag:
            continue
        ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        kinds = typing.get_args(ann) or (ann,)
        if any(k in (int, float) for k in kinds):
            names.append(max(param.opts, key=len))
    return names


def _required_arguments(cmd) -> list:
    return [p for p in cmd.params if p.param_type_name == "argument" and p.required]


def _placeholders(cmd) -> list[str]:
    """A value for each required argument (a path that does not exist: never read, since
    parsing fails first)."""
    return ["no-such-file.yaml" for _ in _required_arguments(cmd)]


def _one_line_error(code: int, err: str) -> bool:
    return code == 2 and err.count("\n") == 1 and err.startswith("error: ")


def test_every_command_is_covered() -> None:
    assert {"link", "transmit", "sweep", "evaluate", "train", "encode", "decode"} <= {
        n.split()[0] for n in COMMANDS
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_unknown_option_is_one_sentence(name: str, capsys) -> None:
    from semcom.cli import main

    cmd = COMMANDS[name]
    code = main([*name.split(), *_placeholders(cmd), "--no-such-option"])
    err = capsys.readouterr().err
    assert _one_line_error(code, err), err
    assert "--no-such-option" in err and "--help" in err


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n, c in COMMANDS.items() if _required_arguments(c)))
def test_a_missing_argument_is_one_sentence(name: str, capsys) -> None:
    from semcom.cli import main

    code = main(name.split())
    err = capsys.readouterr().err
    assert _one_line_error(code, err), err
    assert "Missing argument" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "option"),
    sorted((n, o) for n, c in COMMANDS.items() for o in _numeric_options(c)),
)
def test_a_wrong_typed_number_is_one_sentence(name: str, option: str, capsys) -> None:
    from semcom.cli import main

    cmd = COMMANDS[name]
    code = main([*name.split(), *_placeholders(cmd), option, "abc"])
    err = capsys.readouterr().err
    assert _one_line_error(code, err), err
    assert option in err


#: An out-of-range value for every numeric option, per command; each must be refused in
#: one sentence that names the option (or what it sets) before any work starts.
OUT_OF_RANGE: dict[str, dict[str, tuple[str, str]]] = {
    "decode": {
        "--steps": ("0", "--steps"),
        "--seed": ("-1", "--seed"),
        "--guidance": ("nan", "--guidance"),
        "--init-strength": ("1.5", "--init-strength"),
    },
    "encode": {
        "--target-bpp": ("0", "--target-bpp"),
        "--hci-factor": ("3", "factor"),
        "--hci-quality": ("99", "quality"),
    },
    "evaluate": {
        "--n": ("0", "--n"),
        "--seed": ("-1", "--seed"),
        "--target-bpp": ("0", "--target-bpp"),
        "--steps": ("0", "steps"),
        "--hci-lowpass": ("-1", "--hci-lowpass"),
        "--init-strength": ("2", "--init-strength"),
        "--threads": ("0", "--threads"),
        "--workers": ("0", "--workers"),
        "--image-size": ("0", "--image-size"),
        "--fid-patch": ("0", "--fid-patch"),
        "--value-options": ("0", "--value-options"),
    },
    "verify": {"--points": ("0", "--points"), "--seed": ("-1", "--seed")},
    "plan": {
        "--budget-cpp": ("0", "--budget-cpp"),
        "--scene": ("-1", "--scene"),
        "--tolerance": ("-1", "tolerance"),
        "--harq": ("0", "transmissions"),
    },
    "link": {
        "--code-rate": ("1.5", "code rate"),
        "--bits": ("0", "--bits"),
        "--blocks": ("0", "--blocks"),
        "--seed": ("-1", "--seed"),
        "--max-iter": ("0", "max_iter"),
        "--delay-spread-ns": ("-5", "delay spread"),
        "--speed-mps": ("-1", "speed"),
        "--harq": ("0", "transmissions"),
        "--antennas": ("3", "antennas must be one of"),
    },
    "sweep": {"--workers": ("0", "--workers"), "--threads": ("0", "--threads")},
    "train": {
        "--stage": ("4", "--stage"),
        "--steps": ("0", "steps"),
        "--threads": ("0", "threads"),
        "--value-scenes": ("-1", "--value-scenes"),
    },
    "transmit": {
        "--snr-db": ("nan", "SNR"),
        "--budget-cpp": ("0", "budget"),
        "--seed": ("-1", "--seed"),
        "--decode-seed": ("-1", "--decode-seed"),
        "--steps": ("0", "--steps"),
        "--harq": ("0", "transmissions"),
        "--tolerance": ("-1", "--tolerance"),
    },
}
#: Numeric options whose range is the data's (checked against a sweep's own values by
#: tests/test_sweep_plots.py): any number parses.
DATA_RANGED = {("plot", "--budget-cpp"), ("plot", "--snr-db")}


def test_every_numeric_option_has_an_out_of_range_case() -> None:
    covered = {(c, o) for c, opts in OUT_OF_RANGE.items() for o in opts} | DATA_RANGED
    every = {(n, o) for n, c in COMMANDS.items() for o in _numeric_options(c)}
    assert every == covered, every ^ covered


def _arguments(name: str, tmp: Path) -> list[str]:
    """Valid required arguments and options for ``name``, so that only the option under
    test is wrong (files exist; the outputs go to ``tmp``)."""
    from semcom.imageio import save_image

    scene = tmp / "scene.png"
    if not scene.exists():
        save_image(torch.full((3, 64, 64), 0.5), scene)
        (tmp / "c.yaml").write_text(
            "codecs: [webp]\nchannels: [awgn]\nsnr_db: [0]\nbudget_cpp: [0.1]\n"
        )
        (tmp / "x.mtgc").write_bytes(b"MTGC")
    return {
        "decode": [str(tmp / "x.mtgc"), "-o", str(tmp / "d.png")],
        "encode": [str(scene), "-o", str(tmp / "e.mtgc")],
        "evaluate": ["--out", str(tmp / "ev")],
        "link": ["--snr-db", "0", "--channel", "tdl-a"],
        "plan": ["--codec", "jpeg"],
        "verify": [str(Path(__file__).resolve().parents[1] / "docs/results/paper")],
        "sweep": [str(tmp / "c.yaml"), "--out", str(tmp / "sw")],
        "train": ["--work", str(tmp / "tw"), "--out", str(tmp / "to")],
        "transmit": [str(scene), "-o", str(tmp / "t.png"), "--snr-db", "0", "--budget-cpp", "1"],
    }[name]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "option"), sorted((c, o) for c, opts in OUT_OF_RANGE.items() for o in opts)
)
def test_an_out_of_range_value_is_one_sentence(name, option, tmp_path, capsys) -> None:
    from semcom.cli import main

    value, mentions = OUT_OF_RANGE[name][option]
    args = _arguments(name, tmp_path)
    if option in args:  # replace the valid value
        i = args.index(option)
        args = args[:i] + args[i + 2 :]
    code = main([name, *args, option, value])
    err = capsys.readouterr().err
    assert _one_line_error(code, err), err
    assert mentions in err
    made = {p.name for p in tmp_path.iterdir()} - {"scene.png", "c.yaml", "x.mtgc"}
    assert not made, made  # refused before writing anything
