"""The GitHub Actions PPC executor (release/actions.py) against a running sandbox: waves,
a failing PPC, a timeout that cancels, idempotence across re-runs and crashes, the run found
after the delay GitHub lists it with, faults, pacing, and a workflow it cannot use."""

from __future__ import annotations

import threading

import pytest

from release.actions import ActionsExecutor, ActionsSettings
from release.forge import ForgeSession
from release.rules.errors import ConfigError
from release.rules.pacing import Pacing
from release.rules.ppc_jobs import PpcJob
from sandbox.seed import REPO

COMMIT = "c0ffee" + "0" * 34
RELEASE = "release/2026-11-26"
# The settle delay covers the sandbox's appear_seconds (0.3 s in `sb`), as 10 s covers GitHub's.
FAST = {"poll_first": 0.05, "poll_max": 0.2, "appear_timeout": 3.0, "settle_seconds": 0.5}
LISTING = "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"


def _executor(
    sb, timeout: float = 20.0, pacing: Pacing | None = None, **timings
) -> ActionsExecutor:
    session = ForgeSession(sb.base_url, REPO, sb.token, pacing=pacing or Pacing.local())
    settings = ActionsSettings("update-ppc.yml", "master", timeout, **{**FAST, **timings})
    return ActionsExecutor(session, settings)


def _jobs(*ppcs: str, wave: int = 1, commit: str = COMMIT) -> list[PpcJob]:
    return [PpcJob(ppc, RELEASE, commit, wave) for ppc in ppcs]


def _dispatched(sb) -> list[str]:
    return [d["inputs"]["ppc"] for d in sb.dispatches(REPO) if d["kind"] == "workflow_dispatch"]


@pytest.fixture
def sb(seeded_sandbox):
    # Runs are listed a moment after the dispatch, queue, then run: as on GitHub.
    seeded_sandbox.actions.configure(seconds=0.3, queue_seconds=0.1, appear_seconds=0.3)
    return seeded_sandbox


def test_a_wave_dispatches_each_ppc_once_and_awaits_every_run(sb):
    lines: list[str] = []
    outcomes = _executor(sb).run_wave(_jobs("globex", "initech", "umbrella"), lines.append)
    assert [(o.ppc, o.ok, o.detail) for o in outcomes] == [
        ("globex", True, "updated"),
        ("initech", True, "updated"),
        ("umbrella", True, "updated"),
    ]
    runs = {r["inputs"]["ppc"]: r for r in sb.workflow_runs(REPO)}
    assert sorted(_dispatched(sb)) == ["globex", "initech", "umbrella"]
    assert runs["globex"]["inputs"] == {
        "ppc": "globex",
        "release": RELEASE,
        "commit": COMMIT,
        "wave": "1",
        "correlation_id": "rt-globex-c0ffee000000",
    }
    assert outcomes[0].url.endswith(f"/actions/runs/{runs['globex']['id']}")
    assert any("dispatched update-ppc.yml (rt-globex-c0ffee000000)" in line for line in lines)
    assert any(line.startswith("globex: updated: ") and outcomes[0].url in line for line in lines)


def test_a_failed_conclusion_fails_only_its_ppc(sb):
    sb.actions.plan("initech", seconds=0.2, conclusion="failure")
    outcomes = _executor(sb).run_wave(_jobs("globex", "initech"), lambda _: None)
    assert [(o.ppc, o.ok) for o in outcomes] == [("globex", True), ("initech", False)]
    assert outcomes[1].detail == "run concluded failure"
    assert "/actions/runs/" in outcomes[1].url


def test_a_run_past_the_timeout_is_cancelled_and_fails_its_ppc(sb):
    sb.actions.plan("initech", seconds=600)
    lines: list[str] = []
    outcomes = _executor(sb, timeout=1.0).run_wave(_jobs("globex", "initech"), lines.append)
    assert [(o.ppc, o.ok) for o in outcomes] == [("globex", True), ("initech", False)]
    assert outcomes[1].detail == "timed out after 1 s: run cancelled"
    (slow,) = [r for r in sb.workflow_runs(REPO) if r["inputs"]["ppc"] == "initech"]
    assert slow["cancelled_ts"] is not None
    assert any("initech: timed out" in line for line in lines)


def test_a_second_wave_after_success_dispatches_nothing(sb):
    jobs = _jobs("globex", "initech")
    assert all(o.ok for o in _executor(sb).run_wave(jobs, lambda _: None))
    sb.reset_counters()
    lines: list[str] = []
    # Nothing to dispatch: no settle wait (a long one would show as a line and a listing).
    outcomes = _executor(sb, settle_seconds=60).run_wave(jobs, lines.append)
    assert [(o.ok, o.detail) for o in outcomes] == [(True, "already updated by an earlier run")] * 2
    assert sb.writes() == 0
    assert not any("looking again" in line for line in lines)
    assert sb.counters()[LISTING]["reads"] == 1  # the first listing only
    assert len(sb.workflow_runs(REPO)) == 2
    # Another commit of the same PPC is another update.
    assert _executor(sb).run_wave(_jobs("globex", commit="d" * 40), lambda _: None)[0].ok
    assert len(sb.workflow_runs(REPO)) == 3


