"""Nothing outlives a killed command (release/engine/lifetime.py, tools/pulumi's plugins).

A CI cancel SIGKILLs the command's process group, and a polite stop sends SIGTERM. Either way
no engine, plugin or job process may go on running, and the forge may serve no write once
the tree is gone. The fast test kills one promotion mid-write; the slow one kills promotions
at random instants, both ways, and also checks that each re-run converges to the
uninterrupted promotion. And a command started with SIGINT ignored must not hand that on to
the language host and providers (the engine stops them with SIGINT, or waits 5 s).
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from tests.reliability.cli_train import RELEASE_DATE, git_refs
from tests.reliability.lifetime_probe import ignores_sigint, spawn_tagged, writes
from tests.reliability.summary import report
from tests.reliability.test_kill_points import Scenario, end_state

pytestmark = [pytest.mark.e2e]

GONE_WITHIN = 3.0
"""Seconds after the kill by which every process of the tree must have ended."""

QUIET_FOR = 3.0
"""Seconds during which the forge is watched for writes once the tree has ended."""

PROMOTE_STAGING = ("promote", "staging", "--date", RELEASE_DATE)


def stack_files(train) -> dict[str, bytes]:
    """Every `Pulumi.<stack>.yaml` of the train's project folder, as bytes."""
    return {p.name: p.read_bytes() for p in train.project.directory.glob("Pulumi.*.yaml")}


def kill(proc_pid: int, how: str) -> None:
    if how == "SIGKILL of the process group":
        os.killpg(proc_pid, signal.SIGKILL)  # the command leads its own session and group
    else:
        os.kill(proc_pid, signal.SIGTERM)


def kill_and_watch(sandbox, command, how: str) -> dict[str, float | int]:
    """Kill `command` as `how` says; then the figures: seconds until its whole tree was gone,
    writes served between the kill and then (requests already in flight), and after."""
    at_kill = writes(sandbox)
    kill(command.proc.pid, how)
    command.proc.wait(timeout=30)
    gone_after, left = command.wait_gone(GONE_WITHIN)
    at_gone = writes(sandbox)
    time.sleep(QUIET_FOR)
    after = writes(sandbox) - at_gone
    assert not left, f"{how}: still running {gone_after:.1f} s after the kill: {left}"
    assert after == 0, f"{how}: {after} forge write(s) served after the engine tree had ended"
    return {"gone_s": gone_after, "in_flight": at_gone - at_kill, "after": after}


def test_a_process_group_sigkill_mid_write_leaves_nothing_running(cli_train):
    train = cli_train
    assert train.promote("testing").code == 0
    sandbox = train.sandbox
    files = stack_files(train)
    paused = sandbox.pause_after_writes(1)  # hold the forge right after the first write
    command = spawn_tagged(train, *PROMOTE_STAGING)
    try:
        deadline = time.monotonic() + 120
        while not paused.is_set():
            assert command.proc.poll() is None, command.log.read_text()
            assert time.monotonic() < deadline, "the promotion never wrote"
            time.sleep(0.02)
        assert len(command.tree()) >= 3  # the command, the CLI and at least one plugin
        os.killpg(command.proc.pid, signal.SIGKILL)
        command.proc.wait(timeout=30)
        _, left = command.wait_gone(GONE_WITHIN)
        gone_at = time.monotonic()
        sandbox.resume()  # whatever still runs may now write: nothing may
        time.sleep(QUIET_FOR)
        assert not left, f"still running after the kill: {left}"
        # A write the tree sent before it ended (the next one can follow the first at once:
        # the ours-merge's commit after the branch) was held by the paused forge and is
        # served now, as a forge serves a request in flight (`kill_and_watch` allows those
        # too); none may arrive once the tree is gone.
        late = [
            s.key
            for s in sandbox.served()
            if s.started >= gone_at and s.key.split()[0] not in ("GET", "HEAD")
        ]
        assert late == [], f"forge write(s) sent after the engine tree had ended: {late}"
    finally:
        sandbox.resume()
        command.stop_everything()
    # The next run recovers the killed one and finishes the promotion.
    runs = train.run_to_merge("staging")
    assert runs[-1].code == 0
    # Neither the killed promotion nor the runs that finished it wrote a stack file.
    assert stack_files(train) == files


