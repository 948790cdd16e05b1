"""How a run of the train ended, in words, over plain data (no I/O).

- A merge gate that is closed is a state, not a failure: the Merge resource records
  `gate_state: waiting` with its reasons, the program exports them as `gate` (and
  `dayTwo.rollback.gate`), and `gate_block` turns them into the short block the command line
  prints before exiting with its gate-wait code.
- An *expected* refusal raised by a provider (a pick conflict, an off-master pick, a moved
  branch, merges not allowed, a branch name taken) reaches the command line only as the
  engine's error text; `expected_refusal` finds it there by its exception class and keeps its
  message. Anything else is unexpected and is shown as such.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# The exception classes a provider raises for a refusal the user can act on. Their
# messages already name the commit, the files or the branch, and the fix.
EXPECTED_REFUSALS = (
    "PickConflict",
    "PickRefused",
    "BranchMoved",
    "MergesNotAllowed",
    "BranchExistsElsewhere",
)
_REFUSAL = re.compile(r"^\s*(?:error:\s*)?(?:[\w.]+\.)?(" + "|".join(EXPECTED_REFUSALS) + r"): ")
# Lines of the engine's own report that end a provider's message in the error text.
_ENGINE_NOISE = re.compile(
    r"^\s*(?:error:|warning:|Resources:|Diagnostics:|Outputs:|Duration:|Traceback |"
    r"File \"|pulumi:|[a-z-]+:[a-z]+:[A-Za-z]+ \()"
)


def expected_refusal(text: str) -> tuple[str, str] | None:
    """(class name, message) of the last expected refusal in an engine error's text, or None.

    The message runs from the class's line to the first blank line or engine line after it.
    """
    lines = text.splitlines()
    found: tuple[str, str] | None = None
    for i, line in enumerate(lines):
        match = _REFUSAL.match(line)
        if not match:
            continue
        message = [line[match.end() :].strip()]
        for more in lines[i + 1 :]:
            if not more.strip() or _ENGINE_NOISE.match(more) or _REFUSAL.match(more):
                break
            message.append(more.rstrip())
        found = (match.group(1), "\n".join(message).strip())
    return found


def gate_of(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The recorded gate of a promotion's (or rollback's) outputs when it waits, else None."""
    gate = (values or {}).get("gate")
    if isinstance(gate, Mapping) and gate.get("state") == "waiting":
        return {"state": "waiting", "reasons": [str(r) for r in gate.get("reasons") or []]}
    return None


def split_reasons(reasons: Sequence[str]) -> dict[str, list[str]]:
    """The gate's reasons by kind: checks, approvals, other (as the summary lists them)."""
    checks = [r for r in reasons if r.startswith("check ")]
    approvals = [r for r in reasons if "approval" in r or "requested changes" in r]
    other = [r for r in reasons if r not in checks and r not in approvals]
    return {"checks": checks, "approvals": approvals, "other": other}


def gate_block(env: str, values: Mapping[str, Any]) -> list[str] | None:
    """The lines `release` prints when `env`'s promotion or rollback waits at its merge gate
    (from the stack's outputs), or None when nothing waits."""
    waits: list[tuple[str, Mapping[str, Any], dict[str, Any]]] = []
    gate = gate_of(values)
    if gate:
        waits.append(("release", values, gate))
    rollback = ((values.get("dayTwo") or {}) if isinstance(values, Mapping) else {}).get("rollback")
    back = gate_of(rollback) if isinstance(rollback, Mapping) else None
    if back and isinstance(rollback, Mapping):
        waits.append(("rollback", rollback, back))
    if not waits:
        return None
    lines: list[str] = []
    for what, where, found in waits:
        name = (
            values.get("releaseBranch") if what == "release" else f"rollback to {where.get('to')}"
        )
        head = where.get("releaseHead") if what == "release" else where.get("commit")
        number, url = where.get("prNumber"), where.get("prUrl")
        lines.append(f"{env}: {name or 'the promotion'} waits at the merge gate")
        lines.append(f"  pull request: #{number} {url or ''}".rstrip())
        lines.append(f"  head: {head or '-'}")
        kinds = split_reasons(found["reasons"])
        for label, key in (("missing check", "checks"), ("missing approval", "approvals")):
            lines.extend(f"  {label}: {r}" for r in kinds[key])
        lines.extend(f"  also: {r}" for r in kinds["other"])
    lines.append(
        f"  next: once the checks are green and the approvals given, run `release promote {env}`"
        " (it merges; nothing else changes meanwhile)"
    )
    return lines


def promotion_summary(values: Mapping[str, Any]) -> list[str]:
    """The few lines `release promote` prints after its `up`: the release, the PR, the gate's
    state, the payload's size and its pins (the whole payload is `release payload ENV`)."""
    if values.get("greenCommit") and not values.get("releaseBranch"):
        return [f"  green commit: {values['greenCommit']}"]
    lines = [
        f"  release: {values.get('releaseBranch') or '-'} at {values.get('releaseHead') or '-'}"
    ]
    if values.get("prNumber") is not None:
        lines.append(f"  pull request: #{values['prNumber']} {values.get('prUrl') or ''}".rstrip())
    gate = values.get("gate") if isinstance(values.get("gate"), Mapping) else {}
    state = (gate or {}).get("state") or values.get("state") or "-"
    merge = values.get("mergeCommit")
    lines.append(f"  gate: {state}" + (f" (merge commit {merge})" if merge else ""))
    payload = values.get("payloadSummary") or values.get("payload")
    if isinstance(payload, Mapping):
        commits = payload.get("commits") or []
        count = commits if isinstance(commits, int) else len(commits)
        pins = [
            f"{p.get('name')} {p.get('before') or '-'} -> {p.get('after') or '-'}"
            for p in payload.get("pins") or []
            if isinstance(p, Mapping)
        ]
        lines.append(f"  payload: {count} commit(s); pins: {', '.join(pins) or 'none'}")
    return lines
