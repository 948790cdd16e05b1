"""What production may promote: only the release staging runs, merged, after its soak.

Pure: from staging's record (its release, head, state and the day its pull request merged),
the target `release promote production` resolved (options included) and today's date. Each
rule that refuses is named, so that `--force` can say every rule it overrides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from release.rules.cadence import Freeze, freeze_check, freeze_message


@dataclass(frozen=True)
class Staged:
    """The release staging runs, as its stack and the forge record it."""

    branch: str | None
    head: str | None
    state: str | None
    merged_on: dt.date | None  # the day staging's pull request merged (the soak's start)


@dataclass(frozen=True)
class Refusal:
    """One rule that stops a promotion: its name (for --force) and why."""

    rule: str
    message: str


def staged_refusal(branch: str, commit: str, staged: Staged) -> Refusal | None:
    """Is `branch` at `commit` the release staging merged? --date and --commit cannot change it."""
    if not staged.branch or staged.state != "merged":
        what = f"{staged.branch} is {staged.state or 'not merged'}" if staged.branch else "none"
        return Refusal(
            "staged",
            f"{branch} was never merged into staging (staging's release: {what}); "
            "promote staging first",
        )
    if branch != staged.branch:
        return Refusal(
            "staged",
            f"{branch} is not the release staging runs ({staged.branch}); "
            "production promotes only that one",
        )
    if staged.head and commit != staged.head:
        return Refusal(
            "staged",
            f"{commit[:12]} is not the head staging merged for {branch} "
            f"({staged.head[:12]}); production promotes only that commit",
        )
    return None


def soak_refusal(
    branch: str, staged: Staged, today: dt.date, min_soak_days: int, is_staged: bool
) -> Refusal | None:
    """Has `branch` soaked on staging for `min_soak_days`, counted from its staging merge?"""
    if min_soak_days <= 0:
        return None
    if not is_staged or staged.merged_on is None:
        return Refusal(
            "soak",
            f"{branch} has no staging merge to count a soak from (minimum {min_soak_days} "
            f"day{'s' if min_soak_days != 1 else ''})",
        )
    days = (today - staged.merged_on).days
    if days >= min_soak_days:
        return None
    ready = staged.merged_on + dt.timedelta(days=min_soak_days)
    plural = "s" if days != 1 else ""
    return Refusal(
        "soak",
        f"{branch} has soaked on staging for only {days} day{plural} since its staging merge "
        f"on {staged.merged_on.isoformat()}; the minimum is {min_soak_days} "
        f"(ready on {ready.isoformat()})",
    )


def promotion_refusals(
    branch: str | None,
    commit: str | None,
    today: dt.date,
    freezes: tuple[Freeze, ...] | list[Freeze],
    staged: Staged | None = None,
    min_soak_days: int = 0,
) -> list[Refusal]:
    """Every rule that refuses this promotion today, in a fixed order (freeze, staged, soak).

    `staged` is given for the stack that promotes staging's release (production); None for
    the others, which only a freeze holds.
    """
    refusals = []
    freeze = freeze_check(today, freezes)
    if freeze:
        refusals.append(Refusal("freeze", freeze_message(freeze)))
    if staged is not None and branch is not None and commit is not None:
        unstaged = staged_refusal(branch, commit, staged)
        if unstaged:
            refusals.append(unstaged)
        soak = soak_refusal(branch, staged, today, min_soak_days, unstaged is None)
        if soak:
            refusals.append(soak)
    return refusals


def force_text(refusals: list[Refusal], reason: str) -> str:
    """What `--force` overrides, every rule by name, and why: shown and kept in history."""
    rules = ", ".join(r.rule for r in refusals)
    why = " ".join(reason.replace("|", "/").split())  # one line; "|" ends a history summary
    return f"--force overrides {rules}: {why}"