def test_sigint_ignored_is_not_handed_on_to_the_engine(cli_train):
    """`release plan &` in a script starts the command with SIGINT ignored; the engine's
    processes must not inherit that, or the engine waits 5 s for each plugin it stops."""
    train = cli_train
    command = spawn_tagged(train, "plan", "testing", ignore_sigint=True)
    seen: dict[int, tuple[str, bool]] = {}
    started = time.monotonic()
    try:
        while command.proc.poll() is None and time.monotonic() - started < 120:
            for pid, cmdline in command.tree().items():
                if pid != command.proc.pid and pid not in seen:
                    ignored = ignores_sigint(pid)
                    if ignored is not None:
                        seen[pid] = (cmdline, ignored)
            time.sleep(0.01)
        took = time.monotonic() - started
    finally:
        command.stop_everything()
    assert command.proc.returncode == 0, command.log.read_text()
    names = " ".join(cmdline for cmdline, _ in seen.values())
    assert "bin/pulumi-language-python " in names and "pulumi-language-python-exec" in names, names
    assert not [c for c, ignored in seen.values() if ignored], seen
    report(f"plan started with SIGINT ignored: {took:.1f} s, {len(seen)} engine processes")


def write_times(sandbox, command, timeout: float = 300) -> list[float]:
    """Run `command` to its end; the instants (since its start) of each forge write."""
    started, seen, times = time.monotonic(), writes(sandbox), []
    while command.proc.poll() is None:
        assert time.monotonic() - started < timeout, "the promotion ran too long"
        now = writes(sandbox)
        times += [time.monotonic() - started] * (now - seen)
        seen = now
        time.sleep(0.005)
    return times


def wait_first_write(sandbox, command, timeout: float = 300) -> bool:
    """Wait until `command` has made its first forge write; False if it ended before."""
    start, deadline = writes(sandbox), time.monotonic() + timeout
    while writes(sandbox) == start:
        if command.proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_killed_at_random_instants_no_write_after_the_kill(cli_train, harness, tmp_path):
    """SIGTERM and process-group SIGKILL at random instants of a staging promotion's writes:
    uniformly between its first forge write and its last one (as timed on a reference run)."""
    train = cli_train
    assert train.promote("testing").code == 0
    scenario = Scenario.freeze(train.sandbox, harness, tmp_path)
    sandbox, reference_train = scenario.fresh("reference")
    try:
        before = git_refs(sandbox)
        command = spawn_tagged(reference_train, *PROMOTE_STAGING)
        try:
            times = write_times(sandbox, command)
        finally:
            command.stop_everything()
        reference_train.run_to_merge("staging")
        reference = end_state(reference_train, before, "staging")
    finally:
        sandbox.stop()
    assert len(times) >= 2, times
    span = times[-1] - times[0]

    seed = int(os.environ.get("RELEASE_TRAIN_KILL_SEED") or time.time())
    rng = random.Random(seed)
    trials = int(os.environ.get("RELEASE_TRAIN_KILL_TRIALS") or 6)
    figures: dict[str, list[dict[str, float | int]]] = {}
    failures: list[str] = []
    for how in ("SIGKILL of the process group", "SIGTERM"):
        for n in range(trials):
            delay = rng.uniform(0, span)
            sandbox, killed_train = scenario.fresh(f"{how.split()[0]}-{n}")
            try:
                files = stack_files(killed_train)
                command = spawn_tagged(killed_train, *PROMOTE_STAGING)
                try:
                    assert wait_first_write(sandbox, command), command.log.read_text()
                    time.sleep(delay)
                    if command.proc.poll() is not None:
                        continue  # finished before the instant: not a kill
                    figures.setdefault(how, []).append(kill_and_watch(sandbox, command, how))
                finally:
                    command.stop_everything()
                # No command writes a stack file (intent is in the stack's record), so a kill
                # can never leave one torn: every file is as it was, byte for byte.
                assert stack_files(killed_train) == files, "a stack file changed under the kill"
                killed_train.run_to_merge("staging")
                state = end_state(killed_train, before, "staging")
                if state != reference:
                    failures.append(f"{how} {delay:.2f} s in: {state} != {reference}")
            except AssertionError as err:
                failures.append(f"{how} {delay:.2f} s after the first write: {err}")
            finally:
                sandbox.stop()
    for how, rows in figures.items():
        report(
            f"{how} at random instants (seed {seed}): {len(rows)} kills mid-promotion, "
            f"engine tree gone within {max(r['gone_s'] for r in rows):.2f} s, "
            f"{sum(int(r['in_flight']) for r in rows)} write(s) in flight at the kill, "
            f"{sum(int(r['after']) for r in rows)} after the tree ended"
        )
    assert not failures, "\n\n".join(failures)
    assert all(
        len(figures.get(how, [])) >= trials // 2
        for how in ("SIGKILL of the process group", "SIGTERM")
    ), figures
