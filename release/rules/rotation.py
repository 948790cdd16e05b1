"""The oncall rotation: who is primary and secondary in any week, who cuts, who promotes,
and whose approval a promotion needs.

"Releases to staging are handled by secondary oncall. Their first task as primary the next
week will be to promote that release to production." So a rotation is an ordered list of
people: in week k the primary is person k and the secondary person k+1 (this week's
secondary is next week's primary), cycling through the list. A team may instead give
explicit weekly pairs, cycled the same way. Weeks begin on the handoff weekday; week 0 is
the week holding the rotation's start date. A holiday is a swap for one week (two people
trade places) or a replacement of that week's primary or secondary.

The secondary cuts (staging), the primary promotes (production), and each promotion is
approved by the oncall partner: the primary for a cut, the secondary for a promotion to
production. The old form `{primary, secondary}` is a fixed pair, the same every week; it
keeps working, and its approvals stay with `reviewers` as before.

Pure: dates and plain config values in, decisions out; no clock, no forge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from release.rules.cadence import (
    WEEKDAYS,
    Cadence,
    CadenceConfigError,
    Oncall,
    last_weekday,
    parse_date,
    parse_weekday,
    weekday_number,
)

CUT, PROMOTE = "cut", "promote"
DEFAULT_HANDOFF = "monday"
DEFAULT_PROMOTES = "production"
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_ROTATION_KEYS = ("start", "handoff", "people", "pairs", "swaps", "partnerApproves", "promotes")
_FIXED_KEYS = ("primary", "secondary")
EXAMPLE = "{start: 2026-11-23, handoff: monday, people: [alice, bob, carol]}"


class RotationConfigError(CadenceConfigError):
    """An `oncall` setting is wrong; the message names the key, the value and the fix."""


class OutsideRotation(CadenceConfigError):
    """A date before the rotation's first week: nobody is named for it."""


@dataclass(frozen=True)
class Swap:
    """A holiday: in the week starting `week`, `swap` trade places, or `primary` /
    `secondary` replace that week's holder of the role."""

    week: date
    swap: tuple[str, str] | None = None
    primary: str | None = None
    secondary: str | None = None


@dataclass(frozen=True)
class Week:
    """One week of the rotation: its dates, its pair and what changed it."""

    index: int
    start: date  # the handoff day that begins it
    end: date  # the last day of it
    pair: Oncall
    swapped: bool = False

    @property
    def primary(self) -> str:
        return self.pair.primary

    @property
    def secondary(self) -> str:
        return self.pair.secondary


@dataclass(frozen=True)
class Rotation:
    """The validated `oncall` setting."""

    start: date
    pairs: tuple[Oncall, ...]  # the cycle; one pair for the fixed form
    handoff: str = DEFAULT_HANDOFF
    swaps: tuple[Swap, ...] = ()
    partner_approves: bool = True
    promotes: str = DEFAULT_PROMOTES
    fixed: bool = False  # the old {primary, secondary}: the same pair every week

    @property
    def people(self) -> tuple[str, ...]:
        """Everyone in the rotation, in order of first appearance."""
        seen: list[str] = []
        for pair in self.pairs:
            for login in (pair.primary, pair.secondary):
                if login.lower() not in {s.lower() for s in seen}:
                    seen.append(login)
        return tuple(seen)

    @property
    def gates(self) -> bool:
        """Whether the partner's approval is required by the merge gate."""
        return self.partner_approves and not self.fixed


# --- derivation --------------------------------------------------------------------------------


def week_start(rotation: Rotation, day: date) -> date:
    """The handoff day that begins the week holding `day`."""
    return last_weekday(day, rotation.handoff)


def week_of(rotation: Rotation, day: date) -> Week:
    """The week holding `day`: its index from the first week, dates and pair (after swaps).

    Raises OutsideRotation for a day before the first week (the fixed form has none)."""
    begins = week_start(rotation, day)
    first = begins if rotation.fixed else week_start(rotation, rotation.start)
    index = (begins - first).days // 7
    if index < 0:
        raise OutsideRotation(
            "oncall.start",
            rotation.start.isoformat(),
            f"the rotation begins the week of {first.isoformat()}; {day.isoformat()} is "
            "before it: move oncall.start back to that week or earlier",
        )
    pair = rotation.pairs[index % len(rotation.pairs)]
    end = begins + timedelta(days=6)
    for swap in rotation.swaps:
        if swap.week == begins:
            return Week(index, begins, end, _swapped(pair, swap), True)
    return Week(index, begins, end, pair)


def pair_on(rotation: Rotation, day: date) -> Oncall:
    """The (primary, secondary) oncall on `day`."""
    return week_of(rotation, day).pair


