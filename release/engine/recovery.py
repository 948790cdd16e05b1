"""Locks and recovery after a crashed `up`: a held lock, a stale one, pending operations.

A `pulumi up` that is killed (SIGKILL, power loss) leaves two things behind on a DIY
backend (`file://`, `postgres://`, a bucket): the stack's lock object, naming the user, pid
and host of the dead engine and since when, and in the
state the operations that were in flight ("pending operations"). The next `up` is then
refused as a concurrent update, and once the lock is gone the pending operations stay in
the state, warned about on every later run.

Before an `up`, `recover` clears both, but only when it is safe:
- a lock whose process is alive on this host, or that was taken on another host, is left
  alone: another update may really be running, and the command is refused at once
  (`StackLocked`), naming who holds the lock, from which host and since when;
- a lock whose process is gone on this host is cancelled (`pulumi cancel`);
- pending operations are cleared by `pulumi refresh --clear-pending-creates`. Dropping a
  pending create is safe here because every release-train provider looks before it
  creates: the next `up` adopts the branch, commit, pull request or merge that the killed
  run had made, rather than making a second one.
Locks and checkpoints are read from the backend itself on `file://` and `postgres://`
(release.engine.backends); on other backends `recover` asks the engine (`pulumi stack export`), and
the holder of a lock is taken from the engine's own refusal (`locked_message`).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

from pulumi import automation as auto

from release.engine import backends, lifetime
from release.engine.backends import Lock, parse_lock

__all__ = ["Lock", "StackLocked", "parse_lock", "recover", "refuse_if_locked"]


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
    """The locks of `project`/`stack` on a backend whose locks are read here (`file://`,
    `postgres://`); none for other backends, where the engine's refusal names the holder."""
    return backends.locks(backend_url, project, stack) or []


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
    broken = _set_aside(current)
    backup_attrs = backup.with_name(backup.name + ".attrs")
    current.write_bytes(backup.read_bytes())
    if backup_attrs.exists():
        current.with_name(current.name + ".attrs").write_bytes(backup_attrs.read_bytes())
    return (
        f"the checkpoint of {stack} was cut short by a crash; put back the one before it "
        f"(the broken file is kept as {broken.name})"
    )


def set_aside_broken_sidecars(backend_url: str, project: str, stack: str) -> str | None:
    """Move aside the metadata sidecars (`*.attrs`) of a `file://` stack that a kill left empty.

    The engine's blob store writes each object's sidecar in place (truncate, then write) just
    before it renames the object in: a SIGKILL in between leaves an empty `<stack>.json.attrs`
    beside a whole checkpoint, and every command then fails with "failed to load checkpoint:
    EOF". A missing sidecar is read as default metadata, so the broken one is renamed aside
    (kept, nothing lost). Looked at: the stack's checkpoint and its backup, its locks, the
    backend's `meta.yaml`, and (by size only, they are many) its history. Returns what was
    done, or None when every sidecar is whole (or the backend is not `file://`)."""
    folder = backend_folder(backend_url)
    if folder is None:
        return None
    checked = [
        *(folder / "stacks" / project).glob(f"{stack}.json*.attrs"),
        *(folder / "locks").glob(f"*/{project}/{stack}/*.attrs"),
        folder / "meta.yaml.attrs",
    ]
    history = (folder / "history" / project / stack).glob("*.attrs")
    broken = [p for p in checked if p.is_file() and not _loads(p)]
    broken += [p for p in history if p.is_file() and p.stat().st_size == 0]
    for path in broken:
        _set_aside(path)
    if not broken:
        return None
    names = ", ".join(p.name for p in broken)
    return (
        f"a crash left the metadata of {stack}'s state cut short ({names}); set it aside "
        "(kept as *.broken-*), the state itself is whole"
    )


def _set_aside(path: Path) -> Path:
    """Rename a broken state file to `<name>.broken-<mtime>` beside it (kept, never deleted)."""
    kept = path.with_name(f"{path.name}.broken-{int(path.stat().st_mtime)}")
    path.rename(kept)
    return kept


def _loads(path: Path) -> bool:
    """Whether `path` holds a whole JSON document."""
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def backend_of(stack: auto.Stack) -> str:
    """The backend URL a stack's workspace runs the engine with."""
    env = getattr(stack.workspace, "env_vars", None) or {}
    return env.get("PULUMI_BACKEND_URL") or os.environ.get("PULUMI_BACKEND_URL", "")


