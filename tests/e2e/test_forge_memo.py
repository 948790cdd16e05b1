"""The forge memo under the real engine (release/rules/memo.py): the answers that never change
are kept in the stack's state (the `forgeMemo` output) and not read again by the next run, by
the merging run after a run held at the gate and by a no-op re-run; what can change (a fix
landing on the running release) is still read and stops the promotion."""

from __future__ import annotations

import json

import pytest
from pulumi import automation as auto

from release.program.planning import build_payload
from release.rules import memo as memos
from tests.e2e.harness import changes
from tests.e2e.train import Train

pytestmark = pytest.mark.e2e
RUNNING = "release/2026-11-19"  # what the seed's staging runs

# Reads that name a SHA's immutable content: compares, files at a commit, commits, listings.
KEPT_ROUTES = ("/compare/", "/contents/", "/git/commits/", "/commits?")


@pytest.fixture
def train(harness, seeded_sandbox, monkeypatch):
    return Train.start(harness, seeded_sandbox, monkeypatch)


def _kept_reads(sb) -> list[str]:
    return [s.path for s in sb.served() if s.key.startswith("GET") and _kept(s.path)]


def _kept(path: str) -> bool:
    return any(route in path for route in KEPT_ROUTES)


def test_the_merging_run_and_a_no_op_re_run_do_not_read_again_what_never_changes(train):
    sb = train.sandbox
    train.promote("testing")
    sb.reset_counters()
    held = train.promote("staging")
    assert "waits at the merge gate" in held.stdout
    first = set(_kept_reads(sb))
    assert len(first) >= 8  # the compares, the pins at both ends, the commit, the listing

    train.approve("staging")
    sb.reset_counters()
    train.promote("staging")
    assert train.outputs("staging")["state"] == "merged"
    again = [path for path in _kept_reads(sb) if path in first]
    assert again == [], again  # the held run's answers came from the state

    # The merge moved staging: the first re-run lists its new head once...
    sb.reset_counters()
    rerun = train.promote("staging")
    assert changes(rerun.summary.resource_changes) == {} and sb.writes() == 0
    assert sb.reads() <= 10 and len(_kept_reads(sb)) <= 2, sb.served()
    # ...and a re-run of an unchanged stack reads only the refs and the pull requests.
    sb.reset_counters()
    rerun = train.promote("staging")
    assert changes(rerun.summary.resource_changes) == {} and sb.writes() == 0
    assert _kept_reads(sb) == [], sb.served()
    assert sb.reads() <= 5, sb.served()

    text = train.outputs("staging")[memos.MEMO_OUTPUT]
    kept = json.loads(text)
    assert kept["v"] == memos.VERSION and kept["scope"].endswith("/repos/acme/service")
    assert kept["e"] and len(text) <= memos.MAX_BYTES + 200
    # every key names a commit by its full SHA (never a branch)
    assert all(memos.is_full_sha(name.split(":")[1]) for name in kept["e"]), sorted(kept["e"])


def test_a_fix_landing_on_the_running_release_between_runs_is_still_caught(train, commit_files):
    sb, repo = train.sandbox, train.repo()
    train.promote("testing")
    held = train.promote("staging")  # the lost-fix check passed and is kept
    assert "waits at the merge gate" in held.stdout
    assert any(
        name.startswith("lostfix:")
        for name in json.loads(train.outputs("staging")[memos.MEMO_OUTPUT])["e"]
    )
    fix = commit_files(repo, RUNNING, {"app/late_fix.py": "LATE = True\n"}, "Late fix on 11-19")
    sb.reset_counters()
    with pytest.raises(auto.CommandError) as stopped:
        train.promote("staging")
    message = str(stopped.value)
    assert "would be lost" in message and fix[:12] in message and "Late fix on 11-19" in message
    assert sb.writes() == 0


NEW = "release/2026-11-26"  # the release the seed's staging promotion cuts


def _reads_of(sb, sha: str) -> list[str]:
    """The compares and files read at `sha` (the merging run's reads about a head)."""
    return [
        s.path
        for s in sb.served()
        if s.key.startswith("GET")
        and sha in s.path
        and ("/compare/" in s.path or "/contents/" in s.path)
    ]


