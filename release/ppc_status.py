"""The readers behind `release ppc status`: the PPC state file as records, and the lag.

The sandbox's PPC job (release.ppc_deploy) writes DIR/ppcs.json; this module reads it into
`PpcRecord`s and compares each configured PPC with production (`ppc_status`). It lives apart
from the job so that the job, started once per PPC, imports none of this (dataclasses and
typing are among the slower standard modules to import). `deploy`, the job's step that
returns a `PpcRecord`, lives here too, so that the job imports nothing back from here.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from release.ppc_deploy import (
    STATE_FILE,
    PpcStateError,
    _deploy,
    dump_entries,
    format_time,
    load_entries,
    parse_time,
)

__all__ = [
    "PpcRecord",
    "deploy",
    "PpcStateError",
    "PpcStatusRow",
    "parse_state",
    "ppc_status",
    "read_ppc_state",
    "read_failures",
    "record_failures",
    "render_state",
]

FAILURES_FILE = "failures.json"
"""DIR/failures.json: the PPCs whose last update failed, and why (written by `release
promote` from what the engine reported, whatever the ppcCommand; a PPC updated since is
taken out)."""


@dataclass(frozen=True)
class PpcRecord:
    """What one PPC runs: the release, its commit, and when it was deployed (UTC)."""

    release: str
    commit: str
    deployed_at: datetime


class _HasNameAndWave(Protocol):
    name: str
    wave: int


@dataclass(frozen=True)
class PpcStatusRow:
    """One line of `release ppc status`."""

    name: str
    wave: int | None  # None: recorded in the state, but no longer configured
    release: str | None  # None: never deployed
    commit: str | None
    deployed_at: datetime | None
    lags: bool
    status: str  # "current", "lags", "never deployed", "not configured"
    detail: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view of the row (for `--json`)."""
        return {
            "name": self.name,
            "wave": self.wave,
            "release": self.release,
            "commit": self.commit,
            "deployedAt": format_time(self.deployed_at) if self.deployed_at else None,
            "lags": self.lags,
            "status": self.status,
            "detail": self.detail,
        }


def parse_state(text: str, source: str = STATE_FILE) -> dict[str, PpcRecord]:
    """Parse the state file's text into PPC name -> record."""
    return {
        name: PpcRecord(entry["release"], entry["commit"], parse_time(entry["deployedAt"]))
        for name, entry in load_entries(text, source).items()
    }


def render_state(records: dict[str, PpcRecord]) -> str:
    """The state file's text for the given records (sorted, stable)."""
    return dump_entries(
        {
            name: {
                "release": rec.release,
                "commit": rec.commit,
                "deployedAt": format_time(rec.deployed_at),
            }
            for name, rec in records.items()
        }
    )


def read_ppc_state(state_dir: str | os.PathLike[str]) -> dict[str, PpcRecord]:
    """Read DIR/ppcs.json (missing: no PPC deployed yet). Never writes."""
    path = Path(state_dir) / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return parse_state(text, str(path))


def read_failures(state_dir: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """DIR/failures.json as {ppc: {"release", "why", "at"}}; missing or unreadable: none."""
    try:
        data = json.loads((Path(state_dir) / FAILURES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k): {str(a): str(b) for a, b in v.items()}
        for k, v in data.items()
        if isinstance(v, dict)
    }


def record_failures(
    state_dir: str | os.PathLike[str],
    release: str,
    failed: Mapping[str, str],
    updated: Iterable[str] = (),
    now: datetime | None = None,
) -> None:
    """Note the PPCs that `failed` (name -> why) updating to `release`, and take out those
    `updated` since; written to a temporary file, then renamed (no partial file)."""
    known = read_failures(state_dir)
    for name in updated:
        known.pop(name, None)
    when = format_time(now or datetime.now().astimezone())
    for name, why in failed.items():
        known[name] = {"release": release, "why": why, "at": when}
    folder = Path(state_dir)
    if not known and not (folder / FAILURES_FILE).exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".failures-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(known, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(temp, folder / FAILURES_FILE)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _updated_since(record: PpcRecord | None, failed_at: str) -> bool:
    """The PPC's state records an update after its failure (whoever ran it)."""
    if record is None:
        return False
    try:
        return record.deployed_at > parse_time(failed_at)
    except ValueError:
        return False


def ppc_status(
    ppcs: Sequence[_HasNameAndWave],
    state: dict[str, PpcRecord],
    production_release: str | None,
    production_commit: str | None = None,
    failures: Mapping[str, Mapping[str, str]] | None = None,
) -> list[PpcStatusRow]:
    """For each PPC (by wave, then name): the release it runs, since when, and whether it
    lags production. PPCs found in the state but no longer configured come last.

    A PPC lags when production runs a release and the PPC runs another one, none at all,
    or (when `production_commit` is given) an older commit of the same release.
    """
    rows: list[PpcStatusRow] = []
    configured = sorted(ppcs, key=lambda p: (p.wave, p.name))
    for ppc in configured:
        rec = state.get(ppc.name)
        if rec is None:
            lags = production_release is not None
            detail = (
                f"never deployed; production runs {production_release}"
                if lags
                else "never deployed"
            )
            rows.append(
                PpcStatusRow(ppc.name, ppc.wave, None, None, None, lags, "never deployed", detail)
            )
            continue
        lags, detail = _lag(rec, production_release, production_commit)
        rows.append(
            PpcStatusRow(
                ppc.name,
                ppc.wave,
                rec.release,
                rec.commit,
                rec.deployed_at,
                lags,
                "lags" if lags else "current",
                detail,
            )
        )
    failed = {
        name: why
        for name, why in (failures or {}).items()
        if not _updated_since(state.get(name), why.get("at", ""))
    }
    rows = [
        PpcStatusRow(
            row.name,
            row.wave,
            row.release,
            row.commit,
            row.deployed_at,
            True,
            "FAILED",
            f"the update to {failed[row.name].get('release')} failed "
            f"({failed[row.name].get('at')}): {failed[row.name].get('why')}",
        )
        if row.name in failed
        else row
        for row in rows
    ]
    names = {p.name for p in configured}
    for name in sorted(set(state) - names):
        rec = state[name]
        rows.append(
            PpcStatusRow(
                name,
                None,
                rec.release,
                rec.commit,
                rec.deployed_at,
                False,
                "not configured",
                "recorded, but not in the stack's PPC list",
            )
        )
    return rows


def _lag(
    rec: PpcRecord, production_release: str | None, production_commit: str | None
) -> tuple[bool, str]:
    if production_release is None:
        return False, "production has no release yet"
    if rec.release != production_release:
        return True, f"runs {rec.release}, production runs {production_release}"
    if production_commit and rec.commit != production_commit:
        return True, (
            f"runs {rec.release} at {rec.commit[:12]}, production runs it at "
            f"{production_commit[:12]}"
        )
    return False, f"runs production's release {production_release}"


def deploy(
    state_dir: str | os.PathLike[str],
    ppc: str,
    release: str,
    commit: str,
    seconds: float = 0.0,
    now: datetime | None = None,
) -> PpcRecord:
    """Run one PPC's (simulated) update: wait `seconds`, then record the release.

    Raises PpcDeployError, recording nothing, when DIR/fail names the PPC.
    """
    return PpcRecord(release, commit, _deploy(state_dir, ppc, release, commit, seconds, now)[0])
