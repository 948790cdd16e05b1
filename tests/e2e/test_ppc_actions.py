"""PPC waves on GitHub Actions (`ppcExecutor: actions`), under the real engine, through the
`release` command line in subprocesses, against the sandbox's Actions.

The seeded repository's `update-ppc.yml` names the correlation id in its run-name. The
sandbox's runner decides each run: a failing PPC fails its wave, later waves are not
dispatched, and the next promotion finishes only what is missing (the failed PPC is
dispatched again, its wave partner is not). A kill while a wave's runs are in flight
converges without dispatching any PPC twice for the release's commit.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from release.cli.common import GATE_WAIT_EXIT_CODE
from release.engine import automation
from sandbox.seed import REPO
from tests.reliability.cli_train import GATE_WAITS, CliTrain, Outcome

pytestmark = pytest.mark.e2e
WAVES = [["acme-internal"], ["globex", "initech"], ["hooli", "soylent", "umbrella"]]
EVERY = sorted(n for wave in WAVES for n in wave)


@pytest.fixture
def train(harness, seeded_sandbox, monkeypatch) -> CliTrain:
    monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(harness.engine.bin_dir.parent))
    train = CliTrain.start(harness, seeded_sandbox, Path(harness.workdir))
    assert train.promote("testing").code == 0
    train.run_to_merge("staging")
    automation.pin(
        train.project,
        "production",
        {"ppcExecutor": "actions", "ppcWorkflow": "update-ppc.yml", "ppcTimeout": "120"},
    )
    return train


def dispatched(train: CliTrain) -> collections.Counter[tuple[str, str]]:
    """(PPC, commit) -> how many runs were dispatched for it."""
    return collections.Counter(
        (run["inputs"]["ppc"], run["inputs"]["commit"]) for run in train.sandbox.workflow_runs(REPO)
    )


def promote_production(train: CliTrain, **kill) -> list[Outcome]:
    """Promote production, approving when its gate asks, until it ends (or is killed)."""
    runs: list[Outcome] = []
    for _ in range(4):
        outcome = train.promote("production", **kill)
        runs.append(outcome)
        if outcome.code == GATE_WAIT_EXIT_CODE and GATE_WAITS in outcome.output:
            train.approve("production")
            continue
        return runs
    raise AssertionError("\n\n".join(o.describe() for o in runs))


@pytest.mark.timeout(900)
def test_waves_on_actions_stop_at_a_failed_ppc_and_the_next_run_finishes_what_is_missing(train):
    sb = train.sandbox
    sb.actions.configure(seconds=0.5, queue_seconds=0.2, appear_seconds=0.5)
    sb.actions.plan("globex", seconds=0.5, conclusion="failure")

    failed = promote_production(train)[-1]
    assert failed.code == 1, failed.describe()
    assert "wave 2: globex: run concluded failure" in failed.output, failed.describe()
    head = train.outputs("staging")["releaseHead"]
    assert dispatched(train) == {
        ("acme-internal", head): 1,
        ("globex", head): 1,
        ("initech", head): 1,
    }  # wave 3 never started
    (failed_run,) = [r for r in sb.workflow_runs(REPO) if r["inputs"]["ppc"] == "globex"]
    assert failed_run["inputs"]["correlation_id"] == f"rt-globex-{head[:12]}"
    assert failed_run["inputs"]["release"] == "release/2026-11-26"
    assert f"/actions/runs/{failed_run['id']})" in failed.output  # the run's URL is shown

    # globex fixed: the next run dispatches globex again and wave 3; nothing else.
    sb.actions.plan("globex", seconds=0.5, conclusion="success")
    done = promote_production(train)[-1]
    assert done.code == 0, done.describe()
    counts = dispatched(train)
    assert counts[("globex", head)] == 2
    assert {ppc: n for (ppc, _), n in counts.items() if ppc != "globex"} == dict.fromkeys(
        [p for p in EVERY if p != "globex"], 1
    )
    outcomes = json.loads(train.outputs("production")["rollout"]["ppcs"]["outcomes"])
    assert sorted(outcomes) == EVERY and all(o["ok"] for o in outcomes.values())
    assert all("/actions/runs/" in o["url"] for o in outcomes.values())

    # Nothing left to do: no dispatch, no write.
    sb.reset_counters()
    again = promote_production(train)[-1]
    assert again.code == 0, again.describe()
    assert dispatched(train) == counts and sb.writes() == 0


@pytest.mark.timeout(900)
def test_a_kill_while_a_wave_runs_converges_without_a_second_dispatch(train):
    sb = train.sandbox
    sb.actions.configure(seconds=4, queue_seconds=0.2, appear_seconds=0.5)

    def wave_two_in_flight() -> bool:
        return {r["inputs"]["ppc"] for r in sb.workflow_runs(REPO)} >= {"globex", "initech"}

    runs = promote_production(train, kill_when=wave_two_in_flight)
    assert runs[-1].killed, "\n\n".join(o.describe() for o in runs)
    finished = promote_production(train)[-1]
    assert finished.code == 0, finished.describe()
    head = train.outputs("staging")["releaseHead"]
    assert dispatched(train) == {(ppc, head): 1 for ppc in EVERY}
    outcomes = json.loads(train.outputs("production")["rollout"]["ppcs"]["outcomes"])
    assert sorted(outcomes) == EVERY and all(o["ok"] for o in outcomes.values())
