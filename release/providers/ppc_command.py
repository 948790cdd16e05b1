"""The local-command PPC executor: each PPC's `ppcCommand`, rendered, as a subprocess.

`CommandExecutor.run_wave` (the contract: release/rules/ppc_jobs.py) starts one job per PPC
of the wave, all at once up to `parallel` (default: the whole wave), each as
`/bin/sh -c <the rendered command>` with the provider's environment plus the job's (the
release, the commit, the wave, the pins, the PPC's vars: release/rules/ppcs.py), and waits for
all of them. A job that exits 0 is an `ok` outcome whose detail is its last line of output; a
non-zero exit, a timeout or a job that cannot start is a failed outcome naming why.

Idempotence per PPC and commit is the command's own contract (the README's "A PPC update
runs once per release"): the executor may start a PPC's command again after a crash, and the
command finds the update done or in progress and does not repeat it.

Nothing it starts outlives it:
- each job runs in a process group of its own (its shell and whatever the shell starts), so
  that a job timed out, or a wave abandoned by an exception, is ended with one `killpg`;
- a guard process per wave (`GUARD`, in a session of its own) is told each running job's
  group through a pipe; when the pipe closes without the job's end being told (the provider
  was killed, even by SIGKILL), it kills those groups: the shell and everything it started,
  not only the process the provider forked (dash, the usual /bin/sh, forks even a simple
  command instead of exec'ing it);
- each job's shell is also started through `setpriv --pdeathsig KILL` (util-linux), on the
  thread that then waits for it, for the instant before the guard knows its group;
- everything carries the run's mark in its environment (release/engine/lifetime.py), so the
  next `release` run ends what would still be left before recovering, as it does the rest
  of a killed engine tree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from release.rules.ppc_jobs import PpcJob, PpcOutcome
from release.rules.ppcs import PpcConfigError, render_command, validate_template
from release.rules.text import visible

DETAIL_LIMIT = 200
"""The longest detail an outcome keeps (characters): one line, for the state and a terminal."""


GUARD = """
import os, signal, sys
groups = set()
for line in sys.stdin:
    word = line.strip()
    if word.startswith("-"):
        groups.discard(int(word[1:]))
    elif word:
        groups.add(int(word))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""
"""The wave's guard: reads `PGID` (a job started) and `-PGID` (it ended) lines; at the end
of its input (the provider closed the pipe, or died) it kills the groups still running."""


def _bind_prefix() -> tuple[str, ...]:
    """`setpriv --pdeathsig KILL --` where util-linux has it (Linux), else nothing."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    return (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()


def last_line(text: str) -> str:
    """The last non-blank line of `text`, control characters made visible, cut to
    DETAIL_LIMIT characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = visible(lines[-1]) if lines else ""
    return line if len(line) <= DETAIL_LIMIT else line[: DETAIL_LIMIT - 1] + "…"


@dataclass(frozen=True)
class CommandExecutor:
    """Runs each PPC's rendered `command` template locally (see the module's docstring).

    `state` fills the template's `{state}`; `dir` is the jobs' working folder (None: the
    provider's, which is the program's); `parallel` caps the jobs running at once (None or
    0: the whole wave); `timeout` ends a job (its whole process group) after that many
    seconds (None: no limit)."""

    command: str
    state: str = ""
    dir: str | None = None
    parallel: int | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        validate_template(self.command)
        if self.parallel is not None and (isinstance(self.parallel, bool) or self.parallel < 0):
            raise PpcConfigError(f"executor parallel {self.parallel!r}: give a whole number ≥ 0")
        if self.timeout is not None and not self.timeout > 0:
            raise PpcConfigError(f"executor timeout {self.timeout!r}: give seconds > 0")

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> CommandExecutor:
        """The executor an input spec describes: {"kind": "command", "command", "state"?,
        "dir"?, "parallel"?, "timeout"?}."""
        unknown = sorted(set(spec) - {"kind", "command", "state", "dir", "parallel", "timeout"})
        if unknown:
            raise PpcConfigError(
                f"the command executor has no setting {', '.join(unknown)}: it takes command, "
                "state, dir, parallel and timeout"
            )
        return cls(
            command=spec.get("command") or "",
            state=spec.get("state") or "",
            dir=spec.get("dir") or None,
            parallel=spec.get("parallel") or None,
            timeout=spec.get("timeout") or None,
        )

    def run_wave(self, jobs: Sequence[PpcJob], report: Callable[[str], None]) -> list[PpcOutcome]:
        if not jobs:
            return []
        running = _Running(_start_guard())
        workers = min(len(jobs), self.parallel or len(jobs))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ppc-job")
        try:
            futures = [pool.submit(self._run_one, job, running, report) for job in jobs]
            return [future.result() for future in futures]
        except BaseException:
            running.stop_all()  # nothing keeps writing once the wave is abandoned
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            running.close()

    def _run_one(self, job: PpcJob, running: _Running, report: Callable[[str], None]) -> PpcOutcome:
        script = render_command(
            self.command, job.ppc, job.release, job.commit, job.wave, self.state
        )
        env = {**os.environ, **job.environment}
        try:
            proc = subprocess.Popen(  # noqa: S603 - the stack's own ppcCommand, by design
                [*_bind_prefix(), "/bin/sh", "-c", script],
                cwd=self.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own: one killpg ends it all
            )
        except OSError as err:
            return PpcOutcome(job.ppc, False, f"could not start: {last_line(str(err))}")
        running.add(proc)
        try:
            try:
                output, _ = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                output, _ = proc.communicate()
                detail = f"timed out after {self.timeout:g} s: {last_line(_text(output))}"
                report(f"PPC {job.ppc}: {detail}")
                return PpcOutcome(job.ppc, False, detail.rstrip(": "))
        finally:
            running.remove(proc)
        text = last_line(_text(output))
        if proc.returncode != 0:
            code = proc.returncode
            why = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            report(f"PPC {job.ppc}: {why}")
            return PpcOutcome(job.ppc, False, f"{why}: {text}" if text else why)
        report(f"PPC {job.ppc}: done")
        return PpcOutcome(job.ppc, True, text or "done")


def _text(output: bytes | None) -> str:
    return (output or b"").decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start_guard() -> subprocess.Popen[bytes] | None:
    """The wave's guard process (GUARD), or None when it cannot start (then the parent-death
    signal and the run's mark still hold)."""
    try:
        return subprocess.Popen(  # noqa: S603 - this interpreter, our own code
            [sys.executable, "-c", GUARD],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the provider's group
        )
    except OSError:
        return None


class _Running:
    """The jobs of one wave still running, told to the wave's guard, to end them all if the
    wave is abandoned."""

    def __init__(self, guard: subprocess.Popen[bytes] | None) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._guard = guard

    def _tell(self, line: str) -> None:
        if self._guard is not None and self._guard.stdin is not None:
            try:
                self._guard.stdin.write(line.encode() + b"\n")
                self._guard.stdin.flush()
            except OSError:
                self._guard = None  # the guard is gone: the other safeguards remain

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)
            self._tell(str(proc.pid))

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)
            self._tell(f"-{proc.pid}")

    def close(self) -> None:
        """End the guard: its input closed, it kills the groups it still knows (none once
        every job was waited for) and exits."""
        with self._lock:
            guard, self._guard = self._guard, None
        if guard is not None:
            with contextlib.suppress(OSError):
                guard.stdin.close()  # type: ignore[union-attr]
            with contextlib.suppress(subprocess.TimeoutExpired):
                guard.wait(timeout=5)

    def stop_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _kill_group(proc)
