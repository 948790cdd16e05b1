"""release.rules.history: stack update history as release events (plain data, no engine)."""

from __future__ import annotations

import datetime as dt

from release.rules.history import (
    Row,
    classify,
    parse_stamp,
    rows,
    stamp,
    with_outcomes,
    with_pr,
)

C1, C2 = "1" * 40, "2" * 40
P1, R1 = "a" * 40, "b" * 40


def entry(version, message="", config=None, result="succeeded", kind="update", env=None):
    return {
        "version": version,
        "kind": kind,
        "start_time": dt.datetime(2026, 11, 20 + version, 9, 0, tzinfo=dt.UTC),
        "message": message,
        "environment": env or {"git.author": "Git Person"},
        "config": {
            f"release-train:{k}": {"value": v, "secret": False} for k, v in (config or {}).items()
        },
        "result": result,
    }


def test_stamp_round_trips():
    text = stamp("pick", "cherry-pick  2 commits\n onto staging", commit=P1, by="alice", pr=None)
    assert "\n" not in text
    assert parse_stamp(text) == (
        "pick",
        "cherry-pick 2 commits onto staging",
        {"commit": P1, "by": "alice"},
    )
    assert parse_stamp("plain message") == (None, "plain message", {})


def test_rows_use_stamps_and_classify_the_rest():
    base = {"commit": C1, "releaseDate": "2026-11-19"}
    history = [
        entry(1, "", base),
        entry(
            2,
            stamp(
                "pick", "cherry-pick 1 commit", commit=P1, by="bilal", release="release/2026-11-19"
            ),
            {**base, "picks": f'["{P1}"]'},
        ),
        entry(3, "", {**base, "picks": f'["{P1}"]', "reverts": f'["{R1}"]'}),
        entry(4, "", {**base, "picks": f'["{P1}"]', "reverts": f'["{R1}"]'}, kind="refresh"),
        entry(5, "", {"commit": C2, "releaseDate": "2026-11-26"}, result="failed"),
        entry(
            6,
            stamp("rollback", "roll staging back", to="release/2026-11-12", by="dana", pr=12),
            {
                "commit": C1,
                "releaseDate": "2026-11-19",
                "rollback": '{"to": "release/2026-11-12", "date": "2026-11-27"}',
            },
        ),
    ]
    got = rows(history)
    assert [(r.version, r.kind) for r in got] == [
        (6, "rollback"),
        (5, "promotion"),
        (3, "revert"),
        (2, "pick"),
        (1, "promotion"),
    ]
    newest, failed, revert, pick, first = got
    # A rollback row names the release it restores: what the environment runs after it.
    assert (newest.who, newest.pr, newest.release) == ("dana", 12, "release/2026-11-12")
    assert (failed.result, failed.commit, failed.release) == ("failed", C2, "release/2026-11-26")
    assert revert.summary == f"revert {R1[:12]}" and revert.who == "Git Person"
    assert (pick.who, pick.commit) == ("bilal", P1)
    assert first.when.startswith("2026-11-21T09:00")
    assert [r.version for r in rows(history, everything=True)] == [6, 5, 4, 3, 2, 1]


def test_classify_needs_a_change():
    same = {"release-train:commit": C1, "release-train:releaseDate": "2026-11-19"}
    assert classify(same, same) == ("update", "update")
    assert classify(same, None) == ("promotion", f"promote {C1[:12]}")


def test_with_pr_fills_the_newest_success_of_the_running_release():
    history = [
        Row(4, "t4", "a", "abandon", "release/y", C1, 7, "s", "succeeded"),
        Row(3, "t3", "a", "promotion", "release/y", C2, None, "s", "failed"),
        Row(2, "t2", "a", "pick", "release/x", C1, None, "s", "succeeded"),
        Row(1, "t1", "a", "promotion", "release/x", C1, None, "s", "succeeded"),
    ]
    filled = with_pr(history, {"prNumber": 41, "releaseBranch": "release/x"})
    assert [r.pr for r in filled] == [7, None, 41, None]
    assert with_pr(history, {"prNumber": 41, "releaseBranch": "release/z"})[2].pr is None
    rollback = Row(5, "t5", "a", "rollback", None, None, None, "s", "succeeded")
    outputs = {"prNumber": 41, "dayTwo": {"rollback": {"prNumber": 43}}}
    assert with_pr([rollback], outputs)[0].pr == 43


