"""`release abandon`, decided before its first write (release/rules/abandon.py), and its
history row for a stack's first release, on plain data."""

from __future__ import annotations

import pytest

from release.rules.abandon import plan_abandon
from release.rules.history import rows, stamp
from release.rules.intent import EMPTY, apply_ops

NS = "release-train"
X, Y = "a" * 40, "b" * 40
PULL = {"head": "release/2026-12-03", "number": 9, "state": "open"}


def entry(version, date, commit, result="succeeded", kind="update", **extra):
    config = {f"{NS}:commit": commit, f"{NS}:releaseDate": date}
    config.update({f"{NS}:{k}": v for k, v in extra.items()})
    return {"version": version, "kind": kind, "result": result, "config": config}


def pin(commit, date):
    return {"op": "pin", "commit": commit, "date": date}


def test_two_cuts_sharing_a_commit_go_back_to_the_release_before_not_an_older_one():
    record = apply_ops(
        EMPTY, [pin(Y, "2026-11-19"), pin(X, "2026-11-26"), pin(X, "2026-12-03")], "staging"
    )
    assert plan_abandon(PULL, "staging") == "release/2026-12-03"
    back = apply_ops(record, [{"op": "abandon", "release": "release/2026-12-03"}], "staging")
    assert back.release == "release/2026-11-26" and back.commit == X


def test_a_stacks_first_release_has_nothing_to_pin_back_to():
    record = apply_ops(EMPTY, [pin(X, "2026-12-03")], "staging")
    back = apply_ops(record, [{"op": "abandon", "release": "release/2026-12-03"}], "staging")
    assert back.release is None and back.commit is None


def test_nothing_to_abandon_is_refused_before_any_write():
    with pytest.raises(ValueError, match="no release pull request"):
        plan_abandon({}, "staging")
    with pytest.raises(ValueError, match="release rollback staging"):
        plan_abandon({**PULL, "state": "merged"}, "staging")


def test_abandons_refresh_is_a_history_row():
    message = stamp("abandon", "abandon release/2026-12-03 on staging: bad cut", by="dana")
    history = [
        {**entry(1, "2026-12-03", X, result="failed"), "message": "", "start_time": 1},
        {"version": 2, "kind": "refresh", "result": "succeeded", "message": message, "config": {}},
        {"version": 3, "kind": "refresh", "result": "succeeded", "message": "", "config": {}},
    ]
    kinds = [(r.version, r.kind, r.who) for r in rows(history)]
    assert (2, "abandon", "dana") in kinds
    assert 3 not in [v for v, _k, _w in kinds]  # a plain refresh still only with --all
