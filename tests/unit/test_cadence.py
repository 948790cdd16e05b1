"""The weekly cadence, the oncall roles, soak and freezes, on plain data."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from release.rules.cadence import (
    WEEKDAYS,
    Cadence,
    CadenceConfigError,
    Freeze,
    Oncall,
    due_today,
    freeze_check,
    freeze_message,
    last_weekday,
    late,
    next_weekday,
    parse_cadence,
    parse_date,
    parse_freezes,
    parse_oncall,
    soak_check,
)

THU = date(2026, 11, 26)  # a Thursday: staging cut
FRI = date(2026, 11, 27)
MON = date(2026, 11, 30)
TUE = date(2026, 12, 1)  # the following Tuesday: production promotion
WED = date(2026, 12, 2)
PREV_THU = THU - timedelta(days=7)
CADENCE = Cadence()
ONCALL = Oncall(primary="alice", secondary="bob")

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
weekdays = st.sampled_from(WEEKDAYS)


def test_calendar_of_the_fixtures():
    assert (THU.weekday(), TUE.weekday()) == (3, 1)


# --- configuration -----------------------------------------------------------------------------


def test_defaults_follow_the_process_document():
    assert Cadence() == Cadence("thursday", "tuesday", 4)
    assert Cadence("Thursday", " TUESDAY ", "5") == Cadence("thursday", "tuesday", 5)


@pytest.mark.parametrize(
    ("kwargs", "key", "value", "fix"),
    [
        ({"staging_weekday": "thursdy"}, "cadence.stagingWeekday", "thursdy", "monday, tuesday"),
        ({"production_weekday": 2}, "cadence.productionWeekday", 2, "weekday name"),
        ({"min_soak_days": -1}, "cadence.minSoakDays", -1, "0 or more"),
        ({"min_soak_days": "-3"}, "cadence.minSoakDays", "-3", "0 or more"),
        ({"min_soak_days": 2.5}, "cadence.minSoakDays", 2.5, "whole number"),
        ({"min_soak_days": True}, "cadence.minSoakDays", True, "whole number"),
    ],
)
def test_bad_cadence_names_key_value_and_fix(kwargs, key, value, fix):
    with pytest.raises(CadenceConfigError) as info:
        Cadence(**kwargs)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.key, err.value) == (key, value)
    assert str(err).startswith(f"{key} = {value!r}: ")
    assert fix in str(err)


def test_parse_cadence_from_config():
    assert parse_cadence(None) == Cadence()
    assert parse_cadence({"minSoakDays": 2, "productionWeekday": "monday"}) == Cadence(
        "thursday", "monday", 2
    )
    with pytest.raises(CadenceConfigError, match=r"cadence\.soak = 3: unknown setting"):
        parse_cadence({"soak": 3})


def test_oncall_roles():
    assert parse_oncall({"primary": " alice ", "secondary": "bob"}) == ONCALL
    with pytest.raises(CadenceConfigError, match=r"oncall\.secondary = \(not set\)"):
        parse_oncall({"primary": "alice"})
    with pytest.raises(CadenceConfigError, match=r"oncall\.primary = '': name who holds"):
        Oncall("", "bob")
    with pytest.raises(CadenceConfigError, match=r"oncall = 'alice': give both roles"):
        parse_oncall("alice")


@pytest.mark.parametrize(
    "value", ["2026-13-01", "2026-02-30", "26-12-24", "2026/12/24", "", 20261224]
)
def test_malformed_dates(value):
    with pytest.raises(CadenceConfigError, match=r"freezes\[0\]\.date = .*YYYY-MM-DD"):
        parse_freezes([{"date": value, "reason": "holiday"}])


def test_parse_date_accepts_dates_and_strings_but_not_datetimes():
    assert parse_date(" 2026-12-24 ", "k") == date(2026, 12, 24)
    assert parse_date(date(2026, 12, 24), "k") == date(2026, 12, 24)
    with pytest.raises(CadenceConfigError):
        parse_date(datetime(2026, 12, 24, 10), "k")


def test_parse_freezes():
    freezes = parse_freezes(
        [
            {"date": "2026-12-31", "reason": "new year's eve"},
            {"date": date(2026, 12, 24), "reason": " holiday "},
        ]
    )
    assert freezes == [
        Freeze(date(2026, 12, 24), "holiday"),
        Freeze(date(2026, 12, 31), "new year's eve"),
    ]
    assert parse_freezes(None) == []
    with pytest.raises(CadenceConfigError, match=r"freezes\[1\]\.reason = '  '"):
        parse_freezes(
            [{"date": "2026-12-24", "reason": "a"}, {"date": "2026-12-25", "reason": "  "}]
        )
    with pytest.raises(CadenceConfigError, match=r"already frozen by freezes\[0\]"):
        parse_freezes(
            [{"date": "2026-12-24", "reason": "a"}, {"date": "2026-12-24", "reason": "b"}]
        )
    with pytest.raises(CadenceConfigError, match=r"freezes\[0\] = '2026-12-24'"):
        parse_freezes(["2026-12-24"])


def test_freeze_accepts_a_date_string():
    assert Freeze("2026-12-24", "holiday").date == date(2026, 12, 24)


# --- due today ---------------------------------------------------------------------------------


def test_thursday_secondary_cuts_staging():
    duties = due_today(THU, CADENCE, ONCALL, PREV_THU, PREV_THU - timedelta(days=7))
    assert [(d.environment, d.role, d.person, d.due) for d in duties] == [
        ("staging", "secondary", "bob", THU)
    ]
    assert "cut release/2026-11-26" in duties[0].message


def test_thursday_after_the_cut_nothing_is_due():
    assert due_today(THU, CADENCE, ONCALL, THU, PREV_THU) == []


def test_tuesday_primary_promotes_stagings_release():
    duties = due_today(TUE, CADENCE, ONCALL, THU, PREV_THU)
    assert [(d.environment, d.role, d.person) for d in duties] == [
        ("production", "primary", "alice")
    ]
    assert "promote release/2026-11-26 from staging to production" in duties[0].message


def test_tuesday_after_the_promotion_nothing_is_due():
    assert due_today(TUE, CADENCE, ONCALL, THU, THU) == []
    assert due_today(TUE, CADENCE, ONCALL, None, None) == []


def test_other_days_nothing_is_due():
    for day in (FRI, MON, WED):
        assert due_today(day, CADENCE, ONCALL, PREV_THU, None) == []


def test_custom_cadence():
    cadence = Cadence("monday", "monday", 7)
    duties = due_today(MON, cadence, ONCALL, MON - timedelta(days=7), MON - timedelta(days=14))
    assert [d.environment for d in duties] == ["staging", "production"]


# --- late --------------------------------------------------------------------------------------


def test_staging_cut_late_after_thursday():
    duties = late(FRI, CADENCE, ONCALL, PREV_THU, PREV_THU)
    assert [(d.environment, d.person, d.due) for d in duties] == [("staging", "bob", THU)]
    assert "due on Thursday 2026-11-26 is 1 day late" in duties[0].message
    assert late(MON, CADENCE, ONCALL, PREV_THU, PREV_THU)[0].message.count("4 days late") == 1


def test_staging_not_late_when_cut_or_cut_late():
    assert late(FRI, CADENCE, ONCALL, THU, PREV_THU) == []
    assert late(MON, CADENCE, ONCALL, FRI, PREV_THU) == []  # cut a day late: done now


def test_not_late_on_the_day_itself():
    assert late(THU, CADENCE, ONCALL, PREV_THU, PREV_THU) == []
    assert late(TUE, CADENCE, ONCALL, THU, PREV_THU) == []


def test_production_late_after_tuesday():
    duties = late(WED, CADENCE, ONCALL, THU, PREV_THU)
    assert [(d.environment, d.role, d.person, d.due) for d in duties] == [
        ("production", "primary", "alice", TUE)
    ]
    assert "has not promoted release/2026-11-26" in duties[0].message
    assert "1 day late" in duties[0].message


def test_production_not_late_when_promoted_or_nothing_to_promote():
    assert late(WED, CADENCE, ONCALL, THU, THU) == []
    assert [d.environment for d in late(WED, CADENCE, ONCALL, None, None)] == ["staging"]
    # Staging's release was cut after Tuesday: it is next Tuesday's duty, not a late one.
    assert [d.environment for d in late(WED + timedelta(days=1), CADENCE, ONCALL, WED, THU)] == []


def test_never_promoted_is_late():
    assert [d.environment for d in late(WED, CADENCE, ONCALL, THU, None)] == ["production"]


# --- soak --------------------------------------------------------------------------------------


def test_thursday_to_tuesday_soaks_five_days():
    result = soak_check(THU, TUE, 4)
    assert result.ok and result.days == 5
    assert result.message == ("release/2026-11-26 has soaked on staging for 5 days (minimum 4)")


def test_too_short_soak_says_when_it_is_ready_and_how_to_force():
    result = soak_check(THU, FRI, 4)
    assert not result.ok and result.days == 1
    assert "only 1 day; the minimum is 4 (ready on 2026-11-30); use --force" in result.message


def test_soak_edge_cases():
    assert soak_check(THU, THU, 0).ok
    assert not soak_check(None, TUE, 4).ok
    future = soak_check(TUE, THU, 0)
    assert not future.ok and "after today" in future.message
    with pytest.raises(CadenceConfigError, match="cadence.minSoakDays = -1"):
        soak_check(THU, TUE, -1)


# --- freezes -----------------------------------------------------------------------------------


def test_freeze_check_and_message():
    freezes = [Freeze(date(2026, 12, 24), "holiday"), Freeze(TUE, "incident 42 open")]
    found = freeze_check(TUE, freezes)
    assert found == Freeze(TUE, "incident 42 open")
    assert freeze_message(found) == (
        "2026-12-01 is a release freeze: incident 42 open; promote refuses today unless --force"
    )
    assert freeze_check(WED, freezes) is None
    assert freeze_check(TUE, []) is None


# --- properties of the date arithmetic ---------------------------------------------------------


@given(dates, weekdays)
def test_last_and_next_weekday(day, weekday):
    last, nxt = last_weekday(day, weekday), next_weekday(day, weekday)
    assert WEEKDAYS[last.weekday()] == weekday == WEEKDAYS[nxt.weekday()]
    assert 0 <= (day - last).days < 7 and 0 <= (nxt - day).days < 7
    assert (last == day) == (nxt == day)


@given(dates, st.integers(min_value=-30, max_value=60), st.integers(min_value=0, max_value=30))
def test_soak_ok_iff_enough_days(cut, offset, minimum):
    today = cut + timedelta(days=offset)
    result = soak_check(cut, today, minimum)
    assert result.days == offset
    assert result.ok == (0 <= offset and offset >= minimum)


@given(dates, weekdays, weekdays, st.integers(min_value=0, max_value=6))
def test_a_cut_on_schedule_soaks_until_the_next_promotion_day(day, staging, production, soak):
    cadence = Cadence(staging, production, soak)
    cut = next_weekday(day, staging)
    promote = next_weekday(cut + timedelta(days=1), production)
    days = (promote - cut).days
    assert 1 <= days <= 7
    assert soak_check(cut, promote, cadence.min_soak_days).ok == (days >= soak)


@given(
    dates,
    weekdays,
    weekdays,
    st.one_of(st.none(), st.integers(min_value=-21, max_value=0)),
    st.one_of(st.none(), st.integers(min_value=-35, max_value=0)),
)
def test_due_and_late_properties(today, staging, production, staging_offset, production_offset):
    cadence = Cadence(staging, production, 4)
    staging_date = None if staging_offset is None else today + timedelta(days=staging_offset)
    production_date = (
        None if production_offset is None else today + timedelta(days=production_offset)
    )
    due = due_today(today, cadence, ONCALL, staging_date, production_date)
    overdue = late(today, cadence, ONCALL, staging_date, production_date)
    for duty in due:
        assert duty.due == today
        expected_day = staging if duty.environment == "staging" else production
        assert WEEKDAYS[today.weekday()] == expected_day
        assert duty.person == (ONCALL.secondary if duty.role == "secondary" else ONCALL.primary)
    for duty in overdue:
        assert duty.due < today and (today - duty.due).days < 7
    # Each environment has at most one duty, and never both due and late.
    envs = [d.environment for d in due + overdue]
    assert len(envs) == len(set(envs))
    # Staging never owes a cut when it has a release cut today.
    if staging_date == today:
        assert "staging" not in envs
    # Production owes nothing when it runs staging's release.
    if staging_date is not None and production_date == staging_date:
        assert "production" not in envs
