"""The ``semcom`` command line (typer).

Each command group lives in its own module under :mod:`semcom.commands` and registers
itself on :data:`app`. Errors a user can trigger are :data:`semcom.errors.USER_ERRORS`:
they print one sentence and exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

from semcom.errors import USER_ERRORS, SemcomError

app = typer.Typer(
    name="semcom",
    help="A 6G semantic-communication link simulator: MTGC over Sionna-simulated links.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules under semcom.commands, each with a ``register(app)`` function.
COMMAND_MODULES = ("link", "codec")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """semcom: semantic communication over simulated 5G NR links."""


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        import_module(f"semcom.commands.{name}").register(app)


def check_environment() -> None:
    """Refuse to run on the TensorFlow-based Sionna 1.x that a careless install picks."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        sionna_version = version("sionna-no-rt")
    except PackageNotFoundError as err:
        raise SemcomError(
            "sionna-no-rt is not installed; run `make install` (or "
            "`pip install 'sionna-no-rt>=2.2'`) in this environment."
        ) from err
    if not sionna_version.startswith("2."):
        raise SemcomError(
            f"sionna-no-rt {sionna_version} is the TensorFlow line, semcom needs 2.x; "
            "run `pip install 'sionna-no-rt>=2.2'` (see DEPENDENCIES in the README)."
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``semcom`` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        check_environment()
        _register_commands()
        app(args=args, prog_name="semcom", standalone_mode=False)
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # click's usage errors and aborts
        import click

        if isinstance(err, click.exceptions.UsageError):
            if debug:
                raise
            err.show()
            return 2
        if isinstance(err, click.exceptions.Exit):
            return err.exit_code
        if isinstance(err, click.exceptions.Abort):
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
