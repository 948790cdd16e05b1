"""The forge memo under the real engine (release/rules/memo.py): the answers that never change
are kept in the stack's state (the `forgeMemo` output) and not read again by the next run, by
the merging run after a run held at the gate and by a no-op re-run; what can change (a fix
landing on the running release) is still read and stops the promotion."""

from __future__ import annotations

import json

import pytest
from pulumi import automation as auto

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
