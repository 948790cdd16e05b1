"""`release promote` without --date across UTC midnight: the clock is injected (the command
line's one clock, release.cli.promotion.today), the stack's record says a promotion waits at
the gate. No engine, no forge."""

from __future__ import annotations

import datetime as dt

import pytest
import typer

from release.cli import promotion
from release.rules import clock
from release.rules.config import Settings
from release.rules.running import StackRecord

SOURCE = {"greenCommit": "a" * 40}
SETTINGS = Settings(
    stack="staging", repository="acme/service", environment="staging", promotes_from="testing"
)


@pytest.fixture
def after_midnight(monkeypatch):
    """It is 00:05 UTC on 2026-11-27; the cut waiting at the gate is release/2026-11-26."""
    monkeypatch.setattr(clock, "today", lambda: dt.date(2026, 11, 27))
    monkeypatch.setattr(promotion, "pull_open", lambda proj, settings, number: True)


def waiting() -> StackRecord:
    return StackRecord(None, "release/2026-11-26", "c" * 40, 12)


def target(date: str | None, record: StackRecord):
    return promotion.target_for(None, "staging", SETTINGS, None, date, SOURCE, record)


def test_a_waiting_promotion_continues_its_release_after_midnight(after_midnight):
    found = target(None, waiting())
    assert found.branch == "release/2026-11-26" and found.commit == "c" * 40
    assert "continues release/2026-11-26" in found.reason and "PR #12" in found.reason
    assert "release abandon staging" in found.reason


def test_without_a_waiting_promotion_the_cut_takes_today(after_midnight):
    found = target(None, StackRecord())
    assert found.branch == "release/2026-11-27" and found.commit == "a" * 40


def test_another_date_starts_another_release_explicitly(after_midnight, capsys):
    found = target("2026-11-27", waiting())
    assert found.branch == "release/2026-11-27" and found.commit == "a" * 40
    assert "release/2026-11-26 waits at the gate" in capsys.readouterr().out


def test_a_pull_request_closed_on_the_forge_is_not_continued(after_midnight, monkeypatch):
    monkeypatch.setattr(promotion, "pull_open", lambda proj, settings, number: False)
    assert target(None, waiting()).branch == "release/2026-11-27"


# -- --carry SHA --reason TEXT, checked before anything runs ----------------------------------


def test_carry_needs_full_shas_and_a_reason(capsys):
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert promotion.check_carry([sha.upper()], "customer outage") == [sha]
    assert promotion.check_carry(None, None) == []
    with pytest.raises(typer.Exit):
        promotion.check_carry(["abc123"], "why")
    assert "--carry 'abc123'" in capsys.readouterr().err
    with pytest.raises(typer.Exit):
        promotion.check_carry([sha], "  ")
    assert '--carry needs --reason "' in capsys.readouterr().err
