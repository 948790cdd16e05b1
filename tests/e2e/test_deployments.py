"""Every promotion is a GitHub Deployment, under the real engine against the sandbox: a week
of promotions (staging, then production with a failing PPC wave and its recovery), a
rollback, and re-runs that never add a deployment or a status."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from release.cli import app
from release.cli.common import GATE_WAIT_EXIT_CODE
from release.rules import clock
from tests.e2e.train import RELEASE_DATE, Train

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"
EARLIER = "release/2026-11-19"
PPCS = sorted(["acme-internal", "globex", "initech", "hooli", "soylent", "umbrella"])


@pytest.fixture
def train(harness, seeded_sandbox, monkeypatch):
    train = Train.for_cli(harness, seeded_sandbox, monkeypatch)
    return train


def cli(monkeypatch: pytest.MonkeyPatch, *args: str, today: str = RELEASE_DATE) -> tuple[int, str]:
    day = dt.date.fromisoformat(today)
    monkeypatch.setattr(clock, "today", lambda: day)
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def of(repo, environment: str) -> list:
    """The environment's deployments, newest first."""
    return list(repo.get_deployments(environment=environment))


def states(deployment) -> list[str]:
    return [s.state for s in deployment.get_statuses()]


def test_a_week_of_promotions_a_failure_a_rollback_and_re_runs(train, monkeypatch):
    repo = train.repo()
    ppc_dir = train.project.directory / ".state" / "ppcs"

    # staging: nothing is deployed while the merge waits at its gate.
    assert cli(monkeypatch, "promote", "testing")[0] == 0
    code, _ = cli(monkeypatch, "promote", "staging", "--date", RELEASE_DATE)
    assert code == GATE_WAIT_EXIT_CODE and repo.get_deployments().totalCount == 0
    train.approve("staging")
    assert cli(monkeypatch, "promote", "staging", "--date", RELEASE_DATE)[0] == 0
    out = train.outputs("staging")
    [staged] = of(repo, "staging")
    assert staged.sha == out["mergeCommit"] and staged.task == "deploy"
    assert staged.payload["release"] == RELEASE and staged.payload["pr"] == out["prNumber"]
    # nothing runs between staging's merge and its success: no `in_progress` before it
    assert states(staged) == ["success"]
    done = list(staged.get_statuses())[0]
    assert done.raw_data["log_url"] == out["prUrl"]
    assert out["rollout"]["deployment"]["id"] == staged.id

    # Re-runs: the same `promote`, then an `up` that replaces the deployment resources (as
    # after a lost state): the same deployment is found, and no status is added.
    assert cli(monkeypatch, "promote", "staging", "--date", RELEASE_DATE)[0] == 0
    urns = [
        r["urn"]
        for r in train.stack("staging").export_stack().deployment["resources"]
        if r["urn"].endswith(("::deployment", "::deployment-done"))
    ]
    assert len(urns) == 2
    replaced = train.stack("staging").up(on_output=train.harness_log, replace=urns)
    assert replaced.summary.resource_changes.get("replace") == 2
    assert [d.id for d in of(repo, "staging")] == [staged.id]
    assert states(staged) == ["success"]

    # production (forced past the soak for the test): wave 2 fails, so the run fails and its
    # deployment is `failure`, with the pull request as its log.
    ppc_dir.mkdir(parents=True, exist_ok=True)
    (ppc_dir / "fail").write_text("globex\n")
    args = ("promote", "production", "--force", "--reason", "drill")
    code, _ = cli(monkeypatch, *args)
    assert code == GATE_WAIT_EXIT_CODE and of(repo, "production") == []
    train.approve("production")
    code, output = cli(monkeypatch, *args)
    assert code == 1 and "PPC globex" in " ".join(output.split())
    [prod] = of(repo, "production")
    assert prod.production_environment is True and prod.payload["release"] == RELEASE
    assert states(prod) == ["failure", "in_progress"]
    failed = list(prod.get_statuses())[0]
    assert failed.raw_data["log_url"].endswith(f"/pull/{train.outputs('production')['prNumber']}")
    assert f"deployment {prod.id} of production: failure" in " ".join(output.split())

    # The failure fixed: the next run finishes the rollout and the deployment succeeds.
    (ppc_dir / "fail").unlink()
    assert cli(monkeypatch, *args)[0] == 0
    assert [d.id for d in of(repo, "production")] == [prod.id]
    assert states(prod) == ["success", "failure", "in_progress"]
    # Each PPC's update is a deployment to ppc/<name>, at the release's head, with one status
    # when it went right at once (a deployment without status is started): globex failed
    # once, was in progress again, then succeeded; wave 1 was not deployed again.
    head = train.outputs("production")["releaseHead"]
    ppcs = {d.environment: d for d in repo.get_deployments(task="deploy:ppc")}
    assert sorted(ppcs) == [f"ppc/{n}" for n in PPCS]
    assert {d.sha for d in ppcs.values()} == {head}
    assert states(ppcs["ppc/acme-internal"]) == ["success"]
    assert states(ppcs["ppc/globex"]) == ["success", "in_progress", "failure"]
    assert ppcs["ppc/hooli"].payload == {"release": RELEASE, "ppc": "hooli", "wave": 3}

    # What the forge says, beside the state's answer.
    code, output = cli(monkeypatch, "status", "--from-deployments", "--json")
    rows = {row["environment"]: row for row in json.loads(output)}
    assert code == 0 and "deployment" not in rows["testing"]
    assert rows["staging"]["deployment"]["id"] == staged.id
    assert rows["production"]["deployment"]["state"] == "success"
    code, output = cli(monkeypatch, "status", "--from-deployments")
    assert f"production: GitHub Deployment {prod.id}: {RELEASE}" in output
    code, output = cli(monkeypatch, "ppc", "status", "--from-deployments", "--json")
    rows = json.loads(output)["ppcs"]
    assert code == 0 and {row["deployment"]["state"] for row in rows} == {"success"}
    assert {row["deployment"]["release"] for row in rows} == {RELEASE}

    # Roll staging back to the release before: a deployment of that release at the
    # rollback's merge commit, and the replaced one is `inactive`.
    code, _ = cli(monkeypatch, "rollback", "staging", "--to", EARLIER)
    assert code == GATE_WAIT_EXIT_CODE
    assert [d.id for d in of(repo, "staging")] == [staged.id]
    train.approve("staging")
    assert cli(monkeypatch, "rollback", "staging", "--to", EARLIER)[0] == 0
    back, replaced_one = of(repo, "staging")
    assert replaced_one.id == staged.id
    assert back.sha == repo.get_branch("staging").commit.sha
    assert back.payload == {"release": EARLIER, "rollback": True, "from": RELEASE}
    assert states(back) == ["success"]
    assert states(staged)[0] == "inactive"
    code, output = cli(monkeypatch, "status", "--from-deployments")
    assert f"staging: GitHub Deployment {back.id}: {EARLIER}" in output
    assert "differs" not in output

    # Nothing new on a re-run of anything.
    train.sandbox.reset_counters()
    for env in ("staging", "production"):
        train.stack(env).up(on_output=train.harness_log)
    assert train.sandbox.writes() == 0
    assert repo.get_deployments().totalCount == 3 + len(PPCS)
