"""release/engine/lifetime.py: the engine tree's mark, its binding to the command, and the sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from release.engine import lifetime

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")


def _sleeper(mark: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, lifetime.MARK: mark}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)


def _dead_mark() -> str:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    mark = lifetime.mark_of(gone.pid)
    gone.wait()
    return mark


def test_owner_alive_follows_the_pid_and_its_start_time():
    assert lifetime.owner_alive(lifetime.own_mark())
    pid, _, started = lifetime.own_mark().partition(":")
    assert not lifetime.owner_alive(f"{pid}:{int(started) + 1}")  # a reused pid
    assert not lifetime.owner_alive(_dead_mark())
    assert not lifetime.owner_alive("garbage")


def test_end_leftovers_ends_the_tree_of_a_dead_command_only():
    orphan = _sleeper(_dead_mark())
    ours = _sleeper(lifetime.own_mark())
    try:
        deadline = time.monotonic() + 5
        while orphan.pid not in lifetime.marked_processes() and time.monotonic() < deadline:
            time.sleep(0.01)
        notes = lifetime.end_leftovers()
        assert orphan.wait(timeout=5) == -signal.SIGKILL
        assert notes and "ended 1 process(es)" in notes[0], notes
        assert ours.poll() is None  # the tree of a running command is left alone
        assert lifetime.end_leftovers() == []
        assert lifetime.end_engine_tree() == [ours.pid]
        assert ours.wait(timeout=5) == -signal.SIGKILL
    finally:
        for proc in (orphan, ours):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.skipif(not lifetime.bind_prefix(), reason="setpriv (util-linux) is not installed")
def test_the_cli_dies_with_the_command_and_carries_its_mark(tmp_path):
    """A stand-in CLI run through BoundPulumi: it sees the mark, and a SIGKILL of the command
    alone (not its process group) takes it along."""
    cli = tmp_path / "pulumi"
    cli.write_text(f'#!/bin/sh\necho "$$ ${lifetime.MARK}" > {tmp_path}/started\nexec sleep 60\n')
    cli.chmod(0o755)
    command = textwrap.dedent(
        f"""
        from release.engine.lifetime import BoundPulumi
        BoundPulumi({str(cli)!r}, None).run(["up"], cwd=".", additional_env={{}})
        """
    )
    runner = subprocess.Popen([sys.executable, "-c", command], cwd=Path(__file__).parents[2])
    started = tmp_path / "started"
    deadline = time.monotonic() + 20
    while not (started.exists() and started.read_text().strip()):
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.02)
    pid, mark = started.read_text().split()
    assert mark == lifetime.mark_of(runner.pid)
    assert lifetime.start_time(int(pid)) is not None
    runner.kill()
    runner.wait()
    deadline = time.monotonic() + 5
    while lifetime.start_time(int(pid)) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lifetime.start_time(int(pid)) is None, "the CLI outlived the command"


def test_a_failing_cli_run_raises_the_sdks_command_error(tmp_path):
    from pulumi import automation as auto

    cli = tmp_path / "pulumi"
    cli.write_text('#!/bin/sh\necho "args: $*"\necho "error: no such stack" >&2\nexit 3\n')
    cli.chmod(0o755)
    lines: list[str] = []
    with pytest.raises(auto.CommandError) as err:
        lifetime.BoundPulumi(str(cli), None).run(
            ["stack", "select", "x"], cwd=".", additional_env={}, on_output=lines.append
        )
    assert lines == ["args: --non-interactive stack select x"]
    assert "no such stack" in str(err.value)


def test_recover_first_ends_what_a_killed_run_left_running(tmp_path):
    """The next run ends a dead command's leftovers before it looks at locks and state."""
    from types import SimpleNamespace

    from release.engine import recovery

    seen: list[bool] = []

    class Stack:
        name = "staging"
        workspace = SimpleNamespace(
            env_vars={"PULUMI_BACKEND_URL": f"file://{tmp_path}"},
            project_settings=lambda: SimpleNamespace(name="release-train"),
        )

        def export_stack(self):
            seen.append(orphan.poll() is not None)  # the leftover is already gone here
            return SimpleNamespace(deployment={})

    orphan = _sleeper(_dead_mark())
    try:
        deadline = time.monotonic() + 5
        while orphan.pid not in lifetime.marked_processes() and time.monotonic() < deadline:
            time.sleep(0.01)
        notes = recovery.recover(Stack())  # type: ignore[arg-type]
    finally:
        if orphan.poll() is None:
            orphan.kill()
        orphan.wait()
    assert seen == [True]
    assert len(notes) == 1 and "left running by the killed run" in notes[0]
