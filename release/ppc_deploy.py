"""The sandbox's PPC update job (the readers behind `release ppc status` are in ppc_status).

On GitHub a PPC's update is a workflow the rollout dispatches and waits for. In the sandbox
it is this command, which "deploys" a release to one PPC by recording it:

    python -m release.ppc_deploy --state DIR --ppc NAME --release NAME --commit SHA [--seconds S]

It records, in DIR/ppcs.json, which release and commit the PPC now runs and when. Runs for
PPCs of one wave start in parallel, so every update takes an exclusive lock on
DIR/ppcs.json.lock, reads, changes its own entry and replaces the file atomically: no run
loses another's record, and a reader never sees half a file.

A PPC is updated once per release commit, whatever re-runs the rollout makes after a crash
(the contract every `ppcCommand` keeps; see the README): before acting, the job looks at the
PPC under the lock. Already on the commit: it says so and exits 0, updating nothing. Being
updated to the commit by another job that still runs (a killed run's leftover): it waits for
that job's outcome. Otherwise it marks the update as its own ("updating" in ppcs.json, with
its pid, so that a job killed mid-update is known as dead and its update run once by the
next one), runs it, and records it, adding a line to DIR/updates.log (one per update run).

To make a PPC's update fail (as a demo or a test of a halted rollout), put its name on a
line of DIR/fail: the job then exits 1 with a message and records nothing. Remove the line
and run `up` again to continue the rollout.

The rollout starts this job once per PPC (500 PPCs: 500 interpreters, a wave of them at
once on a small machine), so its path imports only what it needs and what the interpreter
has mostly loaded already: os, sys, time, fcntl, json (and re through it), datetime. Not
argparse (only to report bad arguments or print --help), nor tempfile, pathlib,
dataclasses, typing, nor the rest of the release package: together those more than
doubled the job's start-up cost. `PpcRecord`, `read_ppc_state`, `ppc_status` and the other
readers live in release.ppc_status.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from datetime import UTC, datetime

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (type checkers know it)
if TYPE_CHECKING:
    from collections.abc import Sequence

STATE_FILE = "ppcs.json"
LOCK_FILE = "ppcs.json.lock"
FAIL_FILE = "fail"
UPDATES_LOG = "updates.log"
WAIT_POLL = 0.2  # seconds between looks at another job's update of the same PPC and commit
FORMAT_VERSION = 1

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class PpcStateError(ValueError):
    """The PPC state file cannot be read as this module wrote it."""


class PpcDeployError(RuntimeError):
    """A PPC update that failed; the message says which PPC and why."""


# --- the state file's format -----------------------------------------------------------------


def format_time(when: datetime) -> str:
    """A time as the state file writes it: UTC, to the second, e.g. 2026-11-26T09:30:00Z."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The inverse of format_time (also accepts an explicit offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def failing_ppcs(fail_text: str) -> set[str]:
    """The PPC names listed in a fail file: one per line; blanks and `#` comments ignored."""
    names = set()
    for line in fail_text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def load_entries(text: str, source: str = STATE_FILE) -> dict[str, dict[str, str]]:
    """The state file's entries, PPC name -> {"release", "commit", "deployedAt"}.

    Checks the format version and every entry (its time is re-written in the file's own
    form); raises PpcStateError naming `source` when the text is not such a file.
    """
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            raise PpcStateError(
                f"{source}: format version {data.get('version')!r}, expected {FORMAT_VERSION}"
            )
        return {
            name: {
                "release": entry["release"],
                "commit": entry["commit"],
                "deployedAt": format_time(parse_time(entry["deployedAt"])),
            }
            for name, entry in data["ppcs"].items()
        }
    except PpcStateError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PpcStateError(
            f"{source} is not a PPC state file ({type(exc).__name__}: {exc}); "
            "move it aside and re-run the rollout to record the PPCs again"
        ) from None


def dump_entries(entries: dict[str, dict[str, str]]) -> str:
    """The state file's text for the given entries (sorted by name, stable)."""
    ppcs = {
        name: {
            "release": entry["release"],
            "commit": entry["commit"],
            "deployedAt": entry["deployedAt"],
        }
        for name, entry in sorted(entries.items())
    }
    return json.dumps({"version": FORMAT_VERSION, "ppcs": ppcs}, indent=2) + "\n"


# --- the job ---------------------------------------------------------------------------------


def _write_atomically(path: str, text: str) -> None:
    # Only ever called under the lock, so one temporary name per writer is enough.
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _process_started(pid: int) -> str | None:
    """When process `pid` started (/proc/PID/stat), or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def _holder_alive(holder: dict[str, str]) -> bool:
    """Whether the job that marked an update as in progress still runs (on this machine)."""
    if holder.get("host") != os.uname().nodename:
        return True  # another machine's job: it cannot be checked from here, so it is waited for
    pid = holder.get("pid", "")
    return pid.isdigit() and _process_started(int(pid)) == holder.get("started")


def _read_state(state_path: str) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(entries, updates in progress) of the state file; both empty when there is none."""
    try:
        with open(state_path, encoding="utf-8") as current:
            text = current.read()
    except FileNotFoundError:
        return {}, {}
    entries = load_entries(text, state_path)
    try:
        updating = json.loads(text).get("updating") or {}
    except (ValueError, AttributeError):
        updating = {}
    return entries, {k: v for k, v in updating.items() if isinstance(v, dict)}


def _write_state(
    state_path: str, entries: dict[str, dict[str, str]], updating: dict[str, dict[str, str]]
) -> None:
    text = dump_entries(entries)
    if updating:
        data = json.loads(text)
        data["updating"] = dict(sorted(updating.items()))
        text = json.dumps(data, indent=2) + "\n"
    _write_atomically(state_path, text)


