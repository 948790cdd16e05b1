"""The sandbox's PPC update job, and the readers behind `release ppc status`.

On GitHub a PPC's update is a workflow the rollout dispatches and waits for. In the sandbox
it is this command, which "deploys" a release to one PPC by recording it:

    python -m release.ppc_deploy --state DIR --ppc NAME --release NAME --commit SHA [--seconds S]

It records, in DIR/ppcs.json, which release and commit the PPC now runs and when. Runs for
PPCs of one wave start in parallel, so every update takes an exclusive lock on
DIR/ppcs.json.lock, reads, changes its own entry and replaces the file atomically: no run
loses another's record, and a reader never sees half a file.

To make a PPC's update fail (as a demo or a test of a halted rollout), put its name on a
line of DIR/fail: the job then exits 1 with a message and records nothing. Remove the line
and run `up` again to continue the rollout.

Only the standard library is imported here: the rollout starts this job once per PPC.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

STATE_FILE = "ppcs.json"
LOCK_FILE = "ppcs.json.lock"
FAIL_FILE = "fail"
FORMAT_VERSION = 1

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class PpcStateError(ValueError):
    """The PPC state file cannot be read as this module wrote it."""


class PpcDeployError(RuntimeError):
    """A PPC update that failed; the message says which PPC and why."""


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
            "deployedAt": _format_time(self.deployed_at) if self.deployed_at else None,
            "lags": self.lags,
            "status": self.status,
            "detail": self.detail,
        }


# --- pure logic ------------------------------------------------------------------------------


def _format_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def failing_ppcs(fail_text: str) -> set[str]:
    """The PPC names listed in a fail file: one per line; blanks and `#` comments ignored."""
    names = set()
    for line in fail_text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def parse_state(text: str, source: str = STATE_FILE) -> dict[str, PpcRecord]:
    """Parse the state file's text into PPC name -> record."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            raise PpcStateError(
                f"{source}: format version {data.get('version')!r}, expected {FORMAT_VERSION}"
            )
        return {
            name: PpcRecord(
                release=entry["release"],
                commit=entry["commit"],
                deployed_at=_parse_time(entry["deployedAt"]),
            )
            for name, entry in data["ppcs"].items()
        }
    except PpcStateError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PpcStateError(
            f"{source} is not a PPC state file ({type(exc).__name__}: {exc}); "
            "move it aside and re-run the rollout to record the PPCs again"
        ) from None


def render_state(records: dict[str, PpcRecord]) -> str:
    """The state file's text for the given records (sorted, stable)."""
    return (
        json.dumps(
            {
                "version": FORMAT_VERSION,
                "ppcs": {
                    name: {
                        "release": rec.release,
                        "commit": rec.commit,
                        "deployedAt": _format_time(rec.deployed_at),
                    }
                    for name, rec in sorted(records.items())
                },
            },
            indent=2,
        )
        + "\n"
    )


def ppc_status(
    ppcs: Sequence[_HasNameAndWave],
    state: dict[str, PpcRecord],
    production_release: str | None,
    production_commit: str | None = None,
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


# --- I/O -------------------------------------------------------------------------------------


def read_ppc_state(state_dir: str | os.PathLike[str]) -> dict[str, PpcRecord]:
    """Read DIR/ppcs.json (missing: no PPC deployed yet). Never writes."""
    path = Path(state_dir) / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return parse_state(text, str(path))


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    with open(state_dir / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
    if not _NAME.match(ppc):
        raise PpcDeployError(f"PPC name {ppc!r} is not valid (pattern ^[a-z0-9][a-z0-9-]*$)")
    if not release or not commit:
        raise PpcDeployError(f"PPC {ppc}: --release and --commit must not be empty")
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    if seconds > 0:
        time.sleep(seconds)
    fail_path = directory / FAIL_FILE
    try:
        failing = failing_ppcs(fail_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        failing = set()
    if ppc in failing:
        raise PpcDeployError(
            f"PPC {ppc}: update to {release} failed: {fail_path} lists this PPC "
            "(remove the line and run the rollout again)"
        )
    record = PpcRecord(release, commit, (now or datetime.now(UTC)).replace(microsecond=0))
    with _locked(directory):
        records = read_ppc_state(directory)
        records[ppc] = record
        _write_atomically(directory / STATE_FILE, render_state(records))
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """The job's command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m release.ppc_deploy",
        description="Deploy a release to one sandbox PPC by recording it in DIR/ppcs.json.",
    )
    parser.add_argument("--state", required=True, metavar="DIR", help="the PPC state folder")
    parser.add_argument("--ppc", required=True, metavar="NAME", help="the PPC to update")
    parser.add_argument("--release", required=True, metavar="NAME", help="e.g. release/2026-11-26")
    parser.add_argument("--commit", required=True, metavar="SHA", help="the release's commit")
    parser.add_argument(
        "--seconds", type=float, default=0.0, metavar="S", help="simulate a job this long"
    )
    args = parser.parse_args(argv)
    try:
        record = deploy(args.state, args.ppc, args.release, args.commit, args.seconds)
    except (PpcDeployError, PpcStateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"PPC {args.ppc} now runs {record.release} ({record.commit[:12]}) "
        f"since {_format_time(record.deployed_at)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
