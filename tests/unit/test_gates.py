"""The merge gate's rules on plain data shaped like the forge's responses: commit statuses,
check runs and reviews, and the reasons a refusal gives."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from release.rules.gates import (
    FAILURE,
    MISSING,
    PENDING,
    SUCCESS,
    UNREAD,
    approvals,
    check_states,
    checks_green,
    merge_gate,
    opened_gate,
    required_states,
)

HEAD = "a" * 40
OLD = "b" * 40
OLDER = "c" * 40
_ids = itertools.count(1000)


def at(second: int) -> str:
    return f"2026-11-26T10:{second // 60:02d}:{second % 60:02d}Z"


def status(context: str, state: str, second: int = 0, id: int | None = None) -> dict[str, Any]:
    return {
        "id": next(_ids) if id is None else id,
        "context": context,
        "state": state,
        "created_at": at(second),
        "updated_at": at(second),
    }


def run(
    name: str,
    conclusion: str | None = "success",
    second: int = 0,
    *,
    status: str | None = None,
    head_sha: str = HEAD,
    completed: int | None = None,
    id: int | None = None,
) -> dict[str, Any]:
    state = status or ("completed" if conclusion else "in_progress")
    done = state == "completed"
    return {
        "id": next(_ids) if id is None else id,
        "name": name,
        "head_sha": head_sha,
        "status": state,
        "conclusion": conclusion if done else None,
        "started_at": at(second),
        "completed_at": at(second if completed is None else completed) if done else None,
    }


def review(
    login: str, state: str, commit_id: str = HEAD, second: int = 0, id: int | None = None
) -> dict[str, Any]:
    return {
        "id": next(_ids) if id is None else id,
        "user": {"login": login},
        "state": state,
        "commit_id": commit_id,
        "submitted_at": at(second),
    }


def gate(**over: Any):
    args: dict[str, Any] = {
        "head_sha": HEAD,
        "expected_head": HEAD,
        "required_checks": ["ci/travis", "test"],
        "statuses": [status("ci/travis", "success", 1)],
        "check_runs": [run("test", "success", 2)],
        "reviews": [review("oncall-partner", "APPROVED", HEAD, 3)],
        "reviewers": ["oncall-partner"],
        "required_approvals": 1,
    }
    args.update(over)
    return merge_gate(**args)


# -- commit statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [("success", SUCCESS), ("failure", FAILURE), ("error", FAILURE), ("pending", PENDING)],
)
def test_status_states(state: str, expected: str) -> None:
    assert check_states([status("ci/travis", state)], []) == {"ci/travis": expected}


def test_newest_status_per_context_wins_in_any_order() -> None:
    reports = [
        status("ci/travis", "pending", 1),
        status("ci/travis", "failure", 2),
        status("ci/travis", "success", 3),
        status("lint", "success", 1),
        status("lint", "error", 5),
    ]
    for _ in range(10):
        random.shuffle(reports)
        assert check_states(reports, []) == {"ci/travis": SUCCESS, "lint": FAILURE}


def test_statuses_in_the_same_second_are_ordered_by_id() -> None:
    first = status("ci/travis", "success", 7, id=10)
    second = status("ci/travis", "failure", 7, id=11)
    assert check_states([second, first], []) == {"ci/travis": FAILURE}
    assert check_states([first, second], []) == {"ci/travis": FAILURE}


def test_newer_failure_after_success_fails() -> None:
    assert check_states([status("t", "success", 1), status("t", "error", 2)], []) == {"t": FAILURE}


# -- check runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_status", "conclusion", "expected"),
    [
        ("queued", None, PENDING),
        ("in_progress", None, PENDING),
        ("waiting", None, PENDING),
        ("completed", "success", SUCCESS),
        ("completed", "neutral", SUCCESS),
        ("completed", "skipped", SUCCESS),
        ("completed", "failure", FAILURE),
        ("completed", "cancelled", FAILURE),
        ("completed", "timed_out", FAILURE),
        ("completed", "action_required", FAILURE),
        ("completed", "stale", FAILURE),
    ],
)
def test_check_run_states(run_status: str, conclusion: str | None, expected: str) -> None:
    assert check_states([], [run("test", conclusion, status=run_status)]) == {"test": expected}


def test_a_rerun_replaces_the_earlier_run() -> None:
    old = run("test", "failure", 1)
    new = run("test", "success", 5)
    assert check_states([], [new, old]) == {"test": SUCCESS}
    rerun = run("test", None, 9)  # re-requested, in progress
    assert check_states([], [old, new, rerun]) == {"test": PENDING}


def test_a_rerun_still_running_wins_over_an_earlier_run_that_finished_later() -> None:
    """The newest run is the one created last, not the one that completed last."""
    slow = run("test", "success", 1, completed=30)
    rerun = run("test", None, 10)
    assert check_states([], [slow, rerun]) == {"test": PENDING}
    assert check_states([], [rerun, slow]) == {"test": PENDING}


@pytest.mark.parametrize(
    ("status_state", "run_conclusion", "expected"),
    [
        ("success", "success", SUCCESS),
        ("success", "failure", FAILURE),
        ("failure", "success", FAILURE),
        ("error", "neutral", FAILURE),
        ("pending", "success", PENDING),
        ("success", None, PENDING),
        ("failure", None, FAILURE),
    ],
)
def test_a_name_reported_as_status_and_check_run_takes_the_worse(
    status_state: str, run_conclusion: str | None, expected: str
) -> None:
    reports = check_states([status("test", status_state)], [run("test", run_conclusion)])
    assert reports == {"test": expected}


# -- required checks -------------------------------------------------------------------------------


def test_required_check_missing() -> None:
    seen = {"ci/travis": SUCCESS, "lint": FAILURE}
    assert required_states(["ci/travis", "test"], seen) == {"ci/travis": SUCCESS, "test": MISSING}
    ok, reasons = checks_green(["ci/travis", "test"], seen)
    assert not ok and reasons == ["test is missing"]


def test_checks_that_are_not_required_do_not_matter() -> None:
    assert checks_green(["ci/travis"], {"ci/travis": SUCCESS, "lint": FAILURE}) == (True, [])


def test_with_no_required_checks_every_check_seen_must_pass() -> None:
    assert checks_green([], {"a": SUCCESS, "b": SUCCESS}) == (True, [])
    assert checks_green([], {"a": SUCCESS, "b": PENDING}) == (False, ["b is pending"])
    assert checks_green([], {}) == (False, ["no checks reported"])


def test_every_failing_required_check_has_its_reason() -> None:
    ok, reasons = checks_green(["a", "b", "c", "d"], {"a": SUCCESS, "b": FAILURE, "c": PENDING})
    assert not ok
    assert reasons == ["b is failure", "c is pending", "d is missing"]


# -- approvals -------------------------------------------------------------------------------------


def test_approval_by_a_configured_reviewer_on_the_head() -> None:
    result = approvals([review("oncall-partner", "APPROVED")], ["oncall-partner"], 1, HEAD)
    assert result.ok and result.approved_by == ("oncall-partner",) and result.missing == 0


def test_approval_by_someone_else_does_not_count() -> None:
    result = approvals([review("random-dev", "APPROVED")], ["oncall-partner"], 1, HEAD)
    assert not result.ok and result.approved_by == () and result.missing == 1


def test_stale_approval_on_an_older_head_does_not_count() -> None:
    result = approvals([review("oncall-partner", "APPROVED", OLD)], ["oncall-partner"], 1, HEAD)
    assert not result.ok and result.missing == 1


def test_a_later_changes_requested_blocks() -> None:
    reviews = [
        review("oncall-partner", "APPROVED", HEAD, 1),
        review("second", "APPROVED", HEAD, 2),
        review("oncall-partner", "CHANGES_REQUESTED", HEAD, 3),
    ]
    result = approvals(reviews, ["oncall-partner", "second"], 1, HEAD)
    assert not result.ok
    assert result.blocked_by == ("oncall-partner",)
    assert result.approved_by == ("second",)


def test_changes_requested_on_an_older_head_still_blocks() -> None:
    reviews = [review("oncall-partner", "CHANGES_REQUESTED", OLD, 1)]
    result = approvals(reviews, ["oncall-partner", "second"], 0, HEAD)
    assert not result.ok and result.blocked_by == ("oncall-partner",)


def test_an_approval_after_changes_requested_unblocks() -> None:
    reviews = [
        review("oncall-partner", "APPROVED", HEAD, 9),
        review("oncall-partner", "CHANGES_REQUESTED", OLD, 1),
    ]
    assert approvals(reviews, ["oncall-partner"], 1, HEAD).ok


def test_changes_requested_by_someone_else_does_not_block() -> None:
    reviews = [review("oncall-partner", "APPROVED", HEAD, 1), review("dev", "CHANGES_REQUESTED")]
    assert approvals(reviews, ["oncall-partner"], 1, HEAD).ok


def test_a_dismissed_approval_does_not_count() -> None:
    # GitHub turns the dismissed review's own state into DISMISSED.
    reviews = [review("oncall-partner", "DISMISSED", HEAD, 1)]
    result = approvals(reviews, ["oncall-partner"], 1, HEAD)
    assert not result.ok and result.approved_by == () and result.blocked_by == ()


def test_a_dismissed_latest_review_hides_an_earlier_approval() -> None:
    reviews = [
        review("oncall-partner", "APPROVED", HEAD, 1),
        review("oncall-partner", "DISMISSED", HEAD, 2),
    ]
    assert not approvals(reviews, ["oncall-partner"], 1, HEAD).ok


def test_a_comment_after_an_approval_keeps_it() -> None:
    reviews = [
        review("oncall-partner", "APPROVED", HEAD, 1),
        review("oncall-partner", "COMMENTED", HEAD, 2),
        review("oncall-partner", "PENDING", HEAD, 3),
    ]
    assert approvals(reviews, ["oncall-partner"], 1, HEAD).approved_by == ("oncall-partner",)


def test_logins_compare_without_case() -> None:
    result = approvals([review("OnCall-Partner", "APPROVED")], ["oncall-PARTNER"], 1, HEAD)
    assert result.ok and result.approved_by == ("oncall-partner",)


def test_reviews_in_the_same_second_are_ordered_by_id() -> None:
    reviews = [
        review("oncall-partner", "CHANGES_REQUESTED", HEAD, 5, id=2),
        review("oncall-partner", "APPROVED", HEAD, 5, id=1),
    ]
    assert not approvals(reviews, ["oncall-partner"], 1, HEAD).ok
    assert approvals(list(reversed(reviews)), ["oncall-partner"], 0, HEAD).blocked_by


def test_two_approvals_needed_counts_distinct_reviewers() -> None:
    reviews = [
        review("alice", "APPROVED", HEAD, 1),
        review("alice", "APPROVED", HEAD, 2),
        review("ghost-user", "APPROVED", HEAD, 3),
    ]
    result = approvals(reviews, ["alice", "bob"], 2, HEAD)
    assert result.approved_by == ("alice",) and result.missing == 1
    assert approvals([*reviews, review("bob", "APPROVED", HEAD, 4)], ["alice", "bob"], 2, HEAD).ok


def test_a_review_from_a_deleted_user_is_ignored() -> None:
    ghost = {"id": 1, "user": None, "state": "APPROVED", "commit_id": HEAD, "submitted_at": at(1)}
    assert not approvals([ghost], ["oncall-partner"], 1, HEAD).ok


def test_no_approvals_required() -> None:
    assert approvals([], ["oncall-partner"], 0, HEAD).ok
    assert approvals([], [], 0, HEAD).ok


# -- the merge gate --------------------------------------------------------------------------------


def test_open_gate() -> None:
    result = gate()
    assert result.ok and result.reasons == ()
    assert result.checks == {"ci/travis": SUCCESS, "test": SUCCESS}
    assert result.approval.approved_by == ("oncall-partner",)


def test_reason_names_the_red_check_and_the_head() -> None:
    result = gate(check_runs=[run("test", "failure", 2)])
    assert not result.ok
    assert result.reasons == (f"check test is failure on {HEAD[:12]}",)


def test_reason_names_the_pending_and_the_missing_check() -> None:
    result = gate(statuses=[status("ci/travis", "pending")], check_runs=[])
    assert result.reasons == (
        f"check ci/travis is pending on {HEAD[:12]}",
        f"check test is missing on {HEAD[:12]}",
    )


def test_reason_names_the_reviewer_whose_approval_is_missing() -> None:
    result = gate(reviews=[review("someone", "APPROVED")])
    assert result.reasons == (f"needs 1 more approval(s) of {HEAD[:12]} from oncall-partner",)


def test_reason_names_the_reviewer_who_requested_changes() -> None:
    result = gate(
        reviews=[
            review("oncall-partner", "APPROVED", HEAD, 1),
            review("Oncall-Partner", "CHANGES_REQUESTED", HEAD, 2),
        ]
    )
    assert "oncall-partner requested changes" in result.reasons
    assert any("needs 1 more approval" in r for r in result.reasons)


def test_only_reviewers_still_to_approve_are_named() -> None:
    result = gate(
        reviewers=["alice", "Bob", "carol"],
        required_approvals=2,
        reviews=[review("bob", "APPROVED")],
    )
    assert result.reasons == (f"needs 1 more approval(s) of {HEAD[:12]} from alice, carol",)


def test_stale_approval_names_the_new_head() -> None:
    result = gate(reviews=[review("oncall-partner", "APPROVED", OLD)])
    assert result.reasons == (f"needs 1 more approval(s) of {HEAD[:12]} from oncall-partner",)


def test_reason_names_the_moved_head() -> None:
    result = gate(expected_head=OLD)
    assert not result.ok
    assert result.reasons[0].startswith(f"the head moved from {OLD[:12]} to {HEAD[:12]}")
    assert "run up again" in result.reasons[0]


def test_no_pinned_head_means_no_move() -> None:
    assert gate(expected_head=None).ok


def test_closed_or_conflicting_pull_request() -> None:
    assert gate(state="closed").reasons == ("the pull request is closed",)
    assert gate(mergeable=False).reasons == (
        "the pull request cannot be merged cleanly (conflict)",
    )
    assert gate(mergeable=None).ok  # the forge has not computed it yet; the merge call decides


def test_check_runs_of_another_head_do_not_count() -> None:
    """Only reports on the pull request's current head count, even if handed more."""
    result = gate(check_runs=[run("test", "success", 2, head_sha=OLD)])
    assert result.reasons == (f"check test is missing on {HEAD[:12]}",)
    result = gate(
        check_runs=[run("test", "success", 2, head_sha=HEAD), run("test", None, 9, head_sha=OLD)]
    )
    assert result.ok


