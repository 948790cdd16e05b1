"""`release abandon`, decided before its first write (release/rules/abandon.py), and its
history row for a stack's first release, on plain data."""

from __future__ import annotations

import pytest

from release.rules.abandon import plan_abandon, previous_pins
from release.rules.history import rows, stamp

NS = "release-train"
X, Y = "a" * 40, "b" * 40
PULL = {"head": "release/2026-12-03", "number": 9, "state": "open"}


def entry(version, date, commit, result="succeeded", kind="update", **extra):
    config = {f"{NS}:commit": commit, f"{NS}:releaseDate": date}
    config.update({f"{NS}:{k}": v for k, v in extra.items()})
    return {"version": version, "kind": kind, "result": result, "config": config}


def test_two_cuts_sharing_a_commit_go_back_to_the_release_before_not_an_older_one():
    history = [
        entry(1, "2026-11-19", Y),
        entry(2, "2026-11-26", X, picks=[]),  # merged into the environment
        entry(3, "2026-12-03", X, result="failed"),  # the same commit, cut again; at the gate
    ]
    plan = plan_abandon(PULL, "staging", history, NS)
    assert plan.previous == "release/2026-11-26" and plan.pins["commit"] == X
    assert plan.pins["picks"] == [] and not plan.first


def test_the_abandoned_release_and_failed_or_other_kinds_are_skipped():
    history = [
        entry(1, "2026-11-26", Y),
        entry(2, "2026-11-26", X, kind="refresh"),
        entry(3, "2026-12-03", X),  # the abandoned release's own successful run (a pick)
        entry(4, "2026-11-19", Y, result="failed"),
    ]
    assert previous_pins(history, "release/2026-12-03", NS)["releaseDate"] == "2026-11-26"


def test_a_stacks_first_release_has_nothing_to_pin_back_to():
    plan = plan_abandon(PULL, "staging", [entry(1, "2026-12-03", X, result="failed")], NS)
    assert plan.first and plan.previous is None and plan.release == "release/2026-12-03"


def test_nothing_to_abandon_is_refused_before_any_write():
    with pytest.raises(ValueError, match="no release pull request"):
        plan_abandon({}, "staging", [], NS)
    with pytest.raises(ValueError, match="release rollback staging"):
        plan_abandon({**PULL, "state": "merged"}, "staging", [], NS)


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