def test_only_failed_runs_are_dispatched_again(sb):
    sb.actions.plan("initech", seconds=0.1, conclusion="failure")
    _executor(sb).run_wave(_jobs("globex", "initech"), lambda _: None)
    sb.actions.plan("initech", seconds=0.1, conclusion="success")
    outcomes = _executor(sb).run_wave(_jobs("globex", "initech"), lambda _: None)
    assert [(o.ok, o.detail) for o in outcomes] == [
        (True, "already updated by an earlier run"),
        (True, "updated"),
    ]
    assert sorted(_dispatched(sb)) == ["globex", "initech", "initech"]


class _Killed(BaseException):
    """The rollout dies (a kill, not an error the executor would handle)."""


def test_after_a_crash_a_new_executor_awaits_the_run_instead_of_dispatching_again(sb):
    sb.actions.configure(seconds=1.5)
    jobs = _jobs("globex", "initech", "umbrella")

    def die_after_dispatches(line: str) -> None:
        if "umbrella: dispatched" in line:
            raise _Killed

    with pytest.raises(_Killed):
        _executor(sb).run_wave(jobs, die_after_dispatches)
    assert sorted(_dispatched(sb)) == ["globex", "initech", "umbrella"]
    # The rollout starts again (a new process: seconds later, once GitHub lists the runs).
    threading.Event().wait(0.4)
    lines: list[str] = []
    outcomes = _executor(sb).run_wave(jobs, lines.append)
    assert all(o.ok for o in outcomes), outcomes
    assert sorted(_dispatched(sb)) == ["globex", "initech", "umbrella"]  # none twice
    assert any("awaiting the run already" in line for line in lines)


def test_a_crash_right_after_a_dispatch_does_not_dispatch_the_ppc_again(sb):
    # The rollout dies just after dispatching globex and starts again at once, before
    # the sandbox lists the run (as GitHub lists it seconds late): the settle look finds it.
    sb.actions.configure(seconds=3.0, appear_seconds=1.0)
    jobs = _jobs("globex", "initech")

    def die_after_globex(line: str) -> None:
        if "globex: dispatched" in line:
            raise _Killed

    with pytest.raises(_Killed):
        _executor(sb, settle_seconds=1.5).run_wave(jobs, die_after_globex)
    assert _dispatched(sb) == ["globex"]
    lines: list[str] = []
    outcomes = _executor(sb, settle_seconds=1.5).run_wave(jobs, lines.append)
    assert all(o.ok for o in outcomes), outcomes
    runs = [r for r in sb.workflow_runs(REPO) if r["inputs"]["ppc"] == "globex"]
    assert [(r["inputs"]["commit"], r["inputs"]["correlation_id"]) for r in runs] == [
        (COMMIT, "rt-globex-c0ffee000000")
    ]  # exactly one run for globex at this commit
    assert sorted(_dispatched(sb)) == ["globex", "initech"]
    # Both jobs lacked a run at first: one settle wait for the two, then only initech sent.
    assert [line for line in lines if "looking again" in line] == [
        "2 PPC(s) without a run: looking again in 1.5 s before dispatching"
    ]
    assert any(line.startswith("globex: awaiting the run already") for line in lines)
    assert not any(line.startswith("globex: dispatched") for line in lines)


def test_two_rollouts_at_once_do_not_dispatch_twice_when_one_sees_the_other(sb):
    # The second starts once the first's runs are listed: it awaits them.
    sb.actions.configure(seconds=1.0)
    jobs = _jobs("globex", "initech")
    first: list = []
    worker = threading.Thread(
        target=lambda: first.extend(_executor(sb).run_wave(jobs, lambda _: None))
    )
    worker.start()
    while len([r for r in sb.workflow_runs(REPO)]) < 2:
        threading.Event().wait(0.05)
    threading.Event().wait(0.4)  # past appear_seconds
    second = _executor(sb).run_wave(jobs, lambda _: None)
    worker.join(30)
    assert all(o.ok for o in first + second)
    assert sorted(_dispatched(sb)) == ["globex", "initech"]


