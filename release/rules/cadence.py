"""The weekly cadence and the oncall roles: what is due today, for whom, and what is late.

"On Thursday we choose a commit to promote from master to staging. If all goes well there,
that release is promoted to production the following Tuesday." Secondary oncall cuts
staging; primary oncall promotes production. A release must have soaked on staging for a
minimum number of days before it goes to production, and nothing is promoted on a freeze
date (a holiday, an incident) unless forced.

Everything here is a pure function over dates and plain config values; the command line
reads the stacks and the clock and prints what these functions decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from release.rules.errors import ConfigProblem

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CadenceConfigError(ConfigProblem):
    """A cadence, oncall or freeze setting is wrong; the message names key, value and fix."""

    def __init__(self, key: str, value: object, fix: str) -> None:
        shown = "(not set)" if value is None else repr(value)
        super().__init__(f"{key} = {shown}: {fix}", key, value)
        self.fix = fix


# --- validation of single values ---------------------------------------------------------------


def parse_weekday(value: object, key: str) -> str:
    """A weekday name (any case, e.g. 'Thursday'), returned in lower case."""
    if isinstance(value, str) and value.strip().lower() in WEEKDAYS:
        return value.strip().lower()
    raise CadenceConfigError(key, value, f"use a weekday name: {', '.join(WEEKDAYS)}")


def parse_days(value: object, key: str) -> int:
    """A whole number of days, 0 or more (an int, or a string of digits from config)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        number = int(value)
    if number is None or number < 0:
        raise CadenceConfigError(key, value, "use a whole number of days, 0 or more, e.g. 4")
    return number


def parse_date(value: object, key: str) -> date:
    """A calendar date: a date, or a string YYYY-MM-DD."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CadenceConfigError(key, value, "use a date written YYYY-MM-DD, e.g. 2026-12-24")


def _parse_name(value: object, key: str, example: str) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise CadenceConfigError(key, value, f"name who holds this role, e.g. {example!r}")


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cadence:
    """When staging is cut, when production is promoted, and the minimum soak on staging."""

    staging_weekday: str = "thursday"
    production_weekday: str = "tuesday"
    min_soak_days: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "staging_weekday", parse_weekday(self.staging_weekday, "cadence.stagingWeekday")
        )
        object.__setattr__(
            self,
            "production_weekday",
            parse_weekday(self.production_weekday, "cadence.productionWeekday"),
        )
        object.__setattr__(
            self, "min_soak_days", parse_days(self.min_soak_days, "cadence.minSoakDays")
        )


@dataclass(frozen=True)
class Oncall:
    """This week's oncall pair: primary promotes production, secondary cuts staging."""

    primary: str
    secondary: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "primary", _parse_name(self.primary, "oncall.primary", "alice"))
        object.__setattr__(
            self, "secondary", _parse_name(self.secondary, "oncall.secondary", "bob")
        )


@dataclass(frozen=True)
class Freeze:
    """A date on which nothing is promoted unless forced, and why."""

    date: date
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "date", parse_date(self.date, "freeze.date"))
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise CadenceConfigError(
                "freeze.reason", self.reason, "say why nothing ships that day, e.g. 'holiday'"
            )


def parse_cadence(config: Mapping[str, object] | None) -> Cadence:
    """The `cadence` stack setting: {stagingWeekday, productionWeekday, minSoakDays}."""
    config = dict(config or {})
    known = {"stagingWeekday", "productionWeekday", "minSoakDays"}
    for key in config:
        if key not in known:
            raise CadenceConfigError(
                f"cadence.{key}", config[key], f"unknown setting; use {', '.join(sorted(known))}"
            )
    defaults = Cadence()
    return Cadence(
        staging_weekday=config.get("stagingWeekday", defaults.staging_weekday),
        production_weekday=config.get("productionWeekday", defaults.production_weekday),
        min_soak_days=config.get("minSoakDays", defaults.min_soak_days),
    )


def parse_oncall(config: Mapping[str, object] | None) -> Oncall:
    """The `oncall` stack setting: {primary, secondary}."""
    if not isinstance(config, Mapping):
        raise CadenceConfigError(
            "oncall", config, "give both roles, e.g. {primary: alice, secondary: bob}"
        )
    return Oncall(primary=config.get("primary"), secondary=config.get("secondary"))


def parse_freezes(config: Iterable[object] | None) -> list[Freeze]:
    """The `freezes` stack setting: a list of {date: YYYY-MM-DD, reason: text}, by date."""
    freezes: list[Freeze] = []
    seen: dict[date, int] = {}
    for index, entry in enumerate(config or []):
        key = f"freezes[{index}]"
        if not isinstance(entry, Mapping):
            raise CadenceConfigError(
                key, entry, "give each freeze as {date: YYYY-MM-DD, reason: why}"
            )
        day = parse_date(entry.get("date"), f"{key}.date")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise CadenceConfigError(
                f"{key}.reason", reason, "say why nothing ships that day, e.g. 'holiday'"
            )
        if day in seen:
            raise CadenceConfigError(
                f"{key}.date",
                entry.get("date"),
                f"this date is already frozen by freezes[{seen[day]}]; list each date once",
            )
        seen[day] = index
        freezes.append(Freeze(day, reason.strip()))
    return sorted(freezes, key=lambda f: f.date)


# --- date arithmetic ---------------------------------------------------------------------------


def weekday_number(name: str) -> int:
    """Monday is 0, as in date.weekday()."""
    return WEEKDAYS.index(parse_weekday(name, "weekday"))


