"""The ``semcom`` command line (typer).

Each command group lives in its own module (under :mod:`semcom.commands`, or
:mod:`experiments.commands` for those that run experiments) with a ``register(app)``
function, found through the ``semcom.commands`` entry-point group, so the semcom package
never imports experiments and a plug-in may add commands. Errors a user can trigger are
:data:`semcom.errors.USER_ERRORS`: they print one sentence and exit with status 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer

from plugin_registry import EntryPointRegistry
from semcom.errors import USER_ERRORS, SemcomError

app = typer.Typer(
    name="semcom",
    help="A 6G semantic-communication link simulator: MTGC over Sionna-simulated links.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: The entry-point group of command groups: name → a ``register(app)`` function.
COMMANDS_GROUP = "semcom.commands"
#: The order of semcom's own command groups in ``--help`` (plug-ins' follow, by name).
COMMAND_ORDER = ("link", "mtgc", "transmit", "sweep", "train", "evaluate", "list")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """semcom: semantic communication over simulated 5G NR links."""


#: The installed command groups (semcom's own and plug-ins').
COMMANDS = EntryPointRegistry(COMMANDS_GROUP, "command group", SemcomError)


def _register_commands() -> None:
    rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
    for name in sorted(COMMANDS.names(), key=lambda n: (rank.get(n, len(rank)), n)):
        COMMANDS.load(name)(app)


#: compressai is installed with ``--no-deps`` after the project (../shared/DEPENDENCIES.md),
#: so a plain ``pip install`` of semcom lacks it; this is the version the recipe pins.
COMPRESSAI_VERSION = "1.2.8"


def check_environment() -> None:
    """Refuse to run on the TensorFlow-based Sionna 1.x that a careless install picks, or
    without compressai (the HCI codec), which the install recipe adds separately."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("compressai")
    except PackageNotFoundError as err:
        raise SemcomError(
            "compressai is not installed; run `make install` (or `pip install --no-deps "
            f"compressai=={COMPRESSAI_VERSION}`) in this environment."
        ) from err

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


#: Options that take several values after one flag (``--snr-db 0 2 4``).
MULTI_VALUE_OPTIONS = ("--snr-db", "--mcs", "--budget-cpp")


def expand_multi_value_options(args: list[str]) -> list[str]:
    """Rewrite ``--snr-db 0 -2 4`` as ``--snr-db=0 --snr-db=-2 --snr-db=4`` for click.

    Values run until the next token that starts with ``--`` (so negative numbers work).
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token in MULTI_VALUE_OPTIONS:
            j = i + 1
            while j < len(args) and not args[j].startswith("--"):
                out.append(f"{token}={args[j]}")
                j += 1
            if j == i + 1:
                out.append(token)  # let click report the missing value
            i = j
        else:
            out.append(token)
            i += 1
    return out


def _click_exception_classes() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(usage errors, exits, aborts) of the click that typer runs on.

    typer 0.24 and later run on their own copy of click (``typer._click``), whose
    exceptions are not click's; older ones raise click's. Both are recognised.
    """
    import typer

    usage: list[type] = []
    exits: list[type] = [typer.Exit]
    aborts: list[type] = [typer.Abort]
    try:
        from typer._click import exceptions as vendored

        usage.append(vendored.UsageError)
    except ImportError:
        pass
    try:
        import click

        usage.append(click.exceptions.UsageError)
        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(usage), tuple(exits), tuple(aborts)


def _usage_sentence(err: Exception) -> str:
    """A click usage error as one line: its message and where to read the usage."""
    message = " ".join(str(err.format_message()).split())  # type: ignore[attr-defined]
    ctx = getattr(err, "ctx", None)
    path = getattr(ctx, "command_path", None) or "semcom"
    return f"{message.rstrip('.')}; see `{path} --help`."


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``semcom`` console script; returns the exit status."""
    args = expand_multi_value_options(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args
    try:
        check_environment()
        _register_commands()
        # outside standalone mode click returns a typer.Exit's status instead of raising it
        status = app(args=args, prog_name="semcom", standalone_mode=False)
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # click's usage errors and aborts
        usage, exits, aborts = _click_exception_classes()
        if isinstance(err, usage):
            if debug:
                raise
            print(f"error: {_usage_sentence(err)}", file=sys.stderr)
            return 2
        if isinstance(err, exits):
            return err.exit_code  # type: ignore[attr-defined]
        if isinstance(err, aborts):
            return 1
        raise
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