def test_faults_on_listing_and_dispatch_are_survived_without_a_second_run(sb):
    sb.inject("GET", "*/actions/workflows/*/runs", "500", count=2)
    sb.inject("POST", "*/dispatches", "502", count=1)  # answered before it dispatched
    sb.inject("POST", "*/dispatches", "secondary_rate_limit", count=1, retry_after=0)
    outcomes = _executor(sb, appear_timeout=1.0).run_wave(
        _jobs("globex", "initech", "umbrella"), lambda _: None
    )
    assert all(o.ok for o in outcomes), outcomes
    assert sorted(_dispatched(sb)) == ["globex", "initech", "umbrella"]


def test_dispatches_are_spaced_by_the_pacing_policy(sb):
    sb.reset_counters()
    paced = Pacing("test", 0.25, 4)
    # Dispatching takes longer than a run may take to appear: the jobs still waiting for
    # their dispatch are not looked for meanwhile.
    outcomes = _executor(sb, pacing=paced, appear_timeout=1.2).run_wave(
        _jobs(*"abcdefghij"), lambda _: None
    )
    assert all(o.ok for o in outcomes), outcomes
    writes = sb.writes_at()
    assert len(writes) == 10
    gaps = [later - earlier for earlier, later in zip(writes, writes[1:], strict=False)]
    assert min(gaps) >= 0.2, gaps


def test_polling_lists_runs_instead_of_reading_each_one(sb):
    sb.actions.configure(seconds=1.0)
    sb.reset_counters()
    ppcs = [f"ppc-{i:02d}" for i in range(12)]
    outcomes = _executor(sb).run_wave(_jobs(*ppcs), lambda _: None)
    assert all(o.ok for o in outcomes)
    counters = sb.counters()
    assert not any(key.startswith("GET /repos/{owner}/{repo}/actions/runs/") for key in counters)
    listings = counters[LISTING]["reads"]
    assert sb.writes() == len(ppcs)
    # Each poll is one listing for all twelve runs.
    assert listings < 3 * len(ppcs), listings


def test_a_workflow_it_cannot_use_is_a_config_error_before_any_dispatch(
    sb, github_client, commit_files
):
    repo = github_client().get_repo(REPO)
    commit_files(
        repo,
        "master",
        {
            ".github/workflows/plain.yml": "name: plain\non:\n  workflow_dispatch:\n"
            "    inputs:\n      ppc: {required: true}\njobs: {}\n"
        },
        "Add a workflow without a run-name",
    )
    session = ForgeSession(sb.base_url, REPO, sb.token, pacing=Pacing.local())
    for workflow, expected in (
        ("plain.yml", "run-name must name the correlation id"),
        ("no-such.yml", "has no workflow no-such.yml"),
    ):
        executor = ActionsExecutor(session, ActionsSettings(workflow, "master", 10, **FAST))
        with pytest.raises(ConfigError) as err:
            executor.run_wave(_jobs("globex"), lambda _: None)
        assert err.value.key == "ppcWorkflow" and expected in str(err.value)
    assert _dispatched(sb) == []


def test_forge_text_in_progress_lines_is_escaped(sb, github_client, commit_files):
    repo = github_client().get_repo(REPO)
    commit_files(
        repo,
        "master",
        {
            ".github/workflows/update-ppc.yml": "name: update-ppc\n"
            'run-name: "\\e[31mred\\e[0m ${{ inputs.correlation_id }}"\n'
            "on:\n  workflow_dispatch:\n    inputs:\n"
            + "".join(
                f"      {name}: {{}}\n"
                for name in ("ppc", "release", "commit", "wave", "correlation_id")
            )
            + "jobs: {}\n"
        },
        "A run-name with a terminal escape",
    )
    lines: list[str] = []
    assert _executor(sb).run_wave(_jobs("globex"), lines.append)[0].ok
    assert not any("\x1b" in line for line in lines)
    assert any("\\x1b[31mred" in line for line in lines)


def test_an_empty_ref_dispatches_on_the_default_branch(sb):
    session = ForgeSession(sb.base_url, REPO, sb.token, pacing=Pacing.local())
    executor = ActionsExecutor(session, ActionsSettings("update-ppc.yml", "", 20, **FAST))
    assert executor.run_wave(_jobs("globex"), lambda _: None)[0].ok
    assert [d["ref"] for d in sb.dispatches(REPO)] == ["master"]


def test_settings_from_a_wave_spec():
    spec = {"kind": "actions", "workflow": "ppc-update.yml", "ref": "main", "timeout": 900}
    settings = ActionsSettings.from_spec(spec)
    assert (settings.workflow, settings.ref, settings.timeout) == ("ppc-update.yml", "main", 900.0)
    assert ActionsSettings.from_spec({**spec, "poll_max": 2}).poll_max == 2.0
    assert settings.settle_seconds == 10.0  # longer than GitHub takes to list a new run
    assert ActionsSettings.from_spec({**spec, "settle_seconds": 1}).settle_seconds == 1.0