def test_every_problem_at_once_is_listed() -> None:
    result = gate(
        expected_head=OLD,
        statuses=[status("ci/travis", "error")],
        check_runs=[],
        reviews=[review("oncall-partner", "CHANGES_REQUESTED", OLDER)],
        state="closed",
        mergeable=False,
    )
    text = "\n".join(result.reasons)
    for needle in (
        "is closed",
        "head moved",
        "ci/travis is failure",
        "test is missing",
        "oncall-partner requested changes",
        "needs 1 more approval",
        "conflict",
    ):
        assert needle in text
    assert len(result.reasons) == 7


def test_gate_with_no_required_checks_needs_some_check() -> None:
    result = gate(required_checks=[], statuses=[], check_runs=[])
    assert result.reasons == (f"check no checks reported on {HEAD[:12]}",)


# -- the oncall partner (must_approve) ---------------------------------------------------------


def test_the_partners_approval_opens_the_gate():
    result = gate(
        reviewers=["alice"], reviews=[review("alice", "APPROVED")], must_approve=["alice"]
    )
    assert result.ok and result.approval.approved_by == ("alice",)


def test_last_weeks_partner_does_not_count_for_this_weeks():
    # Last week's partner (dana) approved; this week's (alice) has not: dana is no reviewer.
    result = gate(reviewers=["alice"], reviews=[review("dana", "APPROVED")], must_approve=["alice"])
    assert not result.ok
    assert result.reasons == (
        f"needs the approval of {HEAD[:12]} by alice, the oncall partner "
        "(no other approval counts instead)",
    )