class _Locked:
    """The state folder's exclusive lock, held for one read-change-write."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, LOCK_FILE)

    def __enter__(self) -> _Locked:
        self.file = open(self.path, "a+b")  # noqa: SIM115 - closed in __exit__
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
        self.file.close()


def _claim(
    directory: str, ppc: str, release: str, commit: str
) -> tuple[str, dict[str, str] | None]:
    """Decide, under the lock, what this job does for `ppc` at `commit`:
    ("done", entry) when the PPC already runs that commit; ("wait", None) while another live
    job updates it to that commit; ("update", None) after marking the update as this job's."""
    state_path = os.path.join(directory, STATE_FILE)
    with _Locked(directory):
        entries, updating = _read_state(state_path)
        entry = entries.get(ppc)
        if entry and entry["commit"] == commit:
            return "done", entry
        holder = updating.get(ppc)
        if holder and holder.get("commit") == commit and _holder_alive(holder):
            return "wait", None
        updating[ppc] = {
            "release": release,
            "commit": commit,
            "host": os.uname().nodename,
            "pid": str(os.getpid()),
            "started": _process_started(os.getpid()) or "",
            "since": format_time(datetime.now(UTC)),
        }
        _write_state(state_path, entries, updating)
    return "update", None


def _finish(
    directory: str, ppc: str, release: str, commit: str, deployed_at: datetime | None
) -> None:
    """Record the update's end under the lock: the PPC's new release (None: it failed), the
    mark of the update in progress cleared, and one line in the updates log when it ran."""
    state_path = os.path.join(directory, STATE_FILE)
    with _Locked(directory):
        entries, updating = _read_state(state_path)
        if updating.get(ppc, {}).get("pid") == str(os.getpid()):
            del updating[ppc]
        if deployed_at is not None:
            entries[ppc] = {
                "release": release,
                "commit": commit,
                "deployedAt": format_time(deployed_at),
            }
            with open(os.path.join(directory, UPDATES_LOG), "a", encoding="utf-8") as log:
                log.write(f"{format_time(deployed_at)} {ppc} {release} {commit}\n")
        _write_state(state_path, entries, updating)


def _deploy(
    state_dir: str | os.PathLike[str],
    ppc: str,
    release: str,
    commit: str,
    seconds: float,
    now: datetime | None,
) -> tuple[datetime, bool]:
    """Update one PPC to `commit` once: (the time it runs it since, whether this job did it).

    A PPC already on the commit is left alone; one being updated to it by another running
    job is waited for; otherwise this job marks the update as its own, runs it, records it.
    """
    if not _NAME.match(ppc):
        raise PpcDeployError(f"PPC name {ppc!r} is not valid (pattern ^[a-z0-9][a-z0-9-]*$)")
    if not release or not commit:
        raise PpcDeployError(f"PPC {ppc}: --release and --commit must not be empty")
    directory = os.fspath(state_dir) or "."  # "" is the current folder, as Path("") was
    os.makedirs(directory, exist_ok=True)
    while True:
        action, entry = _claim(directory, ppc, release, commit)
        if action == "done" and entry:
            return parse_time(entry["deployedAt"]), False
        if action == "update":
            break
        time.sleep(WAIT_POLL)
    deployed_at = None
    try:
        if seconds > 0:
            time.sleep(seconds)
        fail_path = os.path.join(directory, FAIL_FILE)
        try:
            with open(fail_path, encoding="utf-8") as fail:
                failing = failing_ppcs(fail.read())
        except FileNotFoundError:
            failing = set()
        if ppc in failing:
            raise PpcDeployError(
                f"PPC {ppc}: update to {release} failed: {fail_path} lists this PPC "
                "(remove the line and run the rollout again)"
            )
        deployed_at = (now or datetime.now(UTC)).replace(microsecond=0)
    finally:
        _finish(directory, ppc, release, commit, deployed_at)
    return deployed_at, True


# --- the command line ------------------------------------------------------------------------

_OPTIONS = ("--state", "--ppc", "--release", "--commit", "--seconds")
_REQUIRED = ("--state", "--ppc", "--release", "--commit")


def _parse_plain(argv: Sequence[str]) -> dict[str, str] | None:
    """The options of a well-formed command line (`--name value` or `--name=value`, each
    known), else None: argparse then parses it, to report the error or print the help."""
    values: dict[str, str] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if "=" in arg:
            option, value = arg.split("=", 1)
        elif args:
            option, value = arg, args.pop(0)
        else:
            return None
        if option not in _OPTIONS or (value.startswith("-") and option != "--seconds"):
            return None
        values[option] = value
    if any(option not in values for option in _REQUIRED):
        return None
    try:
        float(values.get("--seconds", "0"))
    except ValueError:
        return None
    return values


def _parse_with_argparse(argv: Sequence[str]) -> dict[str, str]:
    import argparse

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
    args = parser.parse_args(argv)  # exits 2 on a usage error, 0 after --help
    return {f"--{key}": str(value) for key, value in vars(args).items()}


def main(argv: Sequence[str] | None = None) -> int:
    """The job's command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    options = _parse_plain(argv) or _parse_with_argparse(argv)
    ppc, release, commit = options["--ppc"], options["--release"], options["--commit"]
    try:
        seconds = float(options.get("--seconds", "0"))
        deployed_at, updated = _deploy(options["--state"], ppc, release, commit, seconds, None)
    except (PpcDeployError, PpcStateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    since = format_time(deployed_at)
    if updated:
        print(f"PPC {ppc} now runs {release} ({commit[:12]}) since {since}")
    else:
        print(f"PPC {ppc} already runs {release} ({commit[:12]}) since {since}; not updated again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
