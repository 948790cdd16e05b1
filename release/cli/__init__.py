"""The command line (`python -m release`): the top layer, and an edge (it reads the stack
files, the environment and the token secret; see release/cli/common.py). One typer app
composed of the command groups with `add_typer`:

- release.cli.promotion: plan, promote, status, payload
- release.cli.day_two: cherry-pick, revert, rollback, abandon, history
- release.cli.ops: ppc status (and the calendar and notification hooks of status/promote)
- release.cli.init: init (first use on a fresh backend); `release --version` is here
"""

from __future__ import annotations

import typer

from release import __version__
from release.cli import day_two, init, ops, promotion
from release.cli.common import config_message, fail
from release.engine import lifetime
from release.rules.config import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="The weekly release train: testing -> staging -> production, as Pulumi stacks.",
)
app.add_typer(promotion.app)
app.add_typer(day_two.app)
app.add_typer(ops.app)
app.add_typer(init.app)


def _version(value: bool) -> None:
    if value:
        print(f"release-train {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_version, help="Print the version and exit."
    ),
) -> None:
    """The weekly release train: testing -> staging -> production, as Pulumi stacks."""


def main() -> None:
    lifetime.install()  # SIGTERM ends the engine tree with the command (release/engine/lifetime.py)
    try:
        app()
    except ConfigError as err:  # a stack file read outside a command's own checks
        try:
            fail(config_message(None, err), code=2)
        except typer.Exit as stop:
            raise SystemExit(stop.exit_code) from None
