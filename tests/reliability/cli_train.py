"""The `release` command line run as a user runs it, so that a test can SIGKILL it (engine,
language host and providers with it: the whole process tree) at a chosen forge write.

`CliTrain.release(...)` runs `python -m release ARGS` against a copy of the project pointed at
a sandbox; with `kill_after_writes=k` the sandbox pauses right after the k-th successful
write and the whole process tree is killed there. `run_to_merge` plays the oncall pair
(CI green, partner approval) whenever the merge gate asks, until the promotion is merged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from github import Auth, Github

from devtools.train import TrainProject
from release.cli.common import GATE_WAIT_EXIT_CODE
from release.engine import automation
from sandbox.seed import REPO
from tests.e2e.harness import ROOT, Harness

RELEASE_DATE = "2026-11-26"
RELEASE = f"release/{RELEASE_DATE}"
CHECKS = ["ci/travis", "test"]
GATE_WAITS = "needs 1 more approval"


@dataclass
class Outcome:
    """One `release` command: its exit code (None when killed) and its whole output."""

    args: tuple[str, ...]
    code: int | None
    output: str
    writes: int
    killed: bool = False

    def describe(self) -> str:
        state = "killed" if self.killed else f"exit {self.code}"
        return f"$ release {' '.join(self.args)} -> {state}, {self.writes} write(s)\n{self.output}"


def ok_writes(sandbox: Any) -> int:
    """Successful writes the sandbox served so far (the count its pause works on), once the
    requests being served are counted: the sandbox counts a write just after its answer,
    so the approval's last write could otherwise be counted in the next run's writes (and a
    kill point planned on that count never fire)."""
    sandbox.flight.settle(1.0)
    return int(sandbox._ok_writes)


@dataclass
class CliTrain:
    harness: Harness
    sandbox: Any
    project: automation.Project
    env: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)

    @classmethod
    def start(cls, harness: Harness, sandbox: Any, workdir: Path) -> CliTrain:
        """A fresh copy of the project, every stack pointed at `sandbox`."""
        setup = TrainProject.create(sandbox, workdir, harness.env())
        return cls.attach(harness, sandbox, setup.project.directory)

    @classmethod
    def attach(cls, harness: Harness, sandbox: Any, directory: Path) -> CliTrain:
        """The project copy in `directory`, as it is (already pointed at the sandbox's URL)."""
        setup = TrainProject.attach(sandbox, directory, harness.env())
        cli_env = setup.cli_env(
            {
                "RELEASE_TRAIN_PULUMI_ROOT": str(harness.engine.bin_dir.parent),
                "COLUMNS": "200",
            }
        )
        return cls(harness, sandbox, setup.project, cli_env)

    def release(
        self,
        *args: str,
        kill_after_writes: int | None = None,
        kill_when: Callable[[], bool] | None = None,
        timeout: float = 300,
        extra_env: dict[str, str] | None = None,
    ) -> Outcome:
        """Run `python -m release ARGS`; killed (SIGKILL, whole process tree) at the given write."""
        sb = self.sandbox
        log = self.harness.workdir / f"release-{len(self.outcomes)}.log"
        before = ok_writes(sb)
        paused = sb.pause_after_writes(kill_after_writes) if kill_after_writes else None
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "release", *args],
                cwd=ROOT,
                env={**self.env, **(extra_env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            killed = False
            deadline = time.monotonic() + timeout
            try:
                while proc.poll() is None:
                    if (paused is not None and paused.is_set()) or (kill_when and kill_when()):
                        kill_tree(proc.pid)
                        killed = True
                        break
                    if time.monotonic() > deadline:
                        raise AssertionError(f"release {' '.join(args)} ran past {timeout} s")
                    time.sleep(0.05)
                proc.wait()
            except BaseException:
                kill_tree(proc.pid)
                proc.wait()
                raise
            finally:
                if paused is not None:
                    sb.resume()
        outcome = Outcome(
            args, None if killed else proc.returncode, log.read_text(), ok_writes(sb) - before
        )
        outcome.killed = killed
        self.outcomes.append(outcome)
        return outcome

    def spawn(self, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        """Start `python -m release ARGS` in its own process group; (process, its log)."""
        log = self.harness.workdir / f"spawned-{len(self.outcomes)}-{time.monotonic_ns()}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "release", *args],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return proc, log

    def promote(
        self,
        env: str,
        kill_after_writes: int | None = None,
        kill_when: Callable[[], bool] | None = None,
    ) -> Outcome:
        # production: --force, as the seed's release has not soaked on staging for days.
        extra = {
            "staging": ("--date", RELEASE_DATE),
            "production": ("--force", "--reason", "soak"),
        }.get(env, ())
        return self.release(
            "promote", env, *extra, kill_after_writes=kill_after_writes, kill_when=kill_when
        )

    def approve(self, env: str) -> int:
        return TrainProject(self.project, self.sandbox).approve(env, checks=CHECKS)

    def run_to_merge(
        self,
        env: str,
        kill_at: int | None = None,
        kill_when: Callable[[], bool] | None = None,
    ) -> list[Outcome]:
        """Promote `env` until merged, approving when asked; killed once at engine write
        `kill_at` (the writes of the promotion's own runs, not the approvals), or as soon as
        `kill_when()` holds.
        """
        runs: list[Outcome] = []
        left = kill_at
        for _ in range(6):
            outcome = self.promote(env, kill_after_writes=left, kill_when=kill_when)
            runs.append(outcome)
            if outcome.killed:
                left = kill_when = None
                continue
            if left is not None:
                left -= outcome.writes
                assert left > 0, "the pause should have fired"
            if outcome.code == 0:
                return runs
            if outcome.code == GATE_WAIT_EXIT_CODE and GATE_WAITS in outcome.output:
                self.approve(env)
                continue
            raise AssertionError("\n\n".join(o.describe() for o in runs))
        raise AssertionError("no convergence:\n\n" + "\n\n".join(o.describe() for o in runs))

    def outputs(self, env: str) -> dict[str, Any]:
        return {k: v.value for k, v in automation.stack(self.project, env).outputs().items()}

    def deployment(self, env: str) -> dict[str, Any]:
        return automation.stack(self.project, env).export_stack().deployment or {}

    def repo(self, token: str | None = None) -> Any:
        gh = Github(
            base_url=self.sandbox.base_url,
            auth=Auth.Token(token or self.sandbox.token),
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        return gh.get_repo(REPO)

    def transcript(self) -> str:
        return "\n".join(o.describe() for o in self.outcomes)


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_tree(root: int) -> set[int]:
    """`root` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.add(pid)
            todo.extend(children.get(pid, []))
    return tree


def kill_tree(root: int) -> None:
    """SIGKILL `root` and all its descendants at once, as a machine losing power would.

    The engine starts its plugins (language host, dynamic providers) in process groups of
    their own; ours die with the engine (README, "Nothing outlives a killed command", tested in
    test_lifetime.py), but here every process of the tree is stopped first (none can start
    another or send one more request), then killed, so each kill point is exact.
    """
    stopped: set[int] = set()
    for _ in range(50):
        fresh = process_tree(root) - stopped
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= fresh
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def git_refs(sandbox: Any) -> dict[str, str]:
    """Every ref of the bare repository, as git itself lists them."""
    bare = Path(sandbox.data_dir) / "repos" / f"{REPO}.git"
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (line.split(" ", 1) for line in out.splitlines() if line)
    return {name: sha for name, sha in pairs}