def last_weekday(on_or_before: date, weekday: str) -> date:
    """The latest date on or before `on_or_before` that falls on `weekday`."""
    back = (on_or_before.weekday() - weekday_number(weekday)) % 7
    return on_or_before - timedelta(days=back)


def next_weekday(on_or_after: date, weekday: str) -> date:
    """The earliest date on or after `on_or_after` that falls on `weekday`."""
    ahead = (weekday_number(weekday) - on_or_after.weekday()) % 7
    return on_or_after + timedelta(days=ahead)


def release_name(cut: date) -> str:
    """The release branch of a cut date: release/YYYY-MM-DD."""
    return f"release/{cut.isoformat()}"


# --- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duty:
    """A step of the train that someone should take: which, for whom, and when it was due."""

    environment: str  # "staging" or "production"
    role: str  # "secondary" or "primary"
    person: str
    due: date
    message: str


def _staging_duty(day: date, oncall: Oncall, message: str) -> Duty:
    return Duty("staging", "secondary", oncall.secondary, day, message)


def _production_duty(day: date, oncall: Oncall, message: str) -> Duty:
    return Duty("production", "primary", oncall.primary, day, message)


def due_today(
    today: date,
    cadence: Cadence,
    oncall: Oncall,
    staging_release_date: date | None,
    production_release_date: date | None,
) -> list[Duty]:
    """What is due today and for whom.

    On the staging weekday the secondary cuts a release, unless staging already has today's
    release. On the production weekday the primary promotes staging's release, unless
    production already runs it (or staging has none).
    """
    duties: list[Duty] = []
    if today.weekday() == weekday_number(cadence.staging_weekday):
        if staging_release_date != today:
            duties.append(
                _staging_duty(
                    today,
                    oncall,
                    f"{oncall.secondary} (secondary oncall): cut {release_name(today)} "
                    "from testing's newest green commit and promote it to staging",
                )
            )
    if today.weekday() == weekday_number(cadence.production_weekday):
        if staging_release_date is not None and production_release_date != staging_release_date:
            duties.append(
                _production_duty(
                    today,
                    oncall,
                    f"{oncall.primary} (primary oncall): promote "
                    f"{release_name(staging_release_date)} from staging to production",
                )
            )
    return duties


def late(
    today: date,
    cadence: Cadence,
    oncall: Oncall,
    staging_release_date: date | None,
    production_release_date: date | None,
) -> list[Duty]:
    """The steps whose weekday has passed this cycle without them happening.

    Staging is late when its weekday has passed this week (before today) and staging has no
    release cut on or after that day. Production is late when its weekday has passed this
    week, staging's release was cut before that day, and production does not run it yet.
    A step due today is not late (see due_today).
    """
    duties: list[Duty] = []
    cut_day = last_weekday(today, cadence.staging_weekday)
    if cut_day < today and (staging_release_date is None or staging_release_date < cut_day):
        days = (today - cut_day).days
        duties.append(
            _staging_duty(
                cut_day,
                oncall,
                f"staging cut due on {WEEKDAYS[cut_day.weekday()].capitalize()} "
                f"{cut_day.isoformat()} is {days} day{'s' if days != 1 else ''} late: "
                f"{oncall.secondary} (secondary oncall) has not cut {release_name(cut_day)}",
            )
        )
    promote_day = last_weekday(today, cadence.production_weekday)
    if (
        promote_day < today
        and staging_release_date is not None
        and staging_release_date < promote_day
        and (production_release_date is None or production_release_date < staging_release_date)
    ):
        days = (today - promote_day).days
        duties.append(
            _production_duty(
                promote_day,
                oncall,
                f"production promotion due on {WEEKDAYS[promote_day.weekday()].capitalize()} "
                f"{promote_day.isoformat()} is {days} day{'s' if days != 1 else ''} late: "
                f"{oncall.primary} (primary oncall) has not promoted "
                f"{release_name(staging_release_date)}",
            )
        )
    return duties


@dataclass(frozen=True)
class SoakResult:
    """Whether staging's release has soaked long enough to go to production."""

    ok: bool
    days: int
    message: str


def soak_check(staging_cut_date: date | None, today: date, min_soak_days: int) -> SoakResult:
    """Has the release cut on `staging_cut_date` been on staging for `min_soak_days`?"""
    minimum = parse_days(min_soak_days, "cadence.minSoakDays")
    if staging_cut_date is None:
        return SoakResult(False, 0, "staging has no release to promote yet")
    days = (today - staging_cut_date).days
    name = release_name(staging_cut_date)
    if days < 0:
        return SoakResult(
            False,
            days,
            f"{name} is dated {-days} day{'s' if days != -1 else ''} after today "
            f"({today.isoformat()}); check the release date or the clock",
        )
    plural = "s" if days != 1 else ""
    if days >= minimum:
        return SoakResult(
            True, days, f"{name} has soaked on staging for {days} day{plural} (minimum {minimum})"
        )
    ready = staging_cut_date + timedelta(days=minimum)
    return SoakResult(
        False,
        days,
        f"{name} has soaked on staging for only {days} day{plural}; the minimum is "
        f"{minimum} (ready on {ready.isoformat()}); use --force to promote it anyway",
    )


def freeze_check(today: date, freezes: Iterable[Freeze]) -> Freeze | None:
    """The freeze in force today, if any."""
    for freeze in freezes:
        if freeze.date == today:
            return freeze
    return None


def freeze_message(freeze: Freeze) -> str:
    """Why `promote` refuses on a freeze date."""
    return (
        f"{freeze.date.isoformat()} is a release freeze: {freeze.reason}; "
        "promote refuses today unless --force"
    )
