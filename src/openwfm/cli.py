"""The ``openwfm`` command: a thin Typer layer over the Python API.

Each stage contributes its commands from its own ``commands`` module through a ``register(app)``
function, so the stages stay independent. Command modules import their heavy dependencies
inside the command bodies, to keep ``openwfm --help`` fast.
"""

from __future__ import annotations

import importlib
import sys

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
    "openwfm.intraday.commands",
]


def _register_stages() -> None:
    for module_name in STAGE_COMMAND_MODULES:
        importlib.import_module(module_name).register(app)


@app.callback()
def _root() -> None:
    """Workforce management and routing for omnichannel contact centers."""


_register_stages()


def main() -> None:
    """Console entry point: bad input is one line on stderr and exit code 2."""
    try:
        app()
    except OpenWFMError as error:
        print(f"openwfm: error: {error}", file=sys.stderr)
        sys.exit(2)
