"""The command line (`python -m release`): the top layer, and an edge (it reads the stack
files, the environment and the token secret; see release/cli/common.py). One typer app
composed of the command groups with `add_typer`:

- release.cli.promotion: plan, promote, status, payload
- release.cli.day_two: cherry-pick, revert, rollback, abandon, history
- release.cli.ops: ppc status (and the calendar and notification hooks of status/promote)
- release.cli.init: init (first use on a fresh backend); `release --version` is here
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

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


def _may_outlive(thread: threading.Thread) -> bool:
    return thread.daemon or "cancel_all_calls_after_grace" in thread.name


def exit_now(code: object) -> NoReturn:
    """End `python -m release` with `code` (as `sys.exit(code)` would) without tearing the
    interpreter down: with the Pulumi SDK and PyGithub loaded, freeing every module costs
    about a tenth of a second after the command's work is done. The output is flushed and
    the atexit handlers run first. While another thread still runs, the process exits the
    usual way (which waits for it); not counted: daemon threads (an exit never waits for
    them) and the grace-period thread of the Automation API's event server (it only
    cancels the calls of the engine run, which has ended, once its 5 s grace is over)."""
    if any(
        thread is not threading.main_thread() and not _may_outlive(thread)
        for thread in threading.enumerate()
    ):
        raise SystemExit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 1  # e.g. a closed pipe: as the interpreter would report it
    os._exit(status)


def run() -> NoReturn:
    """`release` as a process (`python -m release`, the `release` script): `main`, then
    `exit_now`. In-process callers (the tests) call `main`, which returns or raises."""
    try:
        main()
    except SystemExit as stop:
        exit_now(stop.code)
    exit_now(0)
