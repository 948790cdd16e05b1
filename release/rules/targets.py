"""What `release plan` and `release promote` would promote: the commit and the release date.

Pure: from the source stack's outputs and the command-line options. Staging takes testing's
green commit and names the release after the day of the cut; production takes the release
staging runs, under the same name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from release.rules.config import ConfigError, check_date, check_sha, release_date_of
from release.rules.errors import ConfigProblem


class TargetError(ConfigProblem):
    """Nothing to promote, or a bad option; the message says what to do."""


@dataclass(frozen=True)
class Target:
    commit: str
    release_date: dt.date
    reason: str

    @property
    def branch(self) -> str:
        return f"release/{self.release_date.isoformat()}"


def resolve_target(
    stack: str,
    promotes_from: str | None,
    source_outputs: Mapping[str, Any],
    commit: str | None,
    date: str | None,
    today: dt.date,
    how_to_pin: str = "pass --commit SHA",
) -> Target:
    """The commit and date to promote on `stack`; options win over the source stack.

    The `release` command line and the program's unpinned `pulumi up` both decide here, so
    they promote the same thing; `how_to_pin` is how the caller's user names a commit.
    """
    try:
        chosen_date = check_date("--date", date) if date else None
        chosen_commit = check_sha("--commit", commit.strip().lower()) if commit else None
    except ConfigError as err:
        raise TargetError(str(err).replace("config release-train:", "option ")) from None
    if promotes_from is None:
        raise TargetError(f"{stack} tracks its source branch; it promotes nothing")
    branch = source_outputs.get("releaseBranch")
    if branch:
        source_date = release_date_of(str(branch))
        head = source_outputs.get("releaseHead") or source_outputs.get("releaseCommit")
        if source_outputs.get("state") not in (None, "merged") and not chosen_commit:
            raise TargetError(
                f"{promotes_from}'s release {branch} is not merged yet "
                f"(state {source_outputs.get('state')}); promote {promotes_from} first"
            )
        if not head and not chosen_commit:
            raise TargetError(f"{promotes_from} runs no release yet; promote it first")
        return Target(
            chosen_commit or str(head),
            chosen_date or source_date or today,
            f"the release {promotes_from} runs ({branch})",
        )
    green = source_outputs.get("greenCommit")
    if not green and not chosen_commit:
        # A stack that never ran has no outputs at all; only the source stack records a
        # green commit, so say which is missing only when the outputs tell.
        missing = (
            "has no green commit recorded"
            if "greenCommit" in source_outputs
            else "has recorded nothing to promote yet"
        )
        raise TargetError(
            f"{promotes_from} {missing}; run `release promote {promotes_from}` first, "
            f"or {how_to_pin}"
        )
    reason = "--commit" if chosen_commit else f"{promotes_from}'s newest green commit"
    return Target(chosen_commit or str(green), chosen_date or today, reason)
