"""The oncall rotation on plain data: weeks, handoff days, swaps, the partner who approves."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from release.rules.cadence import Cadence, Oncall
from release.rules.rotation import (
    CUT,
    PROMOTE,
    OutsideRotation,
    RotationConfigError,
    approvers,
    check_handoff,
    cutter,
    owed_today,
    pair_on,
    parse_rotation,
    partner,
    promoter,
    week_of,
)

MON = date(2026, 11, 23)  # a Monday
THU, TUE = MON + timedelta(days=3), MON + timedelta(days=8)


def rotation(**extra):
    return parse_rotation({"start": "2026-11-23", "people": ["alice", "bob", "carol"], **extra})


def test_the_first_week_and_the_cycle():
    rot = rotation()
    assert pair_on(rot, MON) == Oncall("alice", "bob")
    assert pair_on(rot, MON + timedelta(days=6)) == Oncall("alice", "bob")  # Sunday
    assert pair_on(rot, MON + timedelta(days=7)) == Oncall("bob", "carol")
    assert pair_on(rot, MON + timedelta(days=14)) == Oncall("carol", "alice")
    assert pair_on(rot, MON + timedelta(days=21)) == Oncall("alice", "bob")  # wraps
    assert week_of(rot, MON + timedelta(days=15)).index == 2


def test_this_weeks_secondary_is_next_weeks_primary_over_a_long_list():
    people = [f"dev{n}" for n in range(23)]
    rot = parse_rotation({"start": "2026-11-25", "people": people})
    for week in range(60):
        day = MON + timedelta(days=7 * week + 2)
        assert pair_on(rot, day + timedelta(days=7)).primary == pair_on(rot, day).secondary
        assert pair_on(rot, day).primary == people[week % 23]


def test_who_cuts_promotes_and_approves():
    rot = rotation()
    # Thursday: bob (secondary) cuts, alice (primary) approves; next Tuesday bob promotes
    # the release he cut and carol, his secondary, approves.
    assert cutter(rot, THU) == "bob" and partner(rot, THU, CUT) == "alice"
    assert promoter(rot, TUE) == "bob" and partner(rot, TUE, PROMOTE) == "carol"


def test_the_handoff_weekday_before_and_after():
    rot = rotation(handoff="wednesday")
    # Started mid-week: the first week began on the Wednesday before the start.
    assert week_of(rot, MON).start == date(2026, 11, 18)
    tue, wed = date(2026, 11, 24), date(2026, 11, 25)
    assert pair_on(rot, tue) == Oncall("alice", "bob")
    assert pair_on(rot, wed) == Oncall("bob", "carol")  # the handoff day is the new week's


def test_a_day_before_the_first_week_is_refused_with_the_fix():
    with pytest.raises(OutsideRotation, match="move oncall.start back"):
        pair_on(rotation(), MON - timedelta(days=1))


def test_a_swap_trades_places_for_one_week_only():
    rot = rotation(swaps=[{"week": "2026-12-02", "swap": ["bob", "alice"]}])
    week = week_of(rot, date(2026, 12, 3))
    assert week.pair == Oncall("alice", "carol") and week.swapped  # alice covers bob
    assert pair_on(rot, MON) == Oncall("alice", "bob")
    assert pair_on(rot, date(2026, 12, 7)) == Oncall("carol", "alice")


def test_a_replacement_names_one_role_for_a_week():
    rot = rotation(swaps=[{"week": "2026-11-23", "secondary": "carol"}])
    assert pair_on(rot, THU) == Oncall("alice", "carol")
    assert partner(rot, THU, CUT) == "alice" and cutter(rot, THU) == "carol"


def test_explicit_pairs_cycle():
    rot = parse_rotation(
        {"start": "2026-11-23", "pairs": [["alice", "bob"], {"primary": "dan", "secondary": "eve"}]}
    )
    assert pair_on(rot, THU) == Oncall("alice", "bob")
    assert pair_on(rot, THU + timedelta(days=7)) == Oncall("dan", "eve")
    assert pair_on(rot, THU + timedelta(days=14)) == Oncall("alice", "bob")


def test_the_old_fixed_pair_still_parses_and_does_not_gate():
    rot = parse_rotation({"primary": "dana", "secondary": "oncall-partner"})
    assert rot.fixed and not rot.gates
    assert pair_on(rot, date(2001, 1, 1)) == Oncall("dana", "oncall-partner")
    assert approvers(rot, ["oncall-partner"], 1, "staging", THU).must_approve == ()


def test_approvers_take_the_partner_and_keep_other_reviewers():
    rot = rotation()
    gate = approvers(rot, [], 1, "staging", THU)
    assert gate.reviewers == ("alice",) and gate.must_approve == ("alice",) and gate.required == 1
    assert "oncall partner alice" in gate.note
    gate = approvers(rot, ["lead", "Alice"], 2, "production", TUE)
    assert gate.must_approve == ("carol",) and gate.reviewers == ("carol", "lead", "Alice")
    assert gate.required == 2
    # Pinned: the rotation does not override the reviewers.
    pinned = parse_rotation(
        {"start": "2026-11-23", "people": ["a1", "b2"], "partnerApproves": False}
    )
    gate = approvers(pinned, ["lead"], 1, "staging", THU)
    assert gate.reviewers == ("lead",) and gate.must_approve == ()
    assert approvers(None, ["lead"], 1, "staging", THU).reviewers == ("lead",)


def test_last_weeks_partner_is_not_this_weeks():
    rot = rotation()
    assert approvers(rot, [], 1, "staging", THU).must_approve == ("alice",)
    next_week = approvers(rot, [], 1, "staging", THU + timedelta(days=7))
    assert next_week.must_approve == ("bob",) and "alice" not in next_week.reviewers


def test_handoff_must_let_the_cutter_promote():
    check_handoff(rotation(), Cadence())  # Monday: between Thursday and Tuesday
    check_handoff(rotation(handoff="tuesday"), Cadence())
    with pytest.raises(RotationConfigError, match="oncall.handoff.*friday, saturday"):
        check_handoff(rotation(handoff="wednesday"), Cadence())


def test_what_each_owes_today():
    rot = rotation()
    owed = owed_today(rot, Cadence(), THU, True, False, {CUT: 12})
    assert [o.line() for o in owed] == [
        "secondary bob: cut staging today (Thursday)",
        "partner alice: approve PR #12",
    ]
    owed = owed_today(rot, Cadence(), TUE, True, True, {PROMOTE: 13})
    assert [o.line() for o in owed] == [
        "primary bob: promote production today (Tuesday)",
        "partner carol: approve PR #13",
    ]


@pytest.mark.parametrize(
    ("config", "key", "fix"),
    [
        (None, "oncall", "give a rotation"),
        ({"people": ["a1", "b2"]}, "oncall.start", "first week's date"),
        ({"start": "2026-13-01", "people": ["a1", "b2"]}, "oncall.start", "YYYY-MM-DD"),
        ({"start": "2026-11-23", "people": []}, "oncall.people", "at least two"),
        ({"start": "2026-11-23", "people": ["a1"]}, "oncall.people", "at least two"),
        ({"start": "2026-11-23", "people": ["a1", "A1"]}, "oncall.people[1]", "once"),
        ({"start": "2026-11-23", "people": ["a1", "not a login"]}, "oncall.people[1]", "login"),
        (
            {"start": "2026-11-23", "people": ["a1", "b2"], "handoff": "someday"},
            "oncall.handoff",
            "weekday",
        ),
        ({"start": "2026-11-23", "people": ["a1", "b2"], "pairs": []}, "oncall.pairs", "not both"),
        (
            {"start": "2026-11-23", "pairs": [["a1", "a1"]]},
            "oncall.pairs[0].secondary",
            "two people",
        ),
        ({"start": "2026-11-23", "people": ["a1", "b2"], "every": 2}, "oncall.every", "unknown"),
        ({"primary": "a1", "secondary": "b2", "start": "2026-11-23"}, "oncall.start", "fixed pair"),
        ({"primary": "a1"}, "oncall.secondary", "name who holds this role"),
        (
            {
                "start": "2026-11-23",
                "people": ["a1", "b2"],
                "swaps": [{"week": "2026-11-30", "swap": ["a1", "zed"]}],
            },
            "oncall.swaps[0].swap[1]",
            "not in the rotation",
        ),
        (
            {
                "start": "2026-11-23",
                "people": ["a1", "b2", "c3", "d4"],
                "swaps": [{"week": "2026-11-23", "swap": ["c3", "d4"]}],
            },
            "oncall.swaps[0].swap",
            "neither is oncall",
        ),
        (
            {
                "start": "2026-11-23",
                "people": ["a1", "b2"],
                "swaps": [{"week": "2026-11-01", "primary": "b2"}],
            },
            "oncall.swaps[0].week",
            "before the rotation",
        ),
        (
            {
                "start": "2026-11-23",
                "people": ["a1", "b2"],
                "swaps": [{"week": "2026-11-24", "primary": "b2"}],
            },
            "oncall.swaps[0]",
            "both primary and secondary",
        ),
        (
            {
                "start": "2026-11-23",
                "people": ["a1", "b2"],
                "swaps": [
                    {"week": "2026-11-24", "swap": ["a1", "b2"]},
                    {"week": "2026-11-26", "primary": "b2"},
                ],
            },
            "oncall.swaps[1].week",
            "one entry per week",
        ),
        (
            {"start": "2026-11-23", "people": ["a1", "b2"], "swaps": [{"week": "2026-11-24"}]},
            "oncall.swaps[0]",
            "say what changes",
        ),
        (
            {"start": "2026-11-23", "people": ["a1", "b2"], "partnerApproves": "maybe"},
            "oncall.partnerApproves",
            "true or false",
        ),
    ],
)
def test_bad_input_names_the_key_and_the_fix(config, key, fix):
    with pytest.raises(RotationConfigError) as err:
        parse_rotation(config)
    assert err.value.key == key, str(err.value)
    assert fix in str(err.value)
