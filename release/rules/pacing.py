"""How fast release-train talks to the forge: one pacing policy for every client.

GitHub's REST guidance (and octokit's throttling defaults) ask a client to send the writes
of one token at least a second apart and to keep only a few requests in flight; they do not
ask for spacing between reads. Secondary rate limits and `Retry-After` are honoured by the
client's retries (`forge.py`), whatever the policy. A forge on this machine (the sandbox)
has no such limits, so its policy spaces nothing.

The policy is chosen once, at an edge, from the API URL (`for_api`), and travels down
inside the `forge.ForgeSession`; benchmarks may override it (`RELEASE_TRAIN_PACING`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from release.rules.errors import ConfigProblem

PACING_VARIABLE = "RELEASE_TRAIN_PACING"
GITHUB_WRITE_SPACING = 1.0  # seconds between two writes of one token
GITHUB_READS_IN_FLIGHT = 4


@dataclass(frozen=True)
class Pacing:
    """`write_spacing`: the least seconds between the starts of two writes of one token.
    `reads_in_flight`: the most reads one client sends at once. Reads are never spaced."""

    name: str
    write_spacing: float
    reads_in_flight: int

    def __post_init__(self) -> None:
        if self.write_spacing < 0 or self.reads_in_flight < 1:
            raise ValueError(f"pacing {self!r}: spacing must be >= 0 and reads in flight >= 1")

    @classmethod
    def github(cls) -> Pacing:
        """What github.com (and GitHub Enterprise) asks for."""
        return cls("github", GITHUB_WRITE_SPACING, GITHUB_READS_IN_FLIGHT)

    @classmethod
    def local(cls) -> Pacing:
        """A forge on this machine: no spacing, the same bound on reads in flight."""
        return cls("local", 0.0, GITHUB_READS_IN_FLIGHT)

    def write_wait(self, last_write: float | None, now: float) -> float:
        """Seconds to wait before a write starting at `now`, when the previous write of the
        same token started at `last_write` (None: no write yet)."""
        if last_write is None:
            return 0.0
        return max(0.0, last_write + self.write_spacing - now)


def is_local(api_url: str) -> bool:
    """Whether the forge runs on this machine (the sandbox)."""
    host = urlparse(api_url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


_NAMED = {"github": Pacing.github, "local": Pacing.local}


def for_api(api_url: str, env: Mapping[str, str] | None = None) -> Pacing:
    """The policy for `api_url`: `local` for a forge on this machine, else `github`;
    `RELEASE_TRAIN_PACING=github|local` in `env` overrides it (benchmarks measure the sandbox
    paced as github.com would be)."""
    override = (env or {}).get(PACING_VARIABLE, "").strip().lower()
    if override:
        if override not in _NAMED:
            raise ConfigProblem(
                f"{PACING_VARIABLE}={override!r} is not a pacing policy: "
                f"set it to one of {', '.join(sorted(_NAMED))}, or unset it",
                PACING_VARIABLE,
                override,
            )
        return _NAMED[override]()
    return Pacing.local() if is_local(api_url) else Pacing.github()
