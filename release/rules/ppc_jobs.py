"""One PPC's update, as data: what the rollout asks an executor to do, and what came of it.

The rollout drives a wave's PPCs through one executor. Every executor (the local command
that runs `ppcCommand`, the GitHub Actions workflow it dispatches) keeps one contract:

- `run_wave(jobs, report)` updates every PPC of `jobs` (one wave) and returns one
  `PpcOutcome` per job, in the order of `jobs`. PPCs of one wave may run at once.
- It is idempotent per PPC and commit: a PPC already updated to `job.commit` is reported
  `ok` with nothing done again; an update to that commit still running (a killed rollout's
  leftover) is awaited, never started a second time. This is the rollout's crash guard.
- A failed update is an outcome with `ok=False` and a one-line `detail`, not an exception;
  an exception means the executor itself could not work (bad config, forge down).
- `report` receives one-line progress messages (forge text already escaped for a terminal).

No I/O here: the executors live with the providers and the forge client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PpcJob:
    """One PPC's update to one release commit, in one wave."""

    ppc: str
    release: str
    commit: str
    wave: int
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def correlation_id(self) -> str:
        """Stable across re-runs of the rollout: the same PPC and commit give the same id, so
        an executor finds the update it started before a crash instead of starting another."""
        return f"rt-{self.ppc}-{self.commit[:12]}"


@dataclass(frozen=True)
class PpcOutcome:
    """What became of one job: `ok`, a one-line `detail`, and where to look (`url`, may be
    empty for local jobs)."""

    ppc: str
    ok: bool
    detail: str
    url: str = ""


class PpcExecutor(Protocol):
    """Runs one wave of PPC updates; see the module's contract."""

    def run_wave(
        self, jobs: Sequence[PpcJob], report: Callable[[str], None]
    ) -> list[PpcOutcome]: ...


def failed(outcomes: Sequence[PpcOutcome]) -> list[PpcOutcome]:
    """The outcomes that stop the rollout (later waves do not start)."""
    return [outcome for outcome in outcomes if not outcome.ok]
