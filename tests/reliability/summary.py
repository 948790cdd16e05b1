"""Lines the reliability suites report at the end of the run, whether their tests pass or
fail (pytest shows a passing test's own output only with -s)."""

from __future__ import annotations

LINES: list[str] = []


def report(line: str) -> None:
    """Print `line` now (seen with -s) and again in the run's closing summary."""
    print(line, flush=True)
    LINES.append(line.strip())