def cutter(rotation: Rotation, day: date) -> str:
    """Who cuts the release to staging on `day`: the secondary."""
    return pair_on(rotation, day).secondary


def promoter(rotation: Rotation, day: date) -> str:
    """Who promotes to production on `day`: the primary."""
    return pair_on(rotation, day).primary


def duty_of(rotation: Rotation, environment: str) -> str:
    """CUT for the staging side, PROMOTE for the environment the primary promotes into."""
    return PROMOTE if environment == rotation.promotes else CUT


def partner(rotation: Rotation, day: date, duty: str) -> str:
    """Who approves a promotion on `day`: the oncall partner of the one who acts (the primary
    approves the secondary's cut, the secondary approves the primary's promotion)."""
    pair = pair_on(rotation, day)
    return pair.primary if duty == CUT else pair.secondary


@dataclass(frozen=True)
class Approvers:
    """What the merge gate of one promotion asks: approvals counted from `reviewers`
    (`required` of them), and each of `must_approve` among them."""

    reviewers: tuple[str, ...]
    required: int
    must_approve: tuple[str, ...] = ()
    note: str = ""  # why, for the plan: "oncall partner alice (week of 2026-11-23)"


def approvers(
    rotation: Rotation | None,
    reviewers: Sequence[str],
    required: int,
    environment: str,
    day: date,
) -> Approvers:
    """The approvals a promotion into `environment` merging on `day` needs.

    Without a gating rotation (none, the fixed pair, or `partnerApproves: false`), the
    configured `reviewers` decide as before. With one, the week's partner must approve; the
    configured reviewers count towards `required` as well (so `requiredApprovals: 2` asks one
    of them in addition), and at least the partner's approval is required."""
    listed = tuple(reviewers)
    if rotation is None or not rotation.gates:
        return Approvers(listed, required)
    week = week_of(rotation, day)
    duty = duty_of(rotation, environment)
    who = week.primary if duty == CUT else week.secondary
    others = tuple(r for r in listed if r.lower() != who.lower())
    role = "primary" if duty == CUT else "secondary"
    note = f"oncall partner {who} ({role}, week of {week.start.isoformat()})"
    return Approvers((who, *others), max(1, required), (who,), note)


# --- configuration -------------------------------------------------------------------------------


def parse_rotation(config: Mapping[str, Any] | None) -> Rotation:
    """The `oncall` setting: a rotation {start, people | pairs, handoff, swaps,
    partnerApproves, promotes}, or the old fixed pair {primary, secondary}.

    Raises RotationConfigError naming the key (oncall.people[2], oncall.swaps[0].week...),
    the value and the fix."""
    if not isinstance(config, Mapping) or not config:
        raise RotationConfigError("oncall", config, f"give a rotation, e.g. {EXAMPLE}")
    keys = [str(k) for k in config]
    fixed = [k for k in keys if k in _FIXED_KEYS]
    if fixed:
        extra = [k for k in keys if k not in _FIXED_KEYS]
        if extra:
            raise RotationConfigError(
                f"oncall.{extra[0]}",
                config[extra[0]],
                "the fixed pair {primary, secondary} takes no other setting; replace it with "
                f"a rotation, e.g. {EXAMPLE}",
            )
        pair = _pair(config, "oncall")
        return Rotation(start=date.min, pairs=(pair,), partner_approves=False, fixed=True)
    for key in keys:
        if key not in _ROTATION_KEYS:
            raise RotationConfigError(
                f"oncall.{key}", config[key], f"unknown setting; use {', '.join(_ROTATION_KEYS)}"
            )
    if "start" not in config:
        raise RotationConfigError(
            "oncall.start", None, "give the first week's date, e.g. start: 2026-11-23"
        )
    start = _date(config["start"], "oncall.start")
    handoff = _weekday(config.get("handoff", DEFAULT_HANDOFF), "oncall.handoff")
    pairs = _cycle(config)
    promotes = config.get("promotes", DEFAULT_PROMOTES)
    if not isinstance(promotes, str) or not promotes.strip():
        raise RotationConfigError(
            "oncall.promotes", promotes, "name the environment branch the primary promotes into"
        )
    approve = config.get("partnerApproves", True)
    if isinstance(approve, str) and approve.strip().lower() in ("true", "false"):
        approve = approve.strip().lower() == "true"
    if not isinstance(approve, bool):
        raise RotationConfigError("oncall.partnerApproves", approve, "give true or false")
    rotation = Rotation(start, pairs, handoff, (), approve, promotes.strip())
    swaps = _swaps(config.get("swaps"), rotation)
    return Rotation(start, pairs, handoff, swaps, approve, promotes.strip())


