"""Which commit is "the most recent green build in testing".

`newest_green` walks the source branch newest first and stops at the first commit whose
required checks all passed, so it asks for the checks of 1 + k commits when the newest k
are red or pending, whatever the length of the history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

from release.rules.gates import checks_green, required_states


@dataclass(frozen=True)
class Skipped:
    sha: str
    reason: str


@dataclass(frozen=True)
class GreenResult:
    sha: str | None
    checks: Mapping[str, str] = field(default_factory=dict)
    skipped: tuple[Skipped, ...] = ()

    def describe(self) -> str:
        lines = [f"skipped {s.sha[:12]}: {s.reason}" for s in self.skipped]
        if self.sha:
            lines.append(f"newest green commit: {self.sha}")
        else:
            lines.append("no green commit found")
        return "\n".join(lines)


def newest_green(
    commits: Iterable[str],
    checks_of: Callable[[str], Mapping[str, str]],
    required: Sequence[str],
    lookback: int = 30,
    ahead: int = 1,
    checks_of_many: Callable[[list[str]], Sequence[Mapping[str, str]]] | None = None,
) -> GreenResult:
    """The newest commit of `commits` (newest first) whose required checks are all green.

    The newest commit is looked at alone (it is green most days); after it, `ahead`
    candidates at a time, their checks read together by `checks_of_many` (default: one
    `checks_of` after another). A batch may read the checks of up to `ahead - 1` commits
    older than the green one, never more."""
    many = checks_of_many or (lambda shas: [checks_of(sha) for sha in shas])
    skipped: list[Skipped] = []
    # islice stops before pulling commit lookback + 1: with the forge's 30 commits a page and
    # the default lookback of 30, pulling it would cost a request for a page never used.
    candidates = islice(commits, max(lookback, 0))
    size = 1
    while batch := list(islice(candidates, size)):
        for sha, seen in zip(batch, many(batch), strict=True):
            ok, reasons = checks_green(required, seen)
            if ok:
                return GreenResult(sha, required_states(required, seen), tuple(skipped))
            skipped.append(Skipped(sha, "; ".join(reasons)))
        size = max(ahead, 1)
    return GreenResult(None, {}, tuple(skipped))
