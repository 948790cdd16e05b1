"""Recovery after a crashed `up`: a stale stack lock and pending operations.

A `pulumi up` that is killed (SIGKILL, power loss) leaves two things behind in a file
backend: the stack's lock file, naming the pid and host of the dead engine, and in the
state the operations that were in flight ("pending operations"). The next `up` is then
refused as a concurrent update, and once the lock is gone the pending operations stay in
the state, warned about on every later run.

Before an `up`, `recover` clears both, but only when it is safe:
- a lock whose process is alive on this host, or that was taken on another host, is left
  alone (another update may really be running: the `up` is then refused as concurrent);
- a lock whose process is gone on this host is cancelled (`pulumi cancel`);
- pending operations are cleared by `pulumi refresh --clear-pending-creates`. Dropping a
  pending create is safe here because every release-train provider looks before it
  creates: the next `up` adopts the branch, commit, pull request or merge that the killed
  run had made, rather than making a second one.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pulumi import automation as auto

from release.engine import lifetime


@dataclass(frozen=True)
class Lock:
    """A stack lock file of the file backend."""

    path: Path
    pid: int | None
    hostname: str | None


def parse_lock(path: Path, text: str) -> Lock:
    """A lock file's holder; unreadable content gives a lock with no known holder."""
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid = data.get("pid")
    host = data.get("hostname")
    return Lock(
        path,
        pid if isinstance(pid, int) else None,
        host if isinstance(host, str) else None,
    )


def is_stale(lock: Lock, this_host: str, alive: Callable[[int], bool]) -> bool:
    """Whether the lock's holder is known to be gone: same host, and its pid is not running."""
    if lock.pid is None or lock.hostname != this_host:
        return False
    return not alive(lock.pid)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" not in status


def backend_folder(backend_url: str) -> Path | None:
    """The `.pulumi` folder of a `file://` backend (stacks, locks, history); None otherwise."""
    if not backend_url.startswith("file://"):
        return None
    return Path(backend_url.removeprefix("file://")).expanduser() / ".pulumi"


def lock_files(backend_url: str, project: str, stack: str) -> list[Lock]:
    """The lock files of `project`/`stack` in a `file://` backend (none for other backends)."""
    folder = backend_folder(backend_url)
    if folder is None:
        return []
    root = folder / "locks"
    folders = [root / "organization" / project / stack, root / stack]
    found: list[Lock] = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                found.append(parse_lock(path, path.read_text()))
            except OSError:
                continue
    return found


def restore_checkpoint(backend_url: str, project: str, stack: str) -> str | None:
    """Put back the previous checkpoint of a `file://` stack whose last one was cut short.

    A SIGKILL that lands while the engine rewrites `<stack>.json` can leave it empty or
    truncated, and then no command can load the stack ("failed to load checkpoint: EOF").
    The engine keeps the checkpoint before that write as `<stack>.json.bak`: it is put back,
    and the broken file is kept beside it (nothing is lost). The providers adopt whatever
    the interrupted step had made, so the next `up` converges. Returns what was done.
    """
    folder = backend_folder(backend_url)
    if folder is None:
        return None
    current = folder / "stacks" / project / f"{stack}.json"
    backup = current.with_name(f"{stack}.json.bak")
    if not current.exists() or _loads(current) or not _loads(backup):
        return None
    broken = current.with_name(f"{stack}.json.broken-{int(current.stat().st_mtime)}")
    current.rename(broken)
    backup_attrs = backup.with_name(backup.name + ".attrs")
    current.write_bytes(backup.read_bytes())
    if backup_attrs.exists():
        current.with_name(current.name + ".attrs").write_bytes(backup_attrs.read_bytes())
    return (
        f"the checkpoint of {stack} was cut short by a crash; put back the one before it "
        f"(the broken file is kept as {broken.name})"
    )


def _loads(path: Path) -> bool:
    """Whether `path` holds a whole JSON document."""
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def recover(stack: auto.Stack, on_output: Callable[[str], None] | None = None) -> list[str]:
    """Clear what a crashed update left on `stack`; returns what was done, one line each.

    First, what a killed run left running (its engine, plugins, jobs) is ended, so that none
    of it writes to the forge while this run recovers and continues the update.
    """
    notes = lifetime.end_leftovers()
    workspace = stack.workspace
    backend = (getattr(workspace, "env_vars", None) or {}).get(
        "PULUMI_BACKEND_URL"
    ) or os.environ.get("PULUMI_BACKEND_URL", "")
    project = workspace.project_settings().name
    locks = lock_files(backend, project, stack.name)
    if locks:
        host = socket.gethostname()
        if not all(is_stale(lock, host, pid_alive) for lock in locks):
            return notes  # another update may be running: `up` reports it as concurrent
        stack.cancel()
        notes.append(_describe_locks(locks))
    deployment = stack.export_stack().deployment or {}
    pending = deployment.get("pending_operations") or []
    if pending:
        stack.refresh(clear_pending_creates=True, on_output=on_output)
        notes.append(
            f"cleared {len(pending)} operation(s) left pending by an interrupted update "
            f"({', '.join(_pending_names(pending))}); the next steps adopt what they had made"
        )
    return notes


def _describe_locks(locks: Iterable[Lock]) -> str:
    pids = ", ".join(str(lock.pid) for lock in locks)
    return f"removed the lock of a crashed update (process {pids} is gone)"


def _pending_names(pending: list[dict]) -> list[str]:
    names = []
    for op in pending:
        urn = str((op.get("resource") or {}).get("urn", ""))
        names.append(f"{urn.rsplit('::', 1)[-1] or '?'} {op.get('type', '')}".strip())
    return names
