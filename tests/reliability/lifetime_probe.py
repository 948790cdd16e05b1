"""Watching a `release` command's whole process tree from the outside.

Every process the command starts (CLI, language host, providers, jobs) inherits its
environment, so a test tags the command with a variable of its own and finds the tree in
/proc by that tag: independent of the mark release/engine/lifetime.py uses, and of process groups.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.harness import ROOT
from tests.reliability.cli_train import CliTrain

TAG = "RELEASE_TRAIN_TEST_TAG"


def tagged(tag: str) -> dict[int, str]:
    """Running processes whose environment carries TAG=tag: pid -> command line."""
    wanted = f"{TAG}={tag}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z":
            found[int(entry.name)] = cmdline.strip()
    return found


def ignores_sigint(pid: int) -> bool | None:
    """Whether process `pid` has SIGINT ignored (/proc/PID/status SigIgn); None if gone."""
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return None


@dataclass
class Tagged:
    """A `release` command started in its own session with a tag; `proc` is the command."""

    proc: subprocess.Popen[bytes]
    tag: str
    log: Path

    def tree(self) -> dict[int, str]:
        return tagged(self.tag)

    def wait_gone(self, timeout: float) -> tuple[float, dict[int, str]]:
        """Wait until no process of the tree runs; (seconds waited, what still runs)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            left = self.tree()
            if not left:
                return time.monotonic() - start, {}
            time.sleep(0.02)
        return time.monotonic() - start, self.tree()

    def stop_everything(self) -> None:
        """Test clean-up: SIGKILL whatever of the tree still runs."""
        for pid in self.tree():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def spawn_tagged(train: CliTrain, *args: str, ignore_sigint: bool = False) -> Tagged:
    """Start `python -m release ARGS` in a session of its own (so its process group is the
    command's alone, as a CI job's), tagged; with SIGINT ignored if asked."""
    tag = uuid.uuid4().hex
    log = train.harness.workdir / f"tagged-{tag[:8]}.log"

    def before_exec() -> None:
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "release", *args],
            cwd=ROOT,
            env={**train.env, TAG: tag},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=before_exec if ignore_sigint else None,  # noqa: PLW1509 - test only
        )
    return Tagged(proc, tag, log)


def writes(sandbox: Any) -> int:
    """Forge writes the sandbox has served so far (its per-route counters)."""
    return int(sandbox.writes())
