"""What `release abandon` decides before its first write (pure, on plain data).

The release to abandon is the one its open pull request names; one already merged is
rolled back instead. Where the stack goes back to is the record's business: the `abandon`
op (release/rules/intent.py) returns the record to the release pinned before it, another
release (another date), so two cuts sharing a commit are told apart. A stack with no
earlier release in its record (its first) has nothing to pin back to: its pins are removed
and the closed pull request is forgotten by the stack, so the next `promote` opens a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def plan_abandon(pull: Mapping[str, Any], env: str) -> str:
    """The release to abandon (its open pull request's head), or ValueError saying why there
    is nothing to abandon."""
    release, number = pull.get("head"), pull.get("number")
    if not release or not number:
        raise ValueError(f"{env} has no release pull request to abandon")
    if pull.get("state") == "merged":
        raise ValueError(
            f"{release} is already merged into {env}; roll it back instead (release rollback {env})"
        )
    return str(release)
