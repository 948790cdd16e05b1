"""Figures a test reports (case counts of property tests), printed at the end of the run
too: pytest shows a passing test's own output only with -s."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import settings as Settings

LINES: list[str] = []


def report(line: str) -> None:
    """Print `line` now (seen with -s) and again in the run's closing summary."""
    print(line, flush=True)
    LINES.append(line.strip())


def counted(
    settings: Settings, *strategies: Any, **named: Any
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`@given(*strategies, **named)` under `settings`, reporting how many cases the property
    checked, and failing when hypothesis ran fewer than a third of `max_examples`."""

    def decorate(check: Callable[..., None]) -> Callable[..., None]:
        cases = [0]

        @functools.wraps(check)
        def one(*args: Any, **kwargs: Any) -> None:
            cases[0] += 1
            check(*args, **kwargs)

        run = settings(given(*strategies, **named)(one))

        @functools.wraps(run)
        def test(*args: Any, **kwargs: Any) -> None:
            cases[0] = 0
            run(*args, **kwargs)
            report(f"{check.__name__}: {cases[0]} cases")
            assert cases[0] >= settings.max_examples // 3, cases[0]

        return test

    return decorate