def test_another_reviewers_approval_does_not_stand_in_for_the_partner():
    result = gate(
        reviewers=["alice", "lead"],
        reviews=[review("lead", "APPROVED")],
        required_approvals=1,
        must_approve=["alice"],
    )
    assert not result.ok and len(result.reasons) == 1 and "by alice" in result.reasons[0]


def test_the_partner_and_one_more_reviewer():
    both = [review("alice", "APPROVED"), review("lead", "APPROVED")]
    args = {
        "reviewers": ["alice", "lead", "ops"],
        "required_approvals": 2,
        "must_approve": ["alice"],
    }
    assert gate(reviews=both, **args).ok
    only_partner = gate(reviews=[review("alice", "APPROVED")], **args)
    assert only_partner.reasons == (f"needs 1 more approval(s) of {HEAD[:12]} from lead, ops",)
    neither = gate(reviews=[], **args)
    assert len(neither.reasons) == 2 and "by alice" in neither.reasons[0]
    assert neither.reasons[1] == f"needs 1 more approval(s) of {HEAD[:12]} from lead, ops"


def test_the_partners_old_approval_or_change_request_keeps_the_gate_closed():
    old = gate(
        reviewers=["alice"], reviews=[review("alice", "APPROVED", OLD)], must_approve=["alice"]
    )
    assert not old.ok and "by alice" in old.reasons[0]
    blocked = gate(
        reviewers=["alice"], reviews=[review("alice", "CHANGES_REQUESTED")], must_approve=["alice"]
    )
    assert blocked.reasons == ("alice requested changes",)


