"""The gates a commit or a pull request must pass: required checks and approvals.

Pure functions over the plain dicts the forge returns (commit statuses, check runs,
reviews), so the rules are tested without a server. The rules follow the forge's own:
the newest status per context and the newest check run per name count; a neutral or
skipped check run passes; anything not finished is pending; a required check that never
reported is missing. An approval counts only from a configured reviewer, only on the
current head, and a later "changes requested" from a reviewer blocks. A reviewer named in
`must_approve` (the oncall partner of the week, release/rules/rotation.py) must be among the
approvers, whatever the count: an approval from anyone else, last week's partner included,
does not stand in for theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SUCCESS, PENDING, FAILURE, MISSING = "success", "pending", "failure", "missing"
_RANK = {SUCCESS: 0, PENDING: 1, MISSING: 2, FAILURE: 3}
_PASSING_CONCLUSIONS = {"success", "neutral", "skipped"}


def _status_state(state: str) -> str:
    if state == "success":
        return SUCCESS
    if state in ("failure", "error"):
        return FAILURE
    return PENDING


def _check_run_state(run: Mapping[str, Any]) -> str:
    if run.get("status") != "completed":
        return PENDING
    return SUCCESS if run.get("conclusion") in _PASSING_CONCLUSIONS else FAILURE


def _order_key(item: Mapping[str, Any]) -> tuple[str, int]:
    stamp = item.get("updated_at") or item.get("completed_at") or item.get("started_at") or ""
    stamp = item.get("created_at") or stamp
    return (str(stamp), int(item.get("id") or 0))


def _run_order_key(run: Mapping[str, Any]) -> tuple[int, str]:
    # The newest check run is the one created last (ids only grow). Its completion time says
    # nothing: a re-run still in progress replaces an earlier run that finished after it began.
    return (int(run.get("id") or 0), str(run.get("started_at") or ""))


def check_states(
    statuses: Iterable[Mapping[str, Any]], check_runs: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """Each check name seen on a commit with its state (success/pending/failure).

    A name reported both as a commit status and as a check run takes the worse state.
    """
    latest_status: dict[str, Mapping[str, Any]] = {}
    for status in statuses:
        name = str(status.get("context", ""))
        if name not in latest_status or _order_key(status) > _order_key(latest_status[name]):
            latest_status[name] = status
    latest_run: dict[str, Mapping[str, Any]] = {}
    for run in check_runs:
        name = str(run.get("name", ""))
        if name not in latest_run or _run_order_key(run) > _run_order_key(latest_run[name]):
            latest_run[name] = run
    states: dict[str, str] = {}
    for name, status in latest_status.items():
        states[name] = _status_state(str(status.get("state", "")))
    for name, run in latest_run.items():
        state = _check_run_state(run)
        states[name] = max(states.get(name, SUCCESS), state, key=_RANK.__getitem__)
    return states


def required_states(required: Sequence[str], seen: Mapping[str, str]) -> dict[str, str]:
    """The state of each required check; with none required, every check seen is required."""
    if not required:
        return dict(seen)
    return {name: seen.get(name, MISSING) for name in required}


def checks_green(required: Sequence[str], seen: Mapping[str, str]) -> tuple[bool, list[str]]:
    """Whether the required checks all passed, and a reason for each one that did not."""
    states = required_states(required, seen)
    if not states:
        return False, ["no checks reported"]
    reasons = [f"{name} is {state}" for name, state in sorted(states.items()) if state != SUCCESS]
    return not reasons, reasons


@dataclass(frozen=True)
class ApprovalResult:
    approved_by: tuple[str, ...]
    blocked_by: tuple[str, ...]
    missing: int

    @property
    def ok(self) -> bool:
        return self.missing == 0 and not self.blocked_by


def approvals(
    reviews: Iterable[Mapping[str, Any]],
    reviewers: Sequence[str],
    required: int,
    head_sha: str,
) -> ApprovalResult:
    """Count approvals of `head_sha` by configured reviewers (latest review per reviewer)."""
    allowed = {r.lower() for r in reviewers}
    latest: dict[str, Mapping[str, Any]] = {}
    for review in reviews:
        login = str((review.get("user") or {}).get("login", "")).lower()
        state = review.get("state")
        if login not in allowed or state in ("COMMENTED", "PENDING"):
            continue
        if login not in latest or _order_key_review(review) > _order_key_review(latest[login]):
            latest[login] = review
    approved = sorted(
        login
        for login, review in latest.items()
        if review.get("state") == "APPROVED" and review.get("commit_id") == head_sha
    )
    blocked = sorted(
        login for login, review in latest.items() if review.get("state") == "CHANGES_REQUESTED"
    )
    return ApprovalResult(tuple(approved), tuple(blocked), max(0, required - len(approved)))


def _order_key_review(review: Mapping[str, Any]) -> tuple[str, int]:
    return (str(review.get("submitted_at") or ""), int(review.get("id") or 0))


@dataclass(frozen=True)
class MergeGate:
    """Whether a pull request may be merged now, and if not, exactly why."""

    head_sha: str
    checks: Mapping[str, str]
    approval: ApprovalResult
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


def _pull_reasons(state: str, head_sha: str, expected_head: str | None) -> list[str]:
    """Why the pull request itself is off: not open, or its head moved under the review."""
    reasons: list[str] = []
    if state != "open":
        reasons.append(f"the pull request is {state}")
    if expected_head and head_sha != expected_head:
        reasons.append(
            f"the head moved from {expected_head[:12]} to {head_sha[:12]}; run up again to "
            "review the new head"
        )
    return reasons


def _approval_reasons(
    approval: ApprovalResult, reviewers: Sequence[str], must_approve: Sequence[str], head_sha: str
) -> list[str]:
    """The approvals owed: each blocking reviewer, each required reviewer by name (the oncall
    partner), then how many more approvals of anyone configured."""
    reasons = [f"{login} requested changes" for login in approval.blocked_by]
    # The required reviewers first: their approval is named, not only counted.
    owed = [w for w in must_approve if w.lower() not in approval.approved_by]
    for login in owed:
        if login.lower() not in approval.blocked_by:
            reasons.append(
                f"needs the approval of {head_sha[:12]} by {login}, the oncall partner "
                "(no other approval counts instead)"
            )
    more = approval.missing - len(owed)
    if more > 0:
        named = {w.lower() for w in owed}
        waiting = [
            r for r in reviewers if r.lower() not in approval.approved_by and r.lower() not in named
        ]
        reasons.append(
            f"needs {more} more approval(s) of {head_sha[:12]} from "
            f"{', '.join(waiting) or 'a configured reviewer'}"
        )
    return reasons


def merge_gate(
    *,
    head_sha: str,
    expected_head: str | None,
    required_checks: Sequence[str],
    statuses: Iterable[Mapping[str, Any]],
    check_runs: Iterable[Mapping[str, Any]],
    reviews: Iterable[Mapping[str, Any]],
    reviewers: Sequence[str],
    required_approvals: int,
    state: str = "open",
    mergeable: bool | None = True,
    must_approve: Sequence[str] = (),
) -> MergeGate:
    """Decide a merge. Every reason names the check, the reviewer or the head that is off."""
    reasons = _pull_reasons(state, head_sha, expected_head)
    # Check runs carry the commit they ran on; a run of another (older) head says nothing
    # about this one. Statuses are read per commit and carry no SHA.
    runs = [run for run in check_runs if run.get("head_sha") in (None, head_sha)]
    seen = check_states(statuses, runs)
    _, check_reasons = checks_green(required_checks, seen)
    reasons.extend(f"check {reason} on {head_sha[:12]}" for reason in check_reasons)
    approval = approvals(reviews, reviewers, required_approvals, head_sha)
    reasons.extend(_approval_reasons(approval, reviewers, must_approve, head_sha))
    if mergeable is False:
        reasons.append("the pull request cannot be merged cleanly (conflict)")
    return MergeGate(head_sha, required_states(required_checks, seen), approval, tuple(reasons))


UNREAD = "unread"  # a check of a gate decided without reading the checks (`opened_gate`)
JUST_OPENED = "the pull request was just opened"


def approval_required(required_approvals: int, must_approve: Sequence[str]) -> bool:
    """Whether the gate needs at least one approval (then a pull request nobody could have
    reviewed yet cannot pass it, whatever its checks say)."""
    return required_approvals > 0 or bool(must_approve)


def opened_gate(
    *,
    head_sha: str,
    expected_head: str | None,
    required_checks: Sequence[str],
    reviewers: Sequence[str],
    required_approvals: int,
    state: str = "open",
    mergeable: bool | None = None,
    must_approve: Sequence[str] = (),
) -> MergeGate:
    """The gate of a pull request this very run opened, decided without reading its checks or
    its reviews: it cannot have an approval yet, so when one is required the gate is closed.

    The reasons say what it waits for all the same: each approval owed (worded as
    `merge_gate` words it, with why no review was read) and each required check that must
    pass on the head, named from the configuration and said to be not read (not "missing":
    CI may already have reported). Raises ValueError when no approval is required (such a
    gate could be open: read it)."""
    if not approval_required(required_approvals, must_approve):
        raise ValueError("no approval is required: the gate could be open, read its checks")
    reasons = _pull_reasons(state, head_sha, expected_head)
    short = head_sha[:12]
    if required_checks:
        reasons.extend(
            f"check {name} must pass on {short} (not read yet: {JUST_OPENED})"
            for name in sorted(required_checks)
        )
    else:
        reasons.append(
            f"check results on {short} not read yet ({JUST_OPENED}): every check reported must pass"
        )
    approval = approvals([], reviewers, required_approvals, head_sha)
    reasons.extend(
        f"{reason}: {JUST_OPENED} by this run, nobody has reviewed it yet"
        for reason in _approval_reasons(approval, reviewers, must_approve, head_sha)
    )
    if mergeable is False:
        reasons.append("the pull request cannot be merged cleanly (conflict)")
    checks = dict.fromkeys(required_checks, UNREAD)
    return MergeGate(head_sha, checks, approval, tuple(reasons))
