"""The rich consoles of the `release` command: made for terminals and for logs.

In a terminal, rich wraps at the terminal's width. When the output is not a terminal (a CI
log, a pipe, a file), a line is never wrapped or cut: rich would otherwise assume 80
columns, and "promoting SHA as release/2026-11-29" would break in two. Tables take the
width they need.

Emoji codes are not replaced (`:tada:` in a commit title prints as typed); forge text is
escaped with `release.rules.text.term` before it reaches `print`.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console

LOG_WIDTH = 100_000
"""The width of a console writing to a log: wide enough that nothing wraps."""


def make_console(stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console on stdout (or stderr, or `file`) that does not wrap when it is not a
    terminal."""
    probe = Console(stderr=stderr, file=file)
    if probe.is_terminal:
        return Console(stderr=stderr, file=file, emoji=False)
    return Console(stderr=stderr, file=file, emoji=False, width=LOG_WIDTH, soft_wrap=True)