def check_handoff(rotation: Rotation, cadence: Cadence) -> None:
    """The handoff must fall after the staging cut and no later than the production day, so
    the secondary who cuts is the primary who promotes that release."""
    if rotation.fixed:
        return
    cut = weekday_number(cadence.staging_weekday)
    to_promote = (weekday_number(cadence.production_weekday) - cut) % 7 or 7
    to_handoff = (weekday_number(rotation.handoff) - cut) % 7 or 7
    if to_handoff > to_promote:
        days = [WEEKDAYS[(cut + n) % 7] for n in range(1, to_promote + 1)]
        raise RotationConfigError(
            "oncall.handoff",
            rotation.handoff,
            f"the secondary who cuts on {cadence.staging_weekday} would not be primary on "
            f"the {cadence.production_weekday} that release is promoted; hand off on one "
            f"of: {', '.join(days)}",
        )


def _login(value: object, key: str) -> str:
    if isinstance(value, str) and _LOGIN.match(value.strip().lstrip("@")):
        return value.strip().lstrip("@")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RotationConfigError(key, value, "name who holds this role, e.g. alice")
    raise RotationConfigError(key, value, "give a GitHub login, e.g. alice")


def _date(value: object, key: str) -> date:
    try:
        return parse_date(value, key)
    except CadenceConfigError as err:
        raise RotationConfigError(key, value, err.fix) from None


def _weekday(value: object, key: str) -> str:
    try:
        return parse_weekday(value, key)
    except CadenceConfigError as err:
        raise RotationConfigError(key, value, err.fix) from None


def _pair(item: Mapping[str, Any], key: str) -> Oncall:
    primary = _login(item.get("primary"), f"{key}.primary")
    secondary = _login(item.get("secondary"), f"{key}.secondary")
    if primary.lower() == secondary.lower():
        raise RotationConfigError(
            f"{key}.secondary", secondary, "the primary and the secondary are two people"
        )
    return Oncall(primary, secondary)


def _cycle(config: Mapping[str, Any]) -> tuple[Oncall, ...]:
    """The weekly pairs, from `people` (week k: person k primary, person k+1 secondary)
    or from explicit `pairs`."""
    if "people" in config and "pairs" in config:
        raise RotationConfigError(
            "oncall.pairs", config["pairs"], "give either people or pairs, not both"
        )
    if "pairs" in config:
        items = config["pairs"]
        if not isinstance(items, list) or not items:
            raise RotationConfigError(
                "oncall.pairs", items, "give a list of weekly pairs, e.g. [[alice, bob], ...]"
            )
        pairs = []
        for index, item in enumerate(items):
            key = f"oncall.pairs[{index}]"
            if isinstance(item, list) and len(item) == 2:
                item = {"primary": item[0], "secondary": item[1]}
            if not isinstance(item, Mapping):
                raise RotationConfigError(
                    key, item, "give [primary, secondary] or {primary: ..., secondary: ...}"
                )
            pairs.append(_pair(item, key))
        return tuple(pairs)
    people = config.get("people")
    if not isinstance(people, list) or len(people) < 2:
        raise RotationConfigError(
            "oncall.people",
            people,
            "list at least two people in rotation order, e.g. [alice, bob, carol]",
        )
    logins = [_login(p, f"oncall.people[{i}]") for i, p in enumerate(people)]
    seen: dict[str, int] = {}
    for index, login in enumerate(logins):
        if login.lower() in seen:
            raise RotationConfigError(
                f"oncall.people[{index}]",
                login,
                f"already listed as oncall.people[{seen[login.lower()]}]; list each person "
                "once (logins ignore case)",
            )
        seen[login.lower()] = index
    count = len(logins)
    return tuple(Oncall(logins[k], logins[(k + 1) % count]) for k in range(count))


