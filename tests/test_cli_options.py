"""Every bad option is one sentence: each command of the installed CLI, driven with an
unknown option, a missing argument and a wrong-typed value for every numeric option,
exits with status 2 and one line on stderr, never a traceback.

The commands and their options are read from the CLI itself, so a command or option added
later is covered without editing this file. Values are refused while the command line is
parsed, so nothing runs."""

from __future__ import annotations

import typing

import pytest

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


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_unknown_option_is_one_sentence(name: str, capsys) -> None:
    from semcom.cli import main

    cmd = COMMANDS[name]
    code = main([*name.split(), *_placeholders(cmd), "--no-such-option"])
    err = capsys.readouterr().err
    assert _one_line_error(code, err), err
    assert "--no-such-option" in err and "--help" in err


@pytest.mark.parametrize("name", sorted(n for n, c in COMMANDS.items() if _required_arguments(c)))
def test_a_missing_argument_is_one_sentence(name: str, capsys) -> None:
    from semcom.cli import main

    code = main(name.split())
    err = capsys.readouterr().err
    assert _one_line_error(code, err), err
    assert "Missing argument" in err


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
