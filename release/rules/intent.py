"""The team's record of operational intent, and the rules that change it (pure, plain data).

Operational intent is what the operators of a stack asked for, as opposed to its static
settings (repository, checks, reviewers, PPCs, cadence: `Pulumi.<stack>.yaml`, changed by
pull request): the commit and date being promoted, the picks (and which may come from off
master), the reverts, a rollback and the releases rolled back, and the pins an `abandon`
returns to. It lives in the stack's state, as the outputs of one `TrainRecord` resource
(release/providers/train_record.py), so every operator and CI runner on the same backend
sees the same record, and the engine writes it atomically while it holds the stack's lock.

A command never writes the record itself. It hands the program its *delta*, a list of ops,
through one environment variable (`RELEASE_TRAIN_INTENT`, set only for that `up` or
`preview`); the program reads the current record from the state, applies the delta here
(`apply_ops`), and registers the result. Two commands at once: the lock serializes their
`up`s and each applies its own delta to the newest record, so neither loses the other's.

Ops (every one may carry `id`, `by`, `at`; an op whose `id` is already in the record's log
is not applied twice, and an op that changes nothing is not logged, so asking again for what
is recorded writes nothing):

    {"op": "pin", "commit": SHA, "date": "YYYY-MM-DD", "force": false}
    {"op": "pick", "sha": SHA, "allowOffMaster": false}
    {"op": "drop-pick", "sha": SHA}
    {"op": "revert", "sha": SHA}
    {"op": "drop-revert", "sha": SHA}
    {"op": "rollback", "to": "release/YYYY-MM-DD", "date": "YYYY-MM-DD",
     "from": "release/YYYY-MM-DD", "force": false}
    {"op": "abandon", "release": "release/YYYY-MM-DD", "reason": TEXT}
    {"op": "carry", "sha": SHA, "reason": TEXT}

A `carry` names a fix of the running release that the pinned release carries (`release
promote --carry SHA --reason TEXT`); a `pin` of another release starts with none, so a new
release carries exactly the commits its promotion names, and continuing the waiting release
adds to them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

ENV_VAR = "RELEASE_TRAIN_INTENT"
"""The one channel a command passes its delta through (JSON list of ops)."""

RECORD_VERSION = 1
LOG_LIMIT = 100
PREVIOUS_LIMIT = 20

LEGACY_KEYS = (
    "commit",
    "releaseDate",
    "picks",
    "allowOffMaster",
    "reverts",
    "rollback",
    "rolledBack",
    "carry",
)
"""Keys that `Pulumi.<stack>.yaml` no longer holds: they are intent, kept in the state."""

_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_RELEASE_RE = re.compile(r"^release/[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ID_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,80}$")

_META = ("op", "id", "by", "at")
_FIELDS: dict[str, dict[str, bool]] = {
    # op -> {field: required}
    "pin": {"commit": True, "date": True, "force": False},
    "pick": {"sha": True, "allowOffMaster": False},
    "drop-pick": {"sha": True},
    "revert": {"sha": True},
    "drop-revert": {"sha": True},
    "rollback": {"to": True, "date": True, "from": False, "force": False},
    "abandon": {"release": True, "reason": False},
    "carry": {"sha": True, "reason": False},
}
OPS = tuple(_FIELDS)


class IntentError(ValueError):
    """An op cannot be applied; the message names the op, the field, the value and the fix."""

    def __init__(self, where: str, key: str, value: object, fix: str) -> None:
        self.where = where
        self.key = key
        self.value = value
        self.fix = fix
        shown = "(not set)" if value is None else repr(value)
        super().__init__(f"{where}: {key} = {shown}: {fix}")


@dataclass(frozen=True)
class Pin:
    """A release being promoted: the commit it was cut at and its date (`release/DATE`)."""

    commit: str
    release_date: str
    reverts: tuple[str, ...] = ()

    @property
    def release(self) -> str:
        return f"release/{self.release_date}"

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.commit, "releaseDate": self.release_date, "reverts": [*self.reverts]}


@dataclass(frozen=True)
class Rollback:
    """A rollback in progress: back to release `to`, on the branch of `date`."""

    to: str
    date: str


@dataclass(frozen=True)
class Record:
    """One stack's operational intent, as stored in its `TrainRecord` resource."""

    commit: str | None = None
    release_date: str | None = None
    picks: tuple[str, ...] = ()
    off_master: tuple[str, ...] = ()
    reverts: tuple[str, ...] = ()
    rollback: Rollback | None = None
    rolled_back: tuple[str, ...] = ()
    previous: tuple[Pin, ...] = ()
    log: tuple[Mapping[str, Any], ...] = field(default=())
    carry: tuple[str, ...] = ()  # fixes of the running release the pinned one carries

    @property
    def release(self) -> str | None:
        """The release branch pinned, `release/DATE`, or None."""
        return f"release/{self.release_date}" if self.release_date else None

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON data (the resource's inputs and outputs). Unset values
        are left out, as the engine's serialization drops them."""
        data = {
            "version": RECORD_VERSION,
            "commit": self.commit,
            "releaseDate": self.release_date,
            "picks": [*self.picks],
            "offMaster": [*self.off_master],
            "reverts": [*self.reverts],
            "rollback": (
                {"to": self.rollback.to, "date": self.rollback.date} if self.rollback else None
            ),
            "rolledBack": [*self.rolled_back],
            "carry": [*self.carry],
            "previous": [p.to_dict() for p in self.previous],
            "log": [dict(e) for e in self.log],
        }
        return {k: v for k, v in data.items() if v is not None}

    def as_config(self) -> dict[str, Any]:
        """The intent as the `release-train:*` keys the program's settings are parsed from."""
        raw: dict[str, Any] = {}
        if self.commit and self.release_date:
            raw["commit"] = self.commit
            raw["releaseDate"] = self.release_date
        if self.picks:
            raw["picks"] = [*self.picks]
        if self.off_master:
            raw["offMaster"] = [*self.off_master]
        if self.reverts:
            raw["reverts"] = [*self.reverts]
        if self.rollback:
            raw["rollback"] = {"to": self.rollback.to, "date": self.rollback.date}
        if self.rolled_back:
            raw["rolledBack"] = [*self.rolled_back]
        if self.carry:
            raw["carry"] = [*self.carry]
        return raw


EMPTY = Record()


# --- reading a stored record ------------------------------------------------------------------


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IntentError("the stack's TrainRecord", what, value, _CORRUPT)
    return tuple(value)


_CORRUPT = (
    "the stored record is not one release-train writes; check `pulumi stack export`, "
    "or upgrade release-train if a newer version wrote it"
)


def record_from_dict(data: Mapping[str, Any] | None) -> Record:
    """The record stored in the state (the `TrainRecord`'s outputs); EMPTY for None."""
    if not data:
        return EMPTY
    if not isinstance(data, Mapping):
        raise IntentError("the stack's TrainRecord", "record", data, _CORRUPT)
    version = data.get("version", RECORD_VERSION)
    if version != RECORD_VERSION:
        raise IntentError(
            "the stack's TrainRecord",
            "version",
            version,
            f"this release-train reads version {RECORD_VERSION}; upgrade it to the version "
            "that wrote the record",
        )
    rollback = data.get("rollback")
    if rollback is not None and not (
        isinstance(rollback, Mapping)
        and isinstance(rollback.get("to"), str)
        and isinstance(rollback.get("date"), str)
    ):
        raise IntentError("the stack's TrainRecord", "rollback", rollback, _CORRUPT)
    previous = []
    for item in data.get("previous") or []:
        if not isinstance(item, Mapping) or not all(
            isinstance(item.get(k), str) for k in ("commit", "releaseDate")
        ):
            raise IntentError("the stack's TrainRecord", "previous", item, _CORRUPT)
        previous.append(
            Pin(item["commit"], item["releaseDate"], _strings(item.get("reverts"), "reverts"))
        )
    log = data.get("log") or []
    if not isinstance(log, list) or not all(isinstance(e, Mapping) for e in log):
        raise IntentError("the stack's TrainRecord", "log", log, _CORRUPT)
    for key in ("commit", "releaseDate"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            raise IntentError("the stack's TrainRecord", key, data.get(key), _CORRUPT)
    return Record(
        commit=data.get("commit"),
        release_date=data.get("releaseDate"),
        picks=_strings(data.get("picks"), "picks"),
        off_master=_strings(data.get("offMaster"), "offMaster"),
        reverts=_strings(data.get("reverts"), "reverts"),
        rollback=Rollback(rollback["to"], rollback["date"]) if rollback else None,
        rolled_back=_strings(data.get("rolledBack"), "rolledBack"),
        carry=_strings(data.get("carry"), "carry"),
        previous=tuple(previous),
        log=tuple(dict(e) for e in log),
    )


# --- the delta a command passes -------------------------------------------------------------


def encode_ops(ops: Sequence[Mapping[str, Any]]) -> str:
    """The value of RELEASE_TRAIN_INTENT for `ops` (validated first, so a bad op never leaves)."""
    return json.dumps([dict(op) for op in parse_ops(list(ops))], separators=(",", ":"))


def ops_from_env(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The delta of this run, from RELEASE_TRAIN_INTENT (none: plain `pulumi up`)."""
    text = (env.get(ENV_VAR) or "").strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise IntentError(
            ENV_VAR,
            "value",
            text[:80],
            f"give a JSON list of ops ({err.msg}); it is set by the `release` commands, "
            "unset it for a plain `pulumi up`",
        ) from None
    return parse_ops(data)


def parse_ops(data: Any) -> list[dict[str, Any]]:
    """Validate a delta: a list of op mappings, each with known fields and good values."""
    if not isinstance(data, list):
        raise IntentError(ENV_VAR, "value", data, "give a JSON list of ops, e.g. [{...}]")
    return [_check_op(index, op) for index, op in enumerate(data, start=1)]


def _check_op(index: int, op: Any) -> dict[str, Any]:
    if not isinstance(op, Mapping):
        raise IntentError(f"op {index}", "op", op, 'give a mapping such as {"op": "pick", ...}')
    name = op.get("op")
    if name not in _FIELDS:
        raise IntentError(f"op {index}", "op", name, f"give one of: {', '.join(OPS)}")
    where = f"op {index} ({name})"
    fields = _FIELDS[name]
    for key in op:
        if key not in fields and key not in _META:
            raise IntentError(
                where, key, op[key], f"unknown field; {name} takes {', '.join(fields)}"
            )
    for key, required in fields.items():
        if required and op.get(key) in (None, ""):
            raise IntentError(where, key, None, f"{name} needs {key}")
    out: dict[str, Any] = {"op": name}
    for key in ("id", "by", "at"):
        value = op.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or (key == "id" and not _ID_RE.match(value)):
            raise IntentError(where, key, value, "give a short text of letters, digits, .:@_-")
        out[key] = value[:200]
    for key in fields:
        if key not in op or op[key] is None:
            continue
        out[key] = _check_field(where, key, op[key])
    return out


def _check_field(where: str, key: str, value: Any) -> Any:
    if key in ("commit", "sha"):
        text = str(value).strip().lower() if isinstance(value, str) else value
        if not isinstance(text, str) or not _SHA_RE.match(text):
            raise IntentError(
                where, key, value, "give the full 40-character hex SHA of a commit (git rev-parse)"
            )
        return text
    if key == "date":
        if not isinstance(value, str) or not _DATE_RE.match(value) or not _real_date(value):
            raise IntentError(where, key, value, "give a date as YYYY-MM-DD, e.g. 2026-11-26")
        return value
    if key in ("to", "from", "release"):
        if not isinstance(value, str) or not _RELEASE_RE.match(value):
            raise IntentError(where, key, value, "name a release branch, e.g. release/2026-11-19")
        if not _real_date(value.removeprefix("release/")):
            raise IntentError(where, key, value, "name a release branch with a real date")
        return value
    if key in ("force", "allowOffMaster"):
        if not isinstance(value, bool):
            raise IntentError(where, key, value, "give true or false")
        return value
    if key == "reason":
        if not isinstance(value, str):
            raise IntentError(where, key, value, "give the reason as text")
        return " ".join(value.split())[:500]
    raise AssertionError(key)  # every field of _FIELDS is checked above


def _real_date(text: str) -> bool:
    import datetime as dt

    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


# --- the rules --------------------------------------------------------------------------------


def apply_ops(record: Record, ops: Iterable[Mapping[str, Any]], stack: str = "") -> Record:
    """The record after `ops`, in order. Raises IntentError, naming the op, when one may not
    be applied; then nothing of the delta is applied (the caller records nothing)."""
    checked = parse_ops(list(ops))
    seen = {str(e.get("id")) for e in record.log if e.get("id")}
    for index, op in enumerate(checked, start=1):
        if op.get("id") and op["id"] in seen:
            continue  # applied by an earlier run of the same command
        where = f"op {index} ({op['op']})" + (f" on {stack}" if stack else "")
        changed = _RULES[op["op"]](record, op, where)
        if changed == record:
            continue  # asked for what is already recorded: nothing to write, nothing to log
        record = _logged(changed, op)
        if op.get("id"):
            seen.add(op["id"])
    return record


def _logged(record: Record, op: Mapping[str, Any]) -> Record:
    entry = {k: v for k, v in op.items() if v is not None}
    return replace(record, log=(*record.log, entry)[-LOG_LIMIT:])


def _pin(record: Record, op: Mapping[str, Any], where: str) -> Record:
    release = f"release/{op['date']}"
    rolled_back = record.rolled_back
    if release in rolled_back:
        if not op.get("force"):
            raise IntentError(
                where,
                "date",
                op["date"],
                f"{release} was rolled back; promote it again only once the cause is "
                "fixed, with --force",
            )
        rolled_back = tuple(r for r in rolled_back if r != release)
    previous, reverts, carry = record.previous, record.reverts, record.carry
    if record.release_date != op["date"]:
        carry = ()  # another release carries what its own promotion names
    if record.commit and record.release_date and record.release_date != op["date"]:
        # Another release: the one pinned so far is what `abandon` returns to, and its
        # reverts (commits of its own branch) stay there.
        previous = (*previous, Pin(record.commit, record.release_date, reverts))
        previous = previous[-PREVIOUS_LIMIT:]
        reverts = ()
    return replace(
        record,
        commit=op["commit"],
        release_date=op["date"],
        reverts=reverts,
        carry=carry,
        rollback=None,  # a promotion ends any rollback (its branch and PR stay)
        rolled_back=rolled_back,
        previous=previous,
    )


def _pick(record: Record, op: Mapping[str, Any], _where: str) -> Record:
    sha = op["sha"]
    picks = record.picks if sha in record.picks else (*record.picks, sha)
    off = record.off_master
    if op.get("allowOffMaster") and sha not in off:
        off = (*off, sha)
    return replace(record, picks=picks, off_master=off)


def _drop_pick(record: Record, op: Mapping[str, Any], where: str) -> Record:
    sha = op["sha"]
    if sha not in record.picks:
        queued = ", ".join(p[:12] for p in record.picks) or "none"
        raise IntentError(
            where, "sha", sha, f"it is not a queued pick (queued: {queued}); nothing to drop"
        )
    return replace(
        record,
        picks=tuple(p for p in record.picks if p != sha),
        off_master=tuple(p for p in record.off_master if p != sha),
    )


def _revert(record: Record, op: Mapping[str, Any], where: str) -> Record:
    if not record.release_date:
        raise IntentError(
            where,
            "sha",
            op["sha"],
            "no release is pinned on this stack; promote one first (release promote), then "
            "revert a commit of its branch",
        )
    sha = op["sha"]
    reverts = record.reverts if sha in record.reverts else (*record.reverts, sha)
    return replace(record, reverts=reverts)


def _drop_revert(record: Record, op: Mapping[str, Any], where: str) -> Record:
    sha = op["sha"]
    if sha not in record.reverts:
        queued = ", ".join(r[:12] for r in record.reverts) or "none"
        raise IntentError(where, "sha", sha, f"it is not a queued revert (queued: {queued})")
    return replace(record, reverts=tuple(r for r in record.reverts if r != sha))


def _rollback(record: Record, op: Mapping[str, Any], where: str) -> Record:
    target, current = op["to"], op.get("from")
    force = bool(op.get("force"))
    if current == target:
        raise IntentError(where, "to", target, f"the environment already runs {target}")
    ongoing = record.rollback
    if ongoing and ongoing.to != target and not force:
        raise IntentError(
            where,
            "to",
            target,
            f"a rollback to {ongoing.to} is in progress; continue it (--to {ongoing.to}) "
            "or replace it with --force",
        )
    if target in record.rolled_back and not force:
        raise IntentError(
            where, "to", target, f"{target} was itself rolled back; use --force to go to it"
        )
    day = ongoing.date if ongoing and ongoing.to == target else op["date"]
    rolled = record.rolled_back
    if current and current not in rolled:
        rolled = (*rolled, current)
    return replace(record, rollback=Rollback(target, day), rolled_back=rolled)


def _abandon(record: Record, op: Mapping[str, Any], where: str) -> Record:
    release = op["release"]
    if record.release and record.release != release:
        raise IntentError(
            where,
            "release",
            release,
            f"the stack's record pins {record.release}, not {release}; run "
            "`release status` and abandon the release it shows",
        )
    if not record.release:
        return record  # pinned before the record existed: nothing to return to
    if not record.previous:
        # The stack's first release: nothing to go back to, so nothing stays pinned.
        return replace(record, commit=None, release_date=None, reverts=())
    back = record.previous[-1]
    return replace(
        record,
        commit=back.commit,
        release_date=back.release_date,
        reverts=back.reverts,
        previous=record.previous[:-1],
    )


def _carry(record: Record, op: Mapping[str, Any], where: str) -> Record:
    if not record.release:
        raise IntentError(
            where, "sha", op["sha"], "nothing is pinned to carry it into; pass --carry to promote"
        )
    if op["sha"] in record.carry:
        return record
    return replace(record, carry=(*record.carry, op["sha"]))


_RULES = {
    "pin": _pin,
    "pick": _pick,
    "drop-pick": _drop_pick,
    "revert": _revert,
    "drop-revert": _drop_revert,
    "rollback": _rollback,
    "abandon": _abandon,
    "carry": _carry,
}


# --- the old place of intent ------------------------------------------------------------------


class LegacyIntentError(ValueError):
    """A stack file still pins intent; the message names the keys and the commands that
    move them into the stack's record (`problem` and `fix` apart, for the command line)."""

    def __init__(self, stack: str, problem: str, fix: str) -> None:
        self.file = f"Pulumi.{stack}.yaml"
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.file} {problem}. {fix[:1].upper()}{fix[1:]}")


def refuse_legacy(stack: str, raw: Mapping[str, Any]) -> None:
    """Raise LegacyIntentError when `Pulumi.<stack>.yaml` still sets an intent key."""
    if legacy_keys(raw):
        raise LegacyIntentError(stack, *legacy_parts(stack, raw))


def legacy_keys(raw: Mapping[str, Any]) -> list[str]:
    """The intent keys a stack file still sets (`release-train:*`, without the namespace)."""
    return [key for key in LEGACY_KEYS if raw.get(key) not in (None, "", [], {}, "[]", "{}")]


def legacy_message(stack: str, raw: Mapping[str, Any]) -> str:
    """Why a stack file that still pins intent is refused, and the commands that move it."""
    return str(LegacyIntentError(stack, *legacy_parts(stack, raw)))


def legacy_parts(stack: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    """(problem, fix) of a stack file that still pins intent: the keys it sets, then how to
    remove them and the commands that record the same intent in the stack's record."""
    keys = legacy_keys(raw)
    removes = " && ".join(f"pulumi config rm release-train:{k} -s {stack}" for k in keys)
    moves = []
    if raw.get("commit") or raw.get("releaseDate"):
        moves.append(
            f"release promote {stack} --commit {raw.get('commit') or '<sha>'} "
            f"--date {raw.get('releaseDate') or '<YYYY-MM-DD>'}"
        )
    picks = _listed(raw.get("picks"))
    if picks:
        flag = " --allow-off-master" if str(raw.get("allowOffMaster")).lower() == "true" else ""
        moves.append(f"release cherry-pick {stack} {' '.join(picks)}{flag}")
    for sha in _listed(raw.get("reverts")):
        moves.append(f"release revert {stack} {sha}")
    if raw.get("rollback"):
        moves.append(f"release rollback {stack} --to <release>")
    carried = _listed(raw.get("carry"))
    if carried:
        flags = " ".join(f"--carry {sha}" for sha in carried)
        moves.append(f'release promote {stack} {flags} --reason "..."')
    listing = ", ".join(f"release-train:{k}" for k in keys)
    problem = (
        f"sets {listing}: operational intent is no longer kept in the stack file but in the "
        "stack's state, shared by every operator and CI runner"
    )
    fix = f"remove it ({removes})"
    if moves:
        fix += ", then record it with: " + "; ".join(moves)
    return problem, fix


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


# --- what the command line shows --------------------------------------------------------------


def describe(record: Record) -> list[str]:
    """One line per piece of intent (for `release status` and `release plan`)."""
    lines = []
    if record.release:
        lines.append(f"pinned: {record.release} at {(record.commit or '')[:12]}")
    for sha in record.picks:
        mark = " (off master allowed)" if sha in record.off_master else ""
        lines.append(f"queued pick {sha[:12]}{mark}")
    for sha in record.reverts:
        lines.append(f"queued revert {sha[:12]}")
    for sha in record.carry:
        lines.append(f"carried from the running release: {sha[:12]}")
    if record.rollback:
        lines.append(f"rollback to {record.rollback.to} (since {record.rollback.date})")
    for release in record.rolled_back:
        lines.append(f"rolled back: {release}")
    if record.log:
        last = record.log[-1]
        who = f" by {last['by']}" if last.get("by") else ""
        when = f" at {last['at']}" if last.get("at") else ""
        lines.append(f"last recorded: {last.get('op')}{who}{when}")
    return lines