def test_an_unstamped_rollback_names_the_release_it_restores():
    before = {"release-train:releaseDate": "2026-11-26", "release-train:commit": "c" * 40}
    after = {
        **before,
        "release-train:rollback": '{"to": "release/2026-11-19", "date": "2026-11-27"}',
    }
    entries = [
        {"version": 1, "kind": "update", "message": "", "config": before, "result": "succeeded"},
        {"version": 2, "kind": "update", "message": "", "config": after, "result": "succeeded"},
    ]
    newest = rows(entries)[0]
    assert (newest.kind, newest.release) == ("rollback", "release/2026-11-19")


REL = "release/2026-11-26"
PICKED, MERGE, BACK, BACK_MERGE = "c" * 40, "d" * 40, "e" * 40, "f" * 40


def day_rows(*results: str) -> list[Row]:
    """A promotion, a pick of P1 and a rollback, newest first, with the given results."""
    base = {"commit": C1, "releaseDate": "2026-11-26"}
    history = [
        entry(1, stamp("promotion", "promote", release=REL, commit=C1), base, results[0]),
        entry(2, stamp("pick", "cherry-pick", release=REL, commit=P1[:12]), base, results[1]),
        entry(3, stamp("rollback", "roll back", release="release/2026-11-19"), base, results[2]),
    ]
    return rows(history)


def outputs(gate: str, rollback_gate: str) -> dict:
    return {
        "releaseBranch": REL,
        "releaseHead": PICKED,
        "mergeCommit": MERGE if gate == "merged" else None,
        "state": "merged" if gate == "merged" else "open",
        "gate": {"state": gate, "reasons": []},
        "dayTwo": {
            "picks": [{"sha": P1, "commit": PICKED, "applied": True}],
            "rollback": {
                "to": "release/2026-11-19",
                "commit": BACK,
                "mergeCommit": BACK_MERGE if rollback_gate == "merged" else None,
                "gate": {"state": rollback_gate, "reasons": []},
            },
        },
    }


def test_a_pick_that_waited_then_landed_is_landed_with_its_commit_and_merge():
    found = {
        r.kind: r for r in with_outcomes(day_rows(*["succeeded"] * 3), outputs("merged", "merged"))
    }
    pick = found["pick"]
    assert (pick.outcome, pick.made, pick.merge_commit) == ("landed", PICKED, MERGE)
    assert found["promotion"].outcome == "landed"


def test_waiting_rows_say_so_and_a_rollback_row_carries_the_rollback_commit():
    found = {
        r.kind: r
        for r in with_outcomes(day_rows(*["succeeded"] * 3), outputs("waiting", "waiting"))
    }
    assert (found["pick"].outcome, found["pick"].merge_commit) == ("waiting at the gate", None)
    back = found["rollback"]
    assert (back.outcome, back.commit, back.made) == ("waiting at the gate", BACK, BACK)
    landed = {
        r.kind: r for r in with_outcomes(day_rows(*["succeeded"] * 3), outputs("merged", "merged"))
    }
    assert (landed["rollback"].outcome, landed["rollback"].merge_commit) == ("landed", BACK_MERGE)


def test_a_failed_update_is_failed_and_a_dropped_pick_only_requested():
    found = {
        r.kind: r
        for r in with_outcomes(
            day_rows("succeeded", "failed", "succeeded"), outputs("merged", "merged")
        )
    }
    assert found["pick"].outcome == "failed"
    gone = {**outputs("merged", "merged"), "dayTwo": {}}
    again = {r.kind: r for r in with_outcomes(day_rows(*["succeeded"] * 3), gone)}
    assert again["pick"].outcome == "requested" and again["pick"].made is None
