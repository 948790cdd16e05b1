"""Day two under the real engine: cherry-pick, revert, rollback and abandon on staging."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pulumi import automation as auto

from release.cli.common import forge_session
from release.cli.promotion import collect_status
from release.engine import day_two
from tests.e2e.train import RELEASE_DATE, Train

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"
ACTOR = "oncall-e2e"


@pytest.fixture
def train(harness, seeded_sandbox, monkeypatch):
    monkeypatch.setenv("RELEASE_TRAIN_ACTOR", ACTOR)
    return Train.start(harness, seeded_sandbox, monkeypatch)


def through_gate(train: Train, env: str, step: Callable[[], object]) -> int:
    """Run a flow; when it waits at the merge gate (recorded in the stack's outputs), play CI
    and the partner, then up again, which merges."""
    step()
    values = train.outputs(env)
    waits = [g for g in (values.get("gate"), rollback_gate(values)) if g]
    if not any(g["state"] == "waiting" for g in waits):
        raise AssertionError(f"{env}: the gate let an unapproved pull request through")
    assert any("approval" in r for g in waits for r in g["reasons"]), waits
    number = train.approve(env)
    train.stack(env).up(on_output=train.harness_log)
    assert not [
        g
        for g in (train.outputs(env).get("gate"), rollback_gate(train.outputs(env)))
        if g and g["state"] == "waiting"
    ]
    return number


def rollback_gate(values: dict) -> dict | None:
    return ((values.get("dayTwo") or {}).get("rollback") or {}).get("gate")


def merged_prs(repo, head: str) -> list[int]:
    return sorted(
        p.number
        for p in repo.get_pulls(state="closed", base="staging")
        if p.merged and p.head.ref == head
    )


def test_pick_revert_rollback_and_abandon(train, monkeypatch):
    sb, repo = train.sandbox, train.repo()
    train.promote("testing")
    through_gate(train, "staging", lambda: train.promote("staging"))
    first_head = repo.get_branch(RELEASE).commit.sha
    staging_tree = repo.get_git_commit(repo.get_branch("staging").commit.sha).tree.sha

    # A master commit newer than the cut, picked with -x: one new commit, a new PR, merged.
    skipped = train.outputs("testing")["skipped"]
    pick = skipped[-1]["sha"]
    through_gate(
        train,
        "staging",
        lambda: day_two.cherry_pick(train.project, train.settings("staging"), [pick], by=ACTOR),
    )
    head = repo.get_branch(RELEASE).commit
    assert head.commit.parents[0].sha == first_head
    assert f"(cherry picked from commit {pick})" in head.commit.message
    assert len(merged_prs(repo, RELEASE)) == 2
    assert repo.get_branch("staging").commit.sha != staging_tree
    assert not [r for r in repo.get_git_matching_refs("heads/release-train/tmp/")]

    # Picking it again changes nothing and writes nothing.
    sb.reset_counters()
    again = day_two.cherry_pick(train.project, train.settings("staging"), [pick], by=ACTOR)
    assert {k: v for k, v in again.up.summary.resource_changes.items() if k != "same"} == {}
    assert sb.writes() == 0

    # A revert of the pick, PR'd and merged like a pick.
    picked = head.sha
    through_gate(
        train,
        "staging",
        lambda: day_two.revert(train.project, train.settings("staging"), picked, by=ACTOR),
    )
    reverted = repo.get_branch(RELEASE).commit
    assert f"This reverts commit {picked}." in reverted.commit.message
    assert reverted.commit.tree.sha == repo.get_git_commit(first_head).tree.sha

    # Rollback to the release before: staging gets that release's tree, through the gates.
    through_gate(
        train,
        "staging",
        lambda: day_two.rollback(
            train.project, train.settings("staging"), to="release/2026-11-19", by=ACTOR
        ),
    )
    earlier_tree = repo.get_git_commit(repo.get_branch("release/2026-11-19").commit.sha).tree.sha
    staging_head = repo.get_git_commit(repo.get_branch("staging").commit.sha)
    assert staging_head.tree.sha == earlier_tree
    assert len(staging_head.parents) == 2, "merged with a merge commit"
    with pytest.raises(day_two.DayTwoError, match="rolled back"):
        day_two.check_promote(train.project, train.settings("staging"), train.pin("staging"))

    # History: the pick waited at its gate, then landed; each row carries what it made.
    rows = day_two.history(train.project, "staging")
    pick_row = next(r for r in rows if r.kind == "pick")
    assert pick_row.result == "succeeded"
    assert (pick_row.outcome, pick_row.made) == ("landed", picked)
    back_row = next(r for r in rows if r.kind == "rollback")
    rollback_out = train.outputs("staging")["dayTwo"]["rollback"]
    assert back_row.commit == rollback_out["commit"] == back_row.made
    assert back_row.outcome == "landed" and back_row.merge_commit == staging_head.sha
    revert_row = next(r for r in rows if r.kind == "revert")
    assert revert_row.outcome == "landed" and revert_row.made == reverted.sha

    # One truth after the rollback: status, history and next week's plan say staging runs
    # release/2026-11-19's tree, restored by the rollback; the finished rollback is not
    # planned again (its resources leave the stack; its branch and PR stay).
    status = {row["environment"]: row for row in collect_status(train.project, live=False)}
    row = status["staging"]
    assert (row["release"], row["state"], row["rolledBackFrom"]) == (
        "release/2026-11-19",
        "rolled back",
        RELEASE,
    )
    assert row["mergeCommit"] == repo.get_branch("staging").commit.sha
    back = [r for r in day_two.history(train.project, "staging") if r.kind == "rollback"]
    assert back[0].release == "release/2026-11-19"
    ops: dict[str, str] = {}

    def on_event(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None:
            ops[pre.metadata.urn.rsplit("::", 1)[-1]] = str(pre.metadata.op.value)

    # (The revert names a commit of release/2026-11-26: the pin of another release leaves it
    # there, as `release promote` does.)
    pin = day_two.new_op("pin", commit=repo.get_branch("master").commit.sha, date="2026-11-27")
    extra = day_two.intent_env([pin])
    train.log.clear()
    train.stack("staging", extra).preview(on_output=train.harness_log, on_event=on_event)
    assert "staging runs release/2026-11-19 (restored by the rollback from" in train.transcript()
    assert "moved since its merge" not in train.transcript()
    # The pin of another release ends the rollback in the stack's record (its branch and PR
    # stay): its resources leave the stack, and nothing re-plans it.
    rollback_ops = {name: op for name, op in ops.items() if name.startswith("rollback-")}
    assert rollback_ops and set(rollback_ops.values()) == {"delete"}, rollback_ops

    # Abandon: the open PR is closed with a comment; no branch is deleted.
    next_day = train.pin("staging", "2026-11-27")
    day_two.check_promote(train.project, train.settings("staging"), next_day)  # as promote does
    waiting_up = train.promote("staging", "2026-11-27")
    assert "approval" in waiting_up.stdout
    open_pulls = [p for p in repo.get_pulls(state="open", base="staging")]
    assert len(open_pulls) == 1
    # One identity: with another user's GITHUB_TOKEN in the environment, the day-two
    # command still acts as the stack's token secret, like the promotion that opened the PR.
    monkeypatch.setenv("GITHUB_TOKEN", sb.reviewer_token)
    settings = train.settings("staging")
    session = forge_session(train.project, settings)
    day_two.abandon(train.project, settings, session, reason="a bad week", by=ACTOR)
    closed = repo.get_pull(open_pulls[0].number)
    assert closed.state == "closed" and not closed.merged
    comments = [c for c in closed.get_issue_comments() if "a bad week" in c.body]
    assert [c.user.login for c in comments] == [closed.user.login]
    branches = {b.name for b in repo.get_branches()}
    assert {"release/2026-11-27", RELEASE, "release/2026-11-19"} <= branches
    assert sb.forced_updates("acme/service") == []

    kinds = [row.kind for row in day_two.history(train.project, "staging")]
    for kind in ("promotion", "pick", "revert", "rollback"):
        assert kind in kinds, kinds
    assert {row.who for row in day_two.history(train.project, "staging")} >= {"oncall-e2e"}
