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
    reasons: list[str] = []
    if state != "open":
        reasons.append(f"the pull request is {state}")
    if expected_head and head_sha != expected_head:
        reasons.append(
            f"the head moved from {expected_head[:12]} to {head_sha[:12]}; run up again to "
            "review the new head"
        )
    # Check runs carry the commit they ran on; a run of another (older) head says nothing
    # about this one. Statuses are read per commit and carry no SHA.
    runs = [run for run in check_runs if run.get("head_sha") in (None, head_sha)]
    seen = check_states(statuses, runs)
    _, check_reasons = checks_green(required_checks, seen)
    reasons.extend(f"check {reason} on {head_sha[:12]}" for reason in check_reasons)
    approval = approvals(reviews, reviewers, required_approvals, head_sha)
    for login in approval.blocked_by:
        reasons.append(f"{login} requested changes")
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
    if mergeable is False:
        reasons.append("the pull request cannot be merged cleanly (conflict)")
    return MergeGate(head_sha, required_states(required_checks, seen), approval, tuple(reasons))
