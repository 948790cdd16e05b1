"""The sandbox's PPC update job (the readers behind `release ppc status` are in ppc_status).

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


def _deploy(
    state_dir: str | os.PathLike[str],
    ppc: str,
    release: str,
    commit: str,
    seconds: float,
    now: datetime | None,
) -> datetime:
    """Run one PPC's update and record it; returns the recorded time."""
    if not _NAME.match(ppc):
        raise PpcDeployError(f"PPC name {ppc!r} is not valid (pattern ^[a-z0-9][a-z0-9-]*$)")
    if not release or not commit:
        raise PpcDeployError(f"PPC {ppc}: --release and --commit must not be empty")
    directory = os.fspath(state_dir) or "."  # "" is the current folder, as Path("") was
    os.makedirs(directory, exist_ok=True)
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
    state_path = os.path.join(directory, STATE_FILE)
    with open(os.path.join(directory, LOCK_FILE), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            try:
                with open(state_path, encoding="utf-8") as current:
                    entries = load_entries(current.read(), state_path)
            except FileNotFoundError:
                entries = {}
            entries[ppc] = {
                "release": release,
                "commit": commit,
                "deployedAt": format_time(deployed_at),
            }
            _write_atomically(state_path, dump_entries(entries))
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return deployed_at


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
        deployed_at = _deploy(options["--state"], ppc, release, commit, seconds, None)
    except (PpcDeployError, PpcStateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"PPC {ppc} now runs {release} ({commit[:12]}) since {format_time(deployed_at)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