def test_the_merging_run_reads_nothing_the_ours_merge_made_known(train):
    """Run 0 made the ours-merge (parents [cut, running head], the cut's tree): that the cut
    is its ancestor, its payload and its pins are kept as what a read gives, and the merging
    run does not read them (nor the cut's commit twice in run 0)."""
    sb, repo = train.sandbox, train.repo()
    train.promote("testing")
    sb.reset_counters()
    held = train.promote("staging")
    assert "waits at the merge gate" in held.stdout
    served = sb.served()  # before this test's own reads
    out = train.outputs("staging")
    assert out["oursMerge"] is True
    head, cut = out["releaseHead"], out["releaseCommit"]
    merge = repo.get_git_commit(head)
    base = merge.parents[1].sha
    assert [p.sha for p in merge.parents] == [cut, base]
    assert merge.tree.sha == repo.get_git_commit(cut).tree.sha
    # Job 2: the cut's commit was read once, by the plan (the ours-merge took its tree).
    cut_reads = [
        s.path for s in served if s.path.startswith(f"/api/v3/repos/acme/service/git/commits/{cut}")
    ]
    assert len(cut_reads) == 1, cut_reads

    # What the memo says about the new head is what the forge answers, read afresh.
    kept = memos.Memo.load(out[memos.MEMO_OUTPUT], json.loads(out[memos.MEMO_OUTPUT])["scope"])
    assert kept.get(memos.memo_key("ancestor", cut, head), memos.is_bool) == (True, True)
    settings = train.settings("staging")
    fresh = build_payload(settings, repo, RUNNING, base, NEW, head, memos.Memo())
    derived = build_payload(settings, _Unread(), RUNNING, base, NEW, head, kept)
    assert derived == fresh and fresh.commits and fresh.pins
    assert "Describes head" in repo.get_pull(int(out["prNumber"])).body

    train.approve("staging")
    sb.reset_counters()
    train.promote("staging")
    assert train.outputs("staging")["state"] == "merged"
    assert _reads_of(sb, head) == [], sb.served()


class _Unread:
    """A repository that must not be read (every answer comes from the memo)."""

    requester = None  # one read in flight

    def __getattr__(self, name: str):
        raise AssertionError(f"read {name} although the memo has the answer")


def test_a_hotfix_pushed_on_the_release_branch_after_the_held_run_is_read_and_merged(
    train, commit_files
):
    """The memo knows the ours-merge head, not a commit pushed on top of it: the next run
    reads the compare and the pins at the new head and the payload lists the hotfix; an
    approval of the earlier head does not count, and once the new head is approved it is
    what merges (the gate never says "the head moved" for a commit on top of its head)."""
    sb, repo = train.sandbox, train.repo()
    train.promote("testing")
    held = train.promote("staging")
    assert "waits at the merge gate" in held.stdout
    before = train.outputs("staging")
    ours = before["releaseHead"]
    train.approve("staging")  # CI and the partner approve the ours-merge head
    fix = commit_files(repo, NEW, {"app/release_fix.py": "FIXED = True\n"}, "Fix on 11-26")
    assert repo.get_git_commit(fix).parents[0].sha == ours
    sb.reset_counters()
    train.promote("staging")
    after = train.outputs("staging")
    # Seen, and nothing merged: the gate wants the new head's checks and approval.
    writes = [s.key for s in sb.served() if not s.key.startswith("GET")]
    assert after["state"] == "open", after["gate"]
    assert writes == ["PATCH /repos/{owner}/{repo}/pulls/{number}"], writes  # the body
    assert after["releaseHead"] == fix, after["releaseHead"]
    reasons = after["gate"]["reasons"]
    assert any(fix[:12] in reason for reason in reasons), reasons
    assert not any("moved" in reason for reason in reasons), reasons
    read = _reads_of(sb, fix)
    assert any("/compare/" in path for path in read), sb.served()
    assert any("/contents/" in path for path in read), sb.served()
    summary = after["payloadSummary"]
    assert summary["head_sha"] == fix, summary
    assert summary["commits"] == before["payloadSummary"]["commits"] + 1, summary
    body = repo.get_pull(int(before["prNumber"])).body
    assert fix[:12] in body and "Fix on 11-26" in body, body
    train.approve("staging")
    train.promote("staging")
    merged = train.outputs("staging")
    assert merged["state"] == "merged", merged["gate"]
    assert merged["releaseHead"] == fix
    parents = [p.sha for p in repo.get_git_commit(merged["mergeCommit"]).parents]
    assert fix in parents, parents
