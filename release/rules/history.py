"""`release history ENV`: the stack's update history as release events.

Pure: turns the entries of `stack.history()` (as plain dicts: version, kind, start_time,
message, environment, config, result) into rows saying who, when, what kind (promotion,
pick, revert, rollback, abandon), which release and commit, and which pull request.

The command line stamps each update's message (`release-train:KIND summary | key=value ...`),
so an entry says what it was; an update run some other way (plain `pulumi up`) is classified
from how its config differs from the update before it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from release.rules.config import NAMESPACE, as_list, release_name, structured

KINDS = ("promotion", "pick", "revert", "rollback", "abandon")
_STAMP = re.compile(r"^release-train:([a-z][a-z-]*) (.*?)(?: \| (.*))?$", re.S)
_FIELD = re.compile(r"([a-z]+)=(\S+)")


def stamp(kind: str, summary: str, **fields: object) -> str:
    """The update message the command line gives `up` (one line, parsed back by `parse`)."""
    pairs = " ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, ""))
    text = f"release-train:{kind} {' '.join(summary.split())}"
    return f"{text} | {pairs}" if pairs else text


def parse_stamp(message: str | None) -> tuple[str | None, str, dict[str, str]]:
    """(kind, summary, fields) of a stamped message; (None, message, {}) otherwise."""
    match = _STAMP.match((message or "").strip())
    if not match:
        return None, (message or "").strip(), {}
    return match.group(1), match.group(2), dict(_FIELD.findall(match.group(3) or ""))


@dataclass(frozen=True)
class Row:
    version: int | None
    when: str
    who: str
    kind: str
    release: str | None
    commit: str | None
    pr: int | None
    summary: str
    result: str
    outcome: str = ""  # requested, waiting at the gate, landed, failed, done (with_outcomes)
    made: str | None = None  # the commit this event made: the pick, revert, rollback or head
    merge_commit: str | None = None  # the merge that landed it, once landed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(config: Mapping[str, Any], key: str) -> Any:
    raw = config.get(f"{NAMESPACE}:{key}")
    if isinstance(raw, Mapping):  # {"value": ..., "secret": ...} as the CLI prints it
        raw = raw.get("value")
    if hasattr(raw, "value"):  # an automation ConfigValue
        raw = raw.value
    return structured(raw)


def _list(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)]


def classify(config: Mapping[str, Any], before: Mapping[str, Any] | None) -> tuple[str, str]:
    """(kind, summary) of an unstamped update, from its config against the one before."""
    before = before or {}
    new_picks = [
        p for p in _list(_value(config, "picks")) if p not in _list(_value(before, "picks"))
    ]
    new_reverts = [
        r for r in _list(_value(config, "reverts")) if r not in _list(_value(before, "reverts"))
    ]
    rollback = _value(config, "rollback")
    if rollback and rollback != _value(before, "rollback"):
        to = rollback.get("to") if isinstance(rollback, Mapping) else rollback
        return "rollback", f"rollback to {to}"
    if new_reverts:
        return "revert", "revert " + ", ".join(r[:12] for r in new_reverts)
    if new_picks:
        return "pick", "cherry-pick " + ", ".join(p[:12] for p in new_picks)
    commit, date = _value(config, "commit"), _value(config, "releaseDate")
    if commit and (commit, date) != (_value(before, "commit"), _value(before, "releaseDate")):
        return "promotion", f"promote {commit[:12]}"
    return "update", "update"


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value or "")


def _who(fields: Mapping[str, str], environment: Mapping[str, Any]) -> str:
    return (
        fields.get("by")
        or str(environment.get("git.author") or environment.get("git.committer") or "")
        or "unknown"
    )


def _int(value: Any) -> int | None:
    try:
        return int(str(value).lstrip("#"))
    except (TypeError, ValueError):
        return None


def rows(entries: Sequence[Mapping[str, Any]], everything: bool = False) -> list[Row]:
    """History rows, newest first. Plain updates and refreshes are left out unless asked."""
    ordered = sorted(entries, key=lambda e: (e.get("version") or 0, _when(e.get("start_time"))))
    out: list[Row] = []
    before: Mapping[str, Any] | None = None
    for entry in ordered:
        config = entry.get("config") or {}
        kind, summary, fields = parse_stamp(entry.get("message"))
        if entry.get("kind", "update") != "update" and kind is None:
            # An unstamped refresh or destroy; a stamped one (abandon's refresh) keeps its kind.
            kind, summary = str(entry.get("kind")), summary or str(entry.get("kind"))
        elif kind is None:
            kind, summary = classify(config, before)
        date = _value(config, "releaseDate")
        release = fields.get("release") or (release_name(_date(date)) if date else None)
        rollback = _value(config, "rollback")
        if kind == "rollback" and not fields.get("release") and isinstance(rollback, Mapping):
            # What the environment runs after it: the restored release, as `status` says.
            release = str(rollback.get("to") or release)
        row = Row(
            version=entry.get("version"),
            when=_when(entry.get("start_time")),
            who=_who(fields, entry.get("environment") or {}),
            kind=kind,
            release=release,
            commit=fields.get("commit") or _value(config, "commit"),
            pr=_int(fields.get("pr")),
            summary=summary,
            result=str(entry.get("result") or ""),
        )
        if everything or row.kind in KINDS:
            out.append(row)
        if entry.get("result") in (None, "succeeded"):
            before = config
    return list(reversed(out))


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def with_pr(history: Iterable[Row], outputs: Mapping[str, Any]) -> list[Row]:
    """Fill in PRs from the stack's current outputs (an update's message is written before
    its pull request exists): the release PR on the newest successful promotion, pick or
    revert of the release the stack runs, the rollback PR on the newest successful rollback."""
    release_pr = _int(outputs.get("prNumber"))
    rollback_pr = _int(((outputs.get("dayTwo") or {}).get("rollback") or {}).get("prNumber"))
    out, release_done, rollback_done = [], False, False
    for row in history:
        if row.result == "succeeded" and row.pr is None:
            if row.kind == "rollback" and not rollback_done:
                rollback_done = True
                row = Row(**{**row.to_dict(), "pr": rollback_pr})
            elif (
                row.kind in ("promotion", "pick", "revert")
                and not release_done
                and row.release == outputs.get("releaseBranch")
            ):
                release_done = True
                row = Row(**{**row.to_dict(), "pr": release_pr})
        out.append(row)
    return out


def _gate_state(values: Mapping[str, Any]) -> str:
    gate = values.get("gate")
    if isinstance(gate, Mapping) and gate.get("state"):
        return str(gate["state"])
    return "merged" if values.get("state") == "merged" else "waiting"


def _made(items: Any, requested: str | None) -> str | None:
    """The commits made for the requested SHAs (12-character prefixes, comma-separated)."""
    wanted = [w for w in (requested or "").split(",") if w]
    made = [
        str(item.get("commit"))
        for item in items or []
        if isinstance(item, Mapping)
        and item.get("commit")
        and any(str(item.get("sha") or "").startswith(w) for w in wanted)
    ]
    return ",".join(made) or None


def with_outcomes(history: Iterable[Row], outputs: Mapping[str, Any]) -> list[Row]:
    """Say what happened to each event, from its update's result and the stack's outputs now:
    failed (its update failed), waiting at the gate, landed (with the merge commit), requested
    (no longer in the stack's release), done (an abandon). Each pick, revert, rollback and
    promotion row carries the commit it made (`made`); a rollback's `commit` is its own."""
    day_two = outputs.get("dayTwo") or {}
    current = outputs.get("releaseBranch")
    state = _gate_state(outputs)
    back = day_two.get("rollback") if isinstance(day_two.get("rollback"), Mapping) else None
    out: list[Row] = []
    rollback_seen = False
    for row in history:
        changes: dict[str, Any] = {}
        if row.result == "failed":
            changes["outcome"] = "failed"
        elif row.kind == "abandon":
            changes["outcome"] = "done"
        elif row.kind == "rollback":
            if back and not rollback_seen:
                rollback_seen = True
                made = back.get("commit")
                landed = _gate_state(back) == "merged"
                changes = {
                    "made": made,
                    "commit": made or row.commit,
                    "outcome": "landed" if landed else "waiting at the gate",
                    "merge_commit": back.get("mergeCommit") if landed else None,
                }
            else:
                changes["outcome"] = "requested"
        elif row.kind in ("pick", "revert", "promotion"):
            if row.kind == "promotion":
                made = outputs.get("releaseHead") if row.release == current else None
            else:
                made = _made(day_two.get(f"{row.kind}s"), row.commit)
            if made and row.release in (None, current):
                landed = state == "merged"
                changes = {
                    "made": made,
                    "outcome": "landed" if landed else "waiting at the gate",
                    "merge_commit": outputs.get("mergeCommit") if landed else None,
                }
            else:
                changes["outcome"] = "requested"
        else:
            changes["outcome"] = row.result
        out.append(Row(**{**row.to_dict(), **changes}))
    return out