# -- a pull request this run just opened (nothing read) ---------------------------------------------


def opened(**over: Any):
    args: dict[str, Any] = {
        "head_sha": HEAD,
        "expected_head": HEAD,
        "required_checks": ["test", "ci/travis"],
        "reviewers": ["oncall-partner", "second"],
        "required_approvals": 1,
        "state": "open",
        "mergeable": None,
        "must_approve": ["oncall-partner"],
    }
    args.update(over)
    return opened_gate(**args)


def test_a_just_opened_pull_request_waits_for_the_partner_and_names_each_check() -> None:
    result = opened()
    assert not result.ok and result.checks == {"test": UNREAD, "ci/travis": UNREAD}
    assert result.approval.approved_by == () and result.approval.missing == 1
    assert result.reasons == (
        "check ci/travis must pass on aaaaaaaaaaaa (not read yet: the pull request was just opened)",
        "check test must pass on aaaaaaaaaaaa (not read yet: the pull request was just opened)",
        "needs the approval of aaaaaaaaaaaa by oncall-partner, the oncall partner (no other "
        "approval counts instead): the pull request was just opened by this run, nobody has "
        "reviewed it yet",
    )


def test_a_just_opened_pull_request_owes_every_approval_the_gate_owes() -> None:
    # As merge_gate words it with no review at all, each reason saying why none was read.
    unread = opened(required_approvals=2, must_approve=[]).reasons
    seen = gate(reviews=[], required_approvals=2, reviewers=["oncall-partner", "second"]).reasons
    assert [r for r in unread if "approval" in r] == [
        f"{r}: the pull request was just opened by this run, nobody has reviewed it yet"
        for r in seen
        if "approval" in r
    ]


def test_a_just_opened_pull_request_without_required_checks_says_every_check_must_pass() -> None:
    reasons = opened(required_checks=[]).reasons
    assert reasons[0].startswith("check results on aaaaaaaaaaaa not read yet")
    assert "every check reported must pass" in reasons[0]


def test_a_just_opened_pull_request_keeps_its_other_reasons() -> None:
    reasons = opened(expected_head=OLD, mergeable=False).reasons
    assert "the head moved from bbbbbbbbbbbb to aaaaaaaaaaaa" in reasons[0]
    assert reasons[-1] == "the pull request cannot be merged cleanly (conflict)"


def test_a_gate_without_required_approval_is_not_decided_unread() -> None:
    # It could be open: the checks must be read.
    with pytest.raises(ValueError, match="could be open"):
        opened(required_approvals=0, must_approve=[])


def test_no_reason_of_a_just_opened_pull_request_holds_the_separator() -> None:
    # Reasons travel joined by "; " (the engine's warning, `release status`'s `waiting`,
    # the workflow's summary splits them there): none may contain it.
    assert not [r for r in opened(required_checks=[], required_approvals=2).reasons if "; " in r]
    assert not [r for r in opened().reasons if "; " in r]
