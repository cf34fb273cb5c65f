"""The ``openwfm`` command: a thin Typer layer over the Python API.

Each stage contributes its commands from its own ``commands`` module through a ``register(app)``
function, so the stages stay independent. Command modules import their heavy dependencies
inside the command bodies, to keep ``openwfm --help`` fast.

:func:`main` keeps the CLI's promise for every command in one place: bad input (an
:class:`~openwfm.errors.OpenWFMError` or a usage error) is one line ``openwfm: error: ...`` on
stderr and exit code 2; Ctrl-C and SIGTERM end with ``openwfm: interrupted`` (exit 130 / 143)
after the atomic writers removed their temporary files; warnings from pandas and NumPy are held
back while a command runs (dropped when it fails, printed one line each when it succeeds); and a
message names the CLI flag (``--interval``), not the Python parameter (``interval_minutes``).
"""

from __future__ import annotations

import importlib
import re
import signal
import sys
import warnings

import typer

from openwfm.errors import OpenWFMError

app = typer.Typer(
    name="openwfm",
    help="Workforce management and routing for omnichannel contact centers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One entry per stage; each module defines ``register(app: typer.Typer) -> None``.
STAGE_COMMAND_MODULES = [
    "openwfm.scenario_commands",
    "openwfm.data.commands",
    "openwfm.demo_commands",
    "openwfm.report.commands",
    "openwfm.forecast.commands",
    "openwfm.sim.commands",
    "openwfm.schedule.commands",
    "openwfm.validate.commands",
    "openwfm.plan.commands",
    "openwfm.queueing.commands",
    "openwfm.staffing.commands",
    "openwfm.intraday.commands",
    "openwfm.routing.commands",
    "openwfm.capacity.commands",
    "openwfm.quality.commands",
]

# Python parameter names of the API whose CLI flag is not simply ``--name-with-dashes``:
# candidates in order; the first one the running command has is used.
PARAMETER_FLAGS: dict[str, tuple[str, ...]] = {
    "interval_minutes": ("--interval-minutes", "--interval"),
    "extra_shrinkage": ("--shrinkage",),
    "time_limit_s": ("--time-limit",),
    "horizon_days": ("--horizon-days",),
    "origins": ("--origins",),
    "calls_per_interval": ("--calls-per-interval",),
    "arrival_rate_per_s": ("--arrival-rate-per-s", "--calls-per-interval"),
    "service_level": ("--service-level", "--sl"),
    "target_s": ("--target-s",),
    "max_occupancy": ("--max-occupancy",),
    "max_abandon": ("--max-abandon",),
    "patience_s": ("--patience-s",),
    "replications": ("--replications",),
    "seed": ("--seed",),
}


def _register_stages() -> None:
    for module_name in STAGE_COMMAND_MODULES:
        importlib.import_module(module_name).register(app)


@app.callback()
def _root() -> None:
    """Workforce management and routing for omnichannel contact centers."""


_register_stages()


def _command_flags(args: list[str]) -> set[str]:
    """Long option names of the sub-command named in ``args`` (empty if none matches); a
    command of a group (``quality sample``) is looked up inside the group."""
    root = command = typer.main.get_command(app)
    for word in args:
        if word.startswith("-"):
            continue
        found = getattr(command, "commands", {}).get(word)
        if found is None:
            break
        command = found
        if not getattr(command, "commands", None):
            break
    if command is root:
        return set()
    return {opt for param in command.params for opt in param.opts if opt.startswith("--")}


def flag_for(name: str, flags: set[str]) -> str | None:
    """The CLI flag of the API parameter ``name`` among the command's ``flags``, or None."""
    for candidate in (*PARAMETER_FLAGS.get(name, ()), "--" + name.replace("_", "-")):
        if candidate in flags:
            return candidate
    return None


def cli_message(error: OpenWFMError, args: list[str]) -> str:
    """``str(error)``, with an API parameter name replaced by the command's flag.

    Only errors that name no file are translated, and only to a flag the command has: a field
    of a file (``aht_s`` in a forecast table) keeps its column name.
    """
    if error.file or not error.field:
        return str(error)
    head = re.split(r"[\s\[.]", error.field, maxsplit=1)[0]
    flag = flag_for(head, _command_flags(args))
    if flag is None:
        return str(error)
    message = error.message
    if "_" in head:  # a Python name (interval_minutes) in the text; a plain word stays a word
        message = re.sub(rf"(?<![\w-]){re.escape(head)}(?![\w-])", flag, message)
        if message.startswith(flag + " "):  # "--interval: --interval must be" said it twice
            message = message[len(flag) + 1 :]
    return str(OpenWFMError(message, field=flag + error.field[len(head) :]))


def usage_message(error) -> str:
    """A Click usage error in one line, naming the option: ``--seed: expected ...``."""
    text = " ".join(error.format_message().split())
    param = getattr(error, "param", None)
    if param is not None and getattr(param, "opts", None):
        invalid = re.match(r"Invalid value for [^:]*: (?:Value error, )?", text)
        if invalid:  # "Invalid value for '--days': ..." -> "--days: ..."
            flag = next((o for o in param.opts if o.startswith("--")), param.opts[0])
            return f"{flag}: {text[invalid.end() :]}"
        hint = "/".join(param.opts)
        if hint not in text:
            text = f"{hint}: {text}"
    return text


def _warning_line(item: warnings.WarningMessage) -> str:
    text = " ".join(str(item.message).split())
    return f"openwfm: warning: {item.category.__name__}: {text}"


def _terminate(signum, frame) -> None:  # SIGTERM: unwind like Ctrl-C, so temporaries go
    raise KeyboardInterrupt


def main(args: list[str] | None = None) -> None:
    """Console entry point: bad input is one line on stderr and exit code 2."""
    try:  # Typer >= 0.20 carries its own copy of Click
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
        from typer.exceptions import Abort
    except ImportError:  # pragma: no cover - older Typer on Click
        from click.exceptions import Abort, NoArgsIsHelpError, UsageError

    args = list(sys.argv[1:] if args is None else args)
    command = typer.main.get_command(app)
    terminated = False

    def on_term(signum, frame):
        nonlocal terminated
        terminated = True
        _terminate(signum, frame)

    previous = signal.signal(signal.SIGTERM, on_term)
    code = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        try:
            returned = command.main(args=args, prog_name="openwfm", standalone_mode=False)
            if returned == 130:  # Typer turns KeyboardInterrupt into Exit(130)
                code = 130
            elif isinstance(returned, int) and not isinstance(returned, bool):
                code = returned
        except OpenWFMError as error:
            print(f"openwfm: error: {cli_message(error, args)}", file=sys.stderr)
            code = 2
        except NoArgsIsHelpError as error:
            print(error.ctx.get_help())
            code = 0
        except UsageError as error:
            print(f"openwfm: error: {usage_message(error)}", file=sys.stderr)
            code = 2
        except Abort:
            code = 130
        except KeyboardInterrupt:
            code = 130
        finally:
            signal.signal(signal.SIGTERM, previous)
        if code == 0:
            for line in dict.fromkeys(_warning_line(item) for item in caught):
                print(line, file=sys.stderr)
    if code == 130:
        code = 143 if terminated else 130
        print("openwfm: interrupted", file=sys.stderr)
    if code:
        sys.exit(code)