def _swaps(items: object, rotation: Rotation) -> tuple[Swap, ...]:
    if items in (None, ""):
        return ()
    if not isinstance(items, list):
        raise RotationConfigError(
            "oncall.swaps", items, "give a list of {week: YYYY-MM-DD, swap: [alice, bob]}"
        )
    known = {p.lower() for p in rotation.people}
    swaps: list[Swap] = []
    weeks: dict[date, int] = {}
    for index, item in enumerate(items):
        key = f"oncall.swaps[{index}]"
        if not isinstance(item, Mapping):
            raise RotationConfigError(
                key, item, "give {week: YYYY-MM-DD, swap: [alice, bob]} or {week, primary}"
            )
        extra = [k for k in item if k not in ("week", "swap", "primary", "secondary")]
        if extra:
            raise RotationConfigError(
                f"{key}.{extra[0]}", item[extra[0]], "use week, and swap or primary/secondary"
            )
        day = _date(item.get("week"), f"{key}.week")
        begins = week_start(rotation, day)
        if begins in weeks:
            raise RotationConfigError(
                f"{key}.week",
                day.isoformat(),
                f"the week of {begins.isoformat()} already has oncall.swaps[{weeks[begins]}]; "
                "give one entry per week",
            )
        weeks[begins] = index
        names: list[tuple[str, object]] = []
        pair: tuple[str, str] | None = None
        if "swap" in item:
            value = item["swap"]
            if "primary" in item or "secondary" in item:
                raise RotationConfigError(
                    f"{key}.swap", value, "give swap, or primary/secondary, not both"
                )
            if not isinstance(value, list) or len(value) != 2:
                raise RotationConfigError(
                    f"{key}.swap", value, "name the two people who trade places, e.g. [alice, bob]"
                )
            a, b = (_login(v, f"{key}.swap[{i}]") for i, v in enumerate(value))
            if a.lower() == b.lower():
                raise RotationConfigError(f"{key}.swap", value, "name two different people")
            pair = (a, b)
            names = [(f"{key}.swap[0]", a), (f"{key}.swap[1]", b)]
        elif "primary" not in item and "secondary" not in item:
            raise RotationConfigError(
                key, dict(item), "say what changes: swap: [alice, bob], or primary: / secondary:"
            )
        primary = _login(item["primary"], f"{key}.primary") if "primary" in item else None
        secondary = _login(item["secondary"], f"{key}.secondary") if "secondary" in item else None
        names += [(f"{key}.{r}", v) for r, v in (("primary", primary), ("secondary", secondary))]
        for name_key, login in names:
            if login is not None and str(login).lower() not in known:
                raise RotationConfigError(
                    name_key,
                    login,
                    f"not in the rotation ({', '.join(rotation.people)}); add them to "
                    "oncall.people or name someone in it",
                )
        swap = Swap(begins, pair, primary, secondary)
        try:
            week = week_of(rotation, begins)
        except OutsideRotation:
            raise RotationConfigError(
                f"{key}.week",
                day.isoformat(),
                f"before the rotation's first week ({week_start(rotation, rotation.start)}); "
                "remove it or move oncall.start back",
            ) from None
        if pair and not {p.lower() for p in pair} & {
            week.primary.lower(),
            week.secondary.lower(),
        }:
            raise RotationConfigError(
                f"{key}.swap",
                list(pair),
                f"neither is oncall the week of {begins.isoformat()} (primary {week.primary}, "
                f"secondary {week.secondary}); swap someone on duty that week",
            )
        result = _swapped(week.pair, swap)
        if result.primary.lower() == result.secondary.lower():
            raise RotationConfigError(
                key,
                dict(item),
                f"the week of {begins.isoformat()} would have {result.primary} as both primary "
                "and secondary; name someone else",
            )
        swaps.append(swap)
    return tuple(swaps)


def _swapped(pair: Oncall, swap: Swap) -> Oncall:
    """The pair of a week after its swap (validated by `_swaps`: two different people)."""
    primary, secondary = pair.primary, pair.secondary
    if swap.swap:
        a, b = swap.swap
        trade = {a.lower(): b, b.lower(): a}
        primary = trade.get(primary.lower(), primary)
        secondary = trade.get(secondary.lower(), secondary)
    return Oncall(swap.primary or primary, swap.secondary or secondary)


# --- what each owes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owed:
    """Something a person of the pair owes on a day: who, in which role, and what."""

    role: str  # primary, secondary or partner
    person: str
    what: str

    def line(self) -> str:
        return f"{self.role} {self.person}: {self.what}"


def owed_today(
    rotation: Rotation,
    cadence: Cadence,
    day: date,
    cut_due: bool,
    promotion_due: bool,
    open_pulls: Mapping[str, int] | None = None,
) -> list[Owed]:
    """What the pair owes on `day`: the secondary's cut on the staging weekday (when still
    due), the primary's promotion on the production weekday (when still due), and the
    partner's approval of each open release pull request (`open_pulls`: duty -> number)."""
    week = week_of(rotation, day)
    weekday = WEEKDAYS[day.weekday()].capitalize()
    owed: list[Owed] = []
    if cut_due and day.weekday() == weekday_number(cadence.staging_weekday):
        owed.append(Owed("secondary", week.secondary, f"cut staging today ({weekday})"))
    if promotion_due and day.weekday() == weekday_number(cadence.production_weekday):
        owed.append(Owed("primary", week.primary, f"promote production today ({weekday})"))
    for duty, number in sorted((open_pulls or {}).items()):
        who = week.primary if duty == CUT else week.secondary
        owed.append(Owed("partner", who, f"approve PR #{number}"))
    return owed
