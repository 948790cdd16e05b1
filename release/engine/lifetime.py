"""Process lifetime: nothing the engine starts outlives the `release` command that started it.

The Pulumi CLI starts its plugins (the language host, the dynamic-provider server, the
`command` provider) in process groups of their own, so a CI cancel that SIGKILLs the
command's process group leaves them running, and they go on writing to the forge. Three
rules bind the whole engine tree to the command (the README's "Nothing outlives a killed
command" says which hold with the official Pulumi distribution):

1. Parent-death signals at every hop. The CLI is started through `setpriv --pdeathsig KILL`
   (util-linux), so it gets SIGKILL when `release` dies; the project's plugins set the same
   signal on themselves at start, and on every process they start (tools/pulumi).
2. A mark on the tree. Every process of the tree carries `RELEASE_TRAIN_RUN=<pid>:<start>`
   of the `release` process in its environment (the CLI passes its environment on to the
   plugins, they to their children). On SIGTERM or SIGHUP, `release` SIGKILLs every process
   carrying its mark, then exits 143 (129): the forge sees no write after that.
3. The next run ends the leftovers. Before it recovers a crashed update, a run SIGKILLs every
   process carrying the mark of a `release` that is no longer running, and waits until they
   are gone (`end_leftovers`).

And SIGINT: a command started with SIGINT ignored (`release plan &` in a script) handles it
instead, doing nothing, so that the processes it starts get SIGINT at its default (a handled
signal is reset on exec, an ignored one stays ignored) and the engine can stop its plugins
without waiting out its 5 s grace period.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

MARK = "RELEASE_TRAIN_RUN"
"""The environment variable that marks the processes of one `release` command's engine tree."""

_PROC = Path("/proc")


def start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat), or None if gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None  # a zombie has finished
    return fields[19]


def mark_of(pid: int) -> str:
    """The mark of process `pid`'s engine tree: its pid and start time."""
    return f"{pid}:{start_time(pid) or '?'}"


def own_mark() -> str:
    return mark_of(os.getpid())


def owner_alive(mark: str) -> bool:
    """Whether the `release` process that a mark names is still running."""
    pid, _, started = mark.partition(":")
    if not pid.isdigit():
        return False
    return start_time(int(pid)) == started


def marked_processes() -> dict[int, str]:
    """Every process of this user that carries a mark: pid -> mark (this process left out)."""
    found: dict[int, str] = {}
    prefix = f"{MARK}=".encode()
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone, or another user's
        for item in environ.split(b"\0"):
            if item.startswith(prefix):
                found[int(entry.name)] = item[len(prefix) :].decode(errors="replace")
                break
    return found


def kill_all(pids: Iterable[int], timeout: float = 5.0) -> list[int]:
    """Stop, then SIGKILL, these processes, and wait until they are gone; returns those that
    were running. Stopping them all first means none can start another or send a request."""
    targets = [pid for pid in pids if start_time(pid) is not None]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while any(start_time(pid) is not None for pid in targets) and time.monotonic() < deadline:
        time.sleep(0.01)
    return targets


def end_engine_tree(mark: str | None = None) -> list[int]:
    """SIGKILL every process of this command's engine tree (or of the tree `mark` names)."""
    mark = mark or own_mark()
    ended: list[int] = []
    for _ in range(20):  # a process forked while the first ones were being stopped
        tree = [pid for pid, m in marked_processes().items() if m == mark and pid not in ended]
        if not tree:
            break
        ended += kill_all(tree)
    return ended


def leftovers() -> dict[int, str]:
    """The processes whose `release` command is gone: pid -> mark."""
    return {pid: mark for pid, mark in marked_processes().items() if not owner_alive(mark)}


def end_leftovers() -> list[str]:
    """End what a killed run left running (its engine, plugins, jobs), before recovering its
    update; returns what was done, one line each (nothing when there were none)."""
    found = leftovers()
    if not found:
        return []
    ended = kill_all(found)
    runs = sorted({mark.split(":", 1)[0] for mark in found.values()})
    return [
        f"ended {len(ended)} process(es) left running by the killed run(s) of release "
        f"(pid {', '.join(runs)}), so that none of them writes to the forge any more"
    ]


# --- the command's own process -------------------------------------------------------------


def _terminate(signum: int, _frame: FrameType | None) -> None:
    end_engine_tree()
    name = signal.Signals(signum).name
    with contextlib.suppress(Exception):
        print(
            f"release: stopped by {name}; the engine was stopped with it. Run the same command "
            "again: it recovers the interrupted update.",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
    os._exit(128 + signum)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """SIGINT for a command started with it ignored: still ignored, but handled."""


def install() -> None:
    """Set up the command's signals: SIGTERM and SIGHUP end the engine tree, then the command;
    an ignored SIGINT becomes a handled one that does nothing. Call it from the main thread."""
    signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, _ignore)


# --- the Pulumi CLI, bound to the command -------------------------------------------------


@functools.cache
def bind_prefix() -> tuple[str, ...]:
    """What the CLI is started through so that it dies with `release`: `setpriv --pdeathsig
    KILL --` (util-linux) on Linux; nothing where setpriv is missing (the mark and the next
    run's sweep still hold there)."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    return (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()


class BoundPulumi(auto.PulumiCommand):
    """The Pulumi CLI started as part of this command's engine tree: bound to the command's
    life (`bind_prefix`) and carrying its mark (MARK) in the environment.

    A parent-death signal fires when the *thread* that started the process exits: `run`
    starts the CLI on the thread that then waits for it, so that thread outlives the CLI."""

    def __init__(self, command: str, version: Any) -> None:  # no super(): it runs the CLI
        self.command = command
        self.version = version

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: Callable[[str], Any] | None = None,
        on_error: Callable[[str], Any] | None = None,
    ) -> auto.CommandResult:
        """Run `pulumi ARGS` non-interactively; raises the SDK's CommandError on failure."""
        end = args.index("--") if "--" in args else len(args)
        flags = [] if "--non-interactive" in args[:end] else ["--non-interactive"]
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true", MARK: own_mark()}
        if os.path.isabs(self.command):  # plugins next to the CLI come first, as the SDK does
            env["PATH"] = os.pathsep.join([os.path.dirname(self.command), env.get("PATH", "")])
        argv = [*bind_prefix(), self.command, *flags, *args]
        stderr_lines: list[str] = []
        with subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            errors = threading.Thread(
                target=_collect, args=(proc.stderr, on_error, stderr_lines), daemon=True
            )
            errors.start()
            stdout_lines = _collect(proc.stdout, on_output, [])
            errors.join()
            code = proc.wait()
        result = auto.CommandResult(
            stdout="\n".join(stdout_lines), stderr="\n".join(stderr_lines), code=code
        )
        if code != 0:
            raise create_command_error(result)
        return result


def _collect(stream: Any, callback: Callable[[str], Any] | None, lines: list[str]) -> list[str]:
    for raw in stream:
        line = raw.rstrip()
        if callback:
            callback(line)
        lines.append(line)
    stream.close()
    return lines
