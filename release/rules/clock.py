"""The one clock: today's date in UTC, which every rule about dates is checked against.

Everything that needs "today" (the release date of a cut, the soak and the freezes, a
rollback's date) calls `clock.today()` through this module, so a test sets the day in one
place: `monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 26))`.
"""

from __future__ import annotations

import datetime as dt


def today() -> dt.date:
    """Today in UTC."""
    return dt.datetime.now(dt.UTC).date()
