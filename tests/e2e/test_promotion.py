"""A weekly release under the real engine: testing -> staging -> production on the sandbox."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from release.cli.promotion import collect_status
from tests.e2e.harness import changes
from tests.e2e.train import RELEASE_DATE, Train, newest_green_by_hand

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"


@pytest.fixture
def train(harness, seeded_sandbox, monkeypatch):
    return Train.start(harness, seeded_sandbox, monkeypatch)


def test_weekly_release_through_the_gates(train):
    sb = train.sandbox
    repo = train.repo()

    # testing: the newest green commit, found with reads only.
    sb.reset_counters()
    train.promote("testing")
    green = train.outputs("testing")["greenCommit"]
    assert green == newest_green_by_hand(repo)
    assert sb.writes() == 0
    assert train.outputs("testing")["skipped"], "the seed's tip is red/pending"

    # staging preview names the commit and writes nothing to the forge.
    staging_before = repo.get_branch("staging").commit.sha
    sb.reset_counters()
    preview = train.plan("staging")
    assert sb.writes() == 0
    assert preview.change_summary.get("create", 0) >= 4
    assert green in train.transcript() and "ours-merge needed" in train.transcript()

    # staging up: cut, ours-merge, PR... and the merge waits for the partner: a recorded
    # state (the update succeeds, nothing is merged), said in one warning line.
    waiting_up = train.promote("staging")
    assert "waits at the merge gate" in waiting_up.stdout and "oncall-partner" in waiting_up.stdout
    gate = train.outputs("staging")["gate"]
    assert gate["state"] == "waiting" and train.outputs("staging").get("mergeCommit") is None
    assert any("needs 1 more approval" in r and "oncall-partner" in r for r in gate["reasons"])
    assert repo.get_branch("staging").commit.sha == staging_before
    pulls = [p for p in repo.get_pulls(state="open", base="staging") if p.head.ref == RELEASE]
    assert len(pulls) == 1
    release_head = repo.get_branch(RELEASE).commit.sha
    waiting = {row["environment"]: row for row in collect_status(train.project)}["staging"]
    assert f"#{pulls[0].number} waits" in waiting["waiting"]
    assert "oncall-partner" in waiting["waiting"]
    ours = repo.get_git_commit(release_head)
    assert ours.parents[0].sha == green and len(ours.parents) == 2
    assert ours.tree.sha == repo.get_git_commit(green).tree.sha

    # Once CI is green and the partner approved, the next up merges with a merge commit.
    number = train.approve("staging")
    assert number == pulls[0].number
    train.promote("staging")
    out = train.outputs("staging")
    assert out["state"] == "merged" and out["prNumber"] == number
    merge = repo.get_git_commit(out["mergeCommit"])
    assert [p.sha for p in merge.parents] == [staging_before, release_head]
    assert repo.get_branch("staging").commit.sha == merge.sha
    status = {row["environment"]: row for row in collect_status(train.project)}["staging"]
    assert (status["release"], status["state"], status["waiting"]) == (RELEASE, "merged", None)

    # Nothing to do: no change, no forge write.
    sb.reset_counters()
    again = train.promote("staging")
    assert changes(again.summary.resource_changes) == {}
    assert sb.writes() == 0

    # production takes the release staging runs, through the same gates.
    production_before = repo.get_branch("production").commit.sha
    waiting_up = train.promote("production")
    assert "approval" in waiting_up.stdout
    assert train.outputs("production")["gate"]["state"] == "waiting"
    train.approve("production")
    train.promote("production")
    prod = train.outputs("production")
    assert prod["releaseBranch"] == RELEASE and prod["state"] == "merged"
    merge = repo.get_git_commit(prod["mergeCommit"])
    assert [p.sha for p in merge.parents] == [production_before, release_head]
    assert sb.forced_updates("acme/service") == []
    assert RELEASE in [b.name for b in repo.get_branches()]


def test_lost_fix_stops_the_promotion_before_any_write(train, commit_files):
    sb = train.sandbox
    repo = train.repo()
    # A fix made on the running release and merged into staging, never onto master.
    fix = commit_files(
        repo, "release/2026-11-19", {"app/hotfix.py": "PATCHED = True\n"}, "Hotfix only on 11-19"
    )
    repo.merge("staging", "release/2026-11-19", "Merge the hotfix into staging")
    train.promote("testing")
    sb.reset_counters()
    with pytest.raises(auto.CommandError) as stopped:
        train.promote("staging")
    message = str(stopped.value)
    assert "would be lost" in message and fix[:12] in message and "Hotfix only on 11-19" in message
    assert sb.writes() == 0
    assert RELEASE not in [b.name for b in repo.get_branches()]


def test_bad_config_stops_before_any_write(train):
    sb = train.sandbox
    train.promote("testing")
    train.stack("staging").set_config("release-train:mergeMethod", auto.ConfigValue(value="squash"))
    sb.reset_counters()
    with pytest.raises(auto.CommandError) as stopped:
        train.promote("staging")
    assert "release-train:mergeMethod" in str(stopped.value)
    assert "only 'merge' is allowed" in str(stopped.value)
    assert sb.writes() == 0