class StackLocked(auto.ConcurrentUpdateError):
    """Another update holds the stack's lock: the command is refused before it writes."""

    def __init__(self, stack: str, locks: list[Lock]) -> None:
        self.stack, self.locks = stack, locks
        super().__init__(auto.CommandResult(stdout="", stderr=self.message(), code=255))

    def message(self) -> str:
        return lock_message(self.stack, self.locks)


def lock_message(stack: str, locks: list[Lock]) -> str:
    """Who holds the stack's lock, from which host and since when, and what to do. The
    refusal comes before any write: nothing was done, and no intent was recorded."""
    if not locks:
        return (
            f"another update of {stack} is running (the stack is locked); nothing was done or "
            "recorded; wait for it and run the command again, or run "
            f"`pulumi cancel --stack {stack} --yes` if it crashed"
        )
    held = "; ".join(f"{lock.holder()} {lock.age()}" for lock in locks)
    hosts = sorted({lock.hostname or "its host" for lock in locks})
    return (
        f"another update of {stack} is running: the stack is locked by {held}; nothing was "
        "done or recorded. Wait for it to finish, then run the command again. If that run "
        f"crashed on {', '.join(hosts)}, the next command there clears its lock, or run "
        f"`pulumi cancel --stack {stack} --yes` once you know it is gone."
    )


def locked_message(stack: str, err: auto.ConcurrentUpdateError) -> str:
    """The refusal of a command on a locked stack: from `StackLocked`, else from the
    engine's own refusal (it names the holders on every DIY backend)."""
    if isinstance(err, StackLocked):
        return err.message()
    return lock_message(stack, backends.locks_in_engine_error(str(err)))


def live_locks(backend_url: str, project: str, stack: str) -> list[Lock]:
    """The stack's locks whose holder may still run (any lock not provably stale)."""
    host = socket.gethostname()
    return [
        lock
        for lock in lock_files(backend_url, project, stack)
        if not is_stale(lock, host, pid_alive)
    ]


def refuse_if_locked(backend_url: str, project: str, stack: str) -> None:
    """Raise `StackLocked` when another update may be running on the stack.

    Called before a command writes anything, so that a refused command leaves nothing
    behind; a lock whose holder is provably gone is left for `recover` to clear.
    """
    held = live_locks(backend_url, project, stack)
    if held:
        raise StackLocked(stack, held)


def recover(stack: auto.Stack, on_output: Callable[[str], None] | None = None) -> list[str]:
    """Clear what a crashed update left on `stack`; returns what was done, one line each.

    First, what a killed run left running (its engine, plugins, jobs) is ended, so that none
    of it writes to the forge while this run recovers and continues the update. Raises
    `StackLocked` when the stack's lock may belong to a running update.
    """
    notes = lifetime.end_leftovers()
    backend = backend_of(stack)
    project = stack.workspace.project_settings().name
    locks = lock_files(backend, project, stack.name)
    if locks:
        host = socket.gethostname()
        live = [lock for lock in locks if not is_stale(lock, host, pid_alive)]
        if live:
            raise StackLocked(stack.name, live)
        stack.cancel()
        notes.append(_describe_locks(locks))
    pending = _pending_operations(backend, project, stack)
    if pending:
        stack.refresh(clear_pending_creates=True, on_output=on_output)
        notes.append(
            f"cleared {len(pending)} operation(s) left pending by an interrupted update "
            f"({', '.join(_pending_names(pending))}); the next steps adopt what they had made"
        )
    return notes


def _pending_operations(backend: str, project: str, stack: auto.Stack) -> list[dict]:
    """The operations the last update left in flight: from the checkpoint where the backend
    is read here, else from `pulumi stack export` (every backend)."""
    document = backends.checkpoint(backend, project, stack.name)
    if document is not None:
        latest = (document.get("checkpoint") or {}).get("latest") or {}
        return list(latest.get("pending_operations") or [])
    deployment = stack.export_stack().deployment or {}
    return list(deployment.get("pending_operations") or [])


def _describe_locks(locks: Iterable[Lock]) -> str:
    held = "; ".join(f"{lock.holder()} {lock.age()}" for lock in locks)
    pids = ", ".join(str(lock.pid) for lock in locks)
    return f"removed the lock of a crashed update, {held} (process {pids} is gone)"


def _pending_names(pending: list[dict]) -> list[str]:
    names = []
    for op in pending:
        urn = str((op.get("resource") or {}).get("urn", ""))
        names.append(f"{urn.rsplit('::', 1)[-1] or '?'} {op.get('type', '')}".strip())
    return names
