"""One PPC wave as one resource: the local-command executor with real subprocesses, and the
wave provider's create, update and failure on plain data (no engine)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from release.cli.ops import failed_in_wave
from release.ppc_status import read_ppc_state
from release.providers.ppc_command import CommandExecutor, last_line
from release.providers.ppc_wave import (
    OnActions,
    PpcWaveFailed,
    PpcWaveProvider,
    executor_from,
    ppcs_text,
    wave_jobs,
)
from release.rules.ppc_jobs import PpcJob
from release.rules.ppcs import Ppc, PpcConfigError

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"
RELEASE = "release/2026-11-26"
DEPLOY = (
    f"{sys.executable} -m release.ppc_deploy --state {{state}} --ppc {{ppc}} "
    "--release {release} --commit {commit}"
)


def jobs(*names: str, wave: int = 1, commit: str = SHA) -> list[PpcJob]:
    return [
        PpcJob(name, RELEASE, commit, wave, {"RELEASE_TRAIN_PPC": name, "PIN_SDK": "v3"})
        for name in names
    ]


def run(executor: CommandExecutor, wave: list[PpcJob]) -> tuple[list, list[str]]:
    said: list[str] = []
    return executor.run_wave(wave, said.append), said


# --- the executor spec -----------------------------------------------------------------------


ACTIONS = {
    "kind": "actions",
    "api_url": "https://api.github.com",
    "repository": "acme/service",
    "workflow": "ppc-update.yml",
    "ref": "",
    "timeout": 900,
}


def test_executor_from_an_actions_spec_builds_no_session_until_a_wave_runs(monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)  # the program may have no token
    executor = executor_from(ACTIONS)
    assert isinstance(executor, OnActions)
    assert (executor.api_url, executor.repository) == ("https://api.github.com", "acme/service")
    assert (executor.settings.workflow, executor.settings.ref) == ("ppc-update.yml", "")
    assert executor.settings.timeout == 900.0


def test_executor_from_a_command_spec():
    executor = executor_from({"kind": "command", "command": "true {ppc}", "state": "s"})
    assert isinstance(executor, CommandExecutor)
    assert (executor.command, executor.state, executor.parallel) == ("true {ppc}", "s", None)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            {"kind": "actionz"},
            "PPC executor kind 'actionz' is unknown: the kinds are command, actions",
        ),
        ({"kind": "actions", "workflow": "x.yml", "timeout": 60}, "has no api_url, repository"),
        ({**ACTIONS, "workflow": ""}, "a bad spec (no workflow)"),
        ({**ACTIONS, "timeout": 0}, "timeout 0 is not a number of seconds"),
        ({}, "PPC executor kind None is unknown"),
        ({"kind": "command", "command": "x {customer}"}, "unknown placeholder {customer}"),
        ({"kind": "command", "command": ""}, "ppcCommand is empty"),
        ({"kind": "command", "command": "x", "token": "t"}, "has no setting token"),
        ({"kind": "command", "command": "x", "timeout": -1}, "timeout -1"),
    ],
)
def test_a_bad_executor_spec_is_named(spec, fragment):
    with pytest.raises(PpcConfigError) as err:
        executor_from(spec)
    assert fragment in str(err.value)


# --- the local-command executor, real processes ----------------------------------------------


def test_each_ppc_runs_its_rendered_command_with_its_environment(tmp_path):
    command = 'printf \'%s %s %s\\n\' {ppc} "$RELEASE_TRAIN_PPC" "$PIN_SDK" > {state}/{ppc}.out'
    executor = CommandExecutor(command, state=str(tmp_path))
    outcomes, said = run(executor, jobs("acme", "globex"))
    assert [(o.ppc, o.ok) for o in outcomes] == [("acme", True), ("globex", True)]
    assert (tmp_path / "acme.out").read_text() == "acme acme v3\n"
    assert (tmp_path / "globex.out").read_text() == "globex globex v3\n"
    assert sorted(said) == ["PPC acme: done", "PPC globex: done"]


def test_an_ok_outcome_keeps_the_last_line_of_output_and_a_failure_says_why(tmp_path):
    command = (
        'if [ {ppc} = globex ]; then echo "error: PPC {ppc}: \x1b[2J broke" >&2; exit 3; fi; '
        'echo working; echo "PPC {ppc} now runs it"'
    ).replace("{ppc}", "$RELEASE_TRAIN_PPC")  # the placeholder may not sit inside quotes
    outcomes, _ = run(CommandExecutor(command), jobs("acme", "globex"))
    acme, globex = outcomes
    assert acme.ok and acme.detail == "PPC acme now runs it"
    assert not globex.ok
    assert globex.detail == "exit status 3: error: PPC globex: \\x1b[2J broke"


def test_the_whole_wave_runs_at_once(tmp_path):
    # Each job waits until all four have started: run one after the other, they would fail.
    barrier = (
        "touch {state}/{ppc}; i=0; while [ $(ls {state} | wc -l) -lt 4 ]; do "
        "i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05; done"
    )
    outcomes, _ = run(CommandExecutor(barrier, state=str(tmp_path)), jobs("a", "b", "c", "d"))
    assert all(o.ok for o in outcomes), outcomes


def test_parallel_caps_the_jobs_running_at_once(tmp_path):
    (tmp_path / "running").mkdir()
    count = (
        "touch {state}/running/{ppc}; n=$(ls {state}/running | wc -l); sleep 0.3; "
        "rm {state}/running/{ppc}; echo $n > {state}/{ppc}.seen"
    )
    executor = CommandExecutor(count, state=str(tmp_path), parallel=2)
    outcomes, _ = run(executor, jobs("a", "b", "c", "d", "e"))
    assert all(o.ok for o in outcomes)
    seen = [int((tmp_path / f"{n}.seen").read_text()) for n in "abcde"]
    assert max(seen) <= 2 and max(seen) == 2


def test_a_timed_out_job_is_ended_with_everything_it_started(tmp_path):
    command = "sleep 30 & echo $! > {state}/{ppc}.pid; wait"
    executor = CommandExecutor(command, state=str(tmp_path), timeout=0.5)
    started = time.monotonic()
    outcomes, _ = run(executor, jobs("acme"))
    assert time.monotonic() - started < 10
    assert not outcomes[0].ok and outcomes[0].detail.startswith("timed out after 0.5 s")
    child = int((tmp_path / "acme.pid").read_text())
    for _ in range(100):
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child), "the job's own child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_each_job_sits_in_a_process_group_of_its_own(tmp_path):
    probe = "import os; print(os.getpgid(0) != int(os.environ['PROVIDER_PGID']))"
    command = f"{sys.executable} -c {probe!r}".replace("{", "{{").replace("}", "}}")
    job = PpcJob("acme", RELEASE, SHA, 1, {"PROVIDER_PGID": str(os.getpgid(0))})
    (outcome,), _ = run(CommandExecutor(command), [job])
    assert outcome.ok and outcome.detail == "True"


PROVIDER = """
import sys
from release.providers.ppc_command import CommandExecutor
from release.rules.ppc_jobs import PpcJob
jobs = [PpcJob(n, "r", "c" * 40, 1) for n in ("acme", "globex")]
CommandExecutor(sys.argv[1], state=sys.argv[2]).run_wave(jobs, print)
"""


def test_a_killed_provider_leaves_no_job_running(tmp_path):
    # A compound command: the shell forks `sleep`, so only the guard can reach it.
    command = "sleep 60 & echo $! > {state}/{ppc}.pid; wait; echo done > {state}/{ppc}.out"
    provider = subprocess.Popen([sys.executable, "-c", PROVIDER, command, str(tmp_path)], cwd=ROOT)
    pids = [tmp_path / "acme.pid", tmp_path / "globex.pid"]
    for _ in range(200):
        if all(p.exists() and p.read_text().strip() for p in pids):
            break
        time.sleep(0.05)
    jobs = [int(p.read_text()) for p in pids]
    assert all(_alive(pid) for pid in jobs)
    provider.kill()
    provider.wait()
    for _ in range(100):
        if not any(_alive(pid) for pid in jobs):
            break
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in jobs), "a job outlived the provider's SIGKILL"
    assert not list(tmp_path.glob("*.out"))


def test_a_command_that_cannot_start_is_a_failed_outcome(tmp_path):
    executor = CommandExecutor("true {ppc}", dir=str(tmp_path / "missing"))
    (outcome,), _ = run(executor, jobs("acme"))
    assert not outcome.ok and outcome.detail.startswith("could not start:")


def test_last_line_is_one_visible_line_of_bounded_length():
    assert last_line("a\n\nb \n \n") == "b"
    assert last_line("x\x1b]0;title\x07") == "x\\x1b]0;title\\x07"
    assert len(last_line("y" * 1000)) == 200


# --- the wave provider -----------------------------------------------------------------------


def props(state: Path, names: tuple[str, ...] = ("acme", "globex"), commit: str = SHA, **more):
    return {
        "wave": 2,
        "release": RELEASE,
        "commit": commit,
        "ppcs": ppcs_text([Ppc(n, 2, {"REGION": "eu"} if n == "acme" else {}) for n in names]),
        "pins": {"sdk": "v3"},
        "environment": {"RELEASE_TRAIN_ENVIRONMENT": "production"},
        "executor": {"kind": "command", "command": DEPLOY, "state": str(state)},
        **more,
    }


def updates(state: Path) -> list[str]:
    log = state / "updates.log"
    return [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture(autouse=True)
def in_project(monkeypatch):
    monkeypatch.chdir(ROOT)  # the job is `python -m release.ppc_deploy`


def test_wave_jobs_carry_the_rules_environment(tmp_path):
    acme, globex = wave_jobs(props(tmp_path))
    assert acme.environment == {
        "RELEASE_TRAIN_ENVIRONMENT": "production",
        "REGION": "eu",
        "RELEASE_TRAIN_PPC": "acme",
        "RELEASE_TRAIN_RELEASE": RELEASE,
        "RELEASE_TRAIN_COMMIT": SHA,
        "RELEASE_TRAIN_WAVE": "2",
        "PIN_SDK": "v3",
    }
    assert (globex.ppc, globex.wave, "REGION" in globex.environment) == ("globex", 2, False)


def test_create_updates_every_ppc_and_records_each_outcome(tmp_path):
    result = PpcWaveProvider().create(props(tmp_path))
    assert result.id == "ppc-wave-2"
    outcomes = result.outs["outcomes"]
    assert sorted(outcomes) == ["acme", "globex"]
    assert outcomes["acme"]["ok"] and outcomes["acme"]["detail"].startswith("PPC acme now runs")
    assert {n: r.commit for n, r in read_ppc_state(tmp_path).items()} == {
        "acme": SHA,
        "globex": SHA,
    }


def test_a_failed_ppc_fails_the_wave_and_the_next_run_does_only_what_is_missing(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "fail").write_text("globex\n")
    provider = PpcWaveProvider()
    with pytest.raises(PpcWaveFailed) as err:
        provider.create(props(tmp_path, ("acme", "globex", "initech")))
    message = str(err.value)
    assert message.startswith(f"PPC wave 2 of {RELEASE}: 1 of 3 PPC update(s) failed")
    assert "later waves do not start" in message
    assert list(failed_in_wave(message)) == ["globex"]
    assert "lists this PPC" in failed_in_wave(message)["globex"]
    assert sorted(read_ppc_state(tmp_path)) == ["acme", "initech"]  # its own wave ran on
    (tmp_path / "fail").unlink()
    result = provider.create(props(tmp_path, ("acme", "globex", "initech")))
    assert all(o["ok"] for o in result.outs["outcomes"].values())
    assert "not updated again" in result.outs["outcomes"]["acme"]["detail"]
    assert sorted(updates(tmp_path)) == ["acme", "globex", "initech"]  # each PPC once


def test_the_failure_message_escapes_what_the_job_printed(tmp_path):
    spec = {"kind": "command", "command": "printf 'bad \\033[2J\\n'; exit 1 {ppc}"}
    with pytest.raises(PpcWaveFailed) as err:
        PpcWaveProvider().create(props(tmp_path, ("acme",), executor=spec))
    assert "\x1b" not in str(err.value)
    assert "failed PPC acme: exit status 1: bad \\x1b[2J" in str(err.value)


def test_diff_runs_the_wave_again_only_when_its_inputs_change(tmp_path):
    provider = PpcWaveProvider()
    olds = {**props(tmp_path), "outcomes": {}}
    assert not provider.diff("ppc-wave-2", olds, props(tmp_path)).changes
    assert provider.diff("ppc-wave-2", olds, props(tmp_path, commit=OTHER)).changes
    assert provider.diff("ppc-wave-2", olds, props(tmp_path, pins={"sdk": "v4"})).changes
    assert provider.diff("ppc-wave-2", olds, props(tmp_path, ("acme",))).changes
    assert not provider.diff("ppc-wave-2", olds, props(tmp_path)).replaces


def test_update_runs_the_changed_ppcs_and_keeps_the_others(tmp_path):
    provider = PpcWaveProvider()
    olds = provider.create(props(tmp_path)).outs
    # A PPC added to the wave, same release: only it runs.
    added = provider.update("ppc-wave-2", olds, props(tmp_path, ("acme", "globex", "hooli")))
    assert sorted(updates(tmp_path)) == ["acme", "globex", "hooli"]  # hooli only, now
    assert added.outs["outcomes"]["acme"] == olds["outcomes"]["acme"]
    assert sorted(added.outs["outcomes"]) == ["acme", "globex", "hooli"]
    # A new commit: every PPC runs again, once.
    newer = provider.update("ppc-wave-2", added.outs, props(tmp_path, commit=OTHER))
    assert sorted(newer.outs["outcomes"]) == ["acme", "globex"]
    assert sorted(updates(tmp_path)) == ["acme", "acme", "globex", "globex", "hooli"]
    assert read_ppc_state(tmp_path)["acme"].commit == OTHER


def test_the_failure_message_points_at_a_failed_run():
    from release.providers.ppc_wave import failure_message
    from release.rules.ppc_jobs import PpcOutcome

    message = failure_message(
        2,
        "release/2026-11-26",
        [
            PpcOutcome("globex", False, "run concluded failure", "https://github.com/a/b/runs/7"),
            PpcOutcome("initech", True, "updated", "https://github.com/a/b/runs/8"),
        ],
    )
    assert "failed PPC globex: run concluded failure (https://github.com/a/b/runs/7)" in message
    assert "initech" not in message
