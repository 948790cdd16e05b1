"""The CI workflow: actionlint accepts it, and it says what the release process needs
(Thursday staging, Tuesday production, GitHub environments, one promotion at a time per
environment, state backend and passphrase from secrets)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release-train.yml"
INSTALLER = ROOT / "scripts" / "install-actionlint.sh"

COMMANDS = ["plan", "promote", "status", "cherry-pick", "rollback", "abandon", "payload"]
WRITE_COMMANDS = {"promote", "cherry-pick", "rollback", "abandon"}
THURSDAY, TUESDAY = 4, 2


def actionlint() -> str:
    path = subprocess.run(
        [str(INSTALLER), "--print-path"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if not Path(path).is_file():
        pytest.fail(f"actionlint is not installed at {path}: run make actionlint")
    return path


def lint(workflow: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [actionlint(), "-no-color", str(workflow)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def run_scripts(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def jobs_running(workflow: dict, pattern: str) -> dict[str, dict]:
    return {
        name: job
        for name, job in workflow["jobs"].items()
        if re.search(pattern, run_scripts(job), re.MULTILINE)
    }


def weekday(cron: str) -> int:
    minute, hour, day, month, dow = cron.split()
    assert (day, month) == ("*", "*"), cron
    assert dow.isdigit(), f"{cron}: one fixed weekday expected"
    return int(dow)


def test_actionlint_accepts_the_workflow():
    result = lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_checks(tmp_path):
    # The same workflow with a mistake actionlint must catch: a job reading an undefined
    # input. If this passed, the test above would prove nothing.
    broken = WORKFLOW.read_text().replace("inputs.command", "inputs.comand", 1)
    assert broken != WORKFLOW.read_text()
    path = tmp_path / "release-train.yml"
    path.write_text(broken)
    result = lint(path)
    assert result.returncode != 0
    assert "comand" in result.stdout


def test_pull_requests_that_touch_the_program_run_the_tests_and_post_the_plans(workflow):
    paths = triggers(workflow)["pull_request"]["paths"]
    for needed in ("__main__.py", "Pulumi.yaml", "Pulumi.*.yaml", "release/**"):
        assert needed in paths
    [test_job] = jobs_running(workflow, r"^\s*make test\s*$").values()
    assert "pull_request" in test_job["if"]
    [(plan_name, plan_job)] = jobs_running(workflow, r"python -m release plan").items()
    assert plan_job["needs"] == "test"
    assert "for environment in testing staging production" in run_scripts(plan_job)
    assert plan_job["permissions"]["pull-requests"] == "write"
    posting = [
        s for s in plan_job["steps"] if s.get("uses", "").startswith("actions/github-script")
    ]
    assert len(posting) == 1 and "createComment" in posting[0]["with"]["script"]


def test_thursday_promotes_staging_and_tuesday_production_in_their_environments(workflow):
    crons = [entry["cron"] for entry in triggers(workflow)["schedule"]]
    by_day = {weekday(cron): cron for cron in crons}
    assert sorted(by_day) == [TUESDAY, THURSDAY]
    for environment, day in (("staging", THURSDAY), ("production", TUESDAY)):
        jobs = jobs_running(workflow, rf"python -m release promote {environment}\s*$")
        assert len(jobs) == 1, environment
        [job] = jobs.values()
        assert job["environment"] == environment
        assert f"github.event.schedule == '{by_day[day]}'" in job["if"]
        assert job["concurrency"] == {
            "group": f"release-train-{environment}",
            "cancel-in-progress": False,
        }


def test_manual_dispatch_runs_any_command(workflow):
    inputs = triggers(workflow)["workflow_dispatch"]["inputs"]
    assert inputs["command"]["type"] == "choice"
    assert inputs["command"]["options"] == COMMANDS
    assert set(inputs["environment"]["options"]) == {"testing", "staging", "production"}
    assert inputs["args"]["type"] == "string"
    dispatched = {
        name: job
        for name, job in workflow["jobs"].items()
        if "workflow_dispatch" in str(job.get("if", ""))
    }
    covered: set[str] = set()
    for name, job in dispatched.items():
        listed = set(re.findall(r'"([a-z-]+)"', job["if"]))
        covered |= listed
        if listed & WRITE_COMMANDS:
            # Writes wait for the environment's reviewers and queue behind a promotion.
            assert listed <= WRITE_COMMANDS, name
            assert job["environment"] == "${{ inputs.environment }}"
            assert job["concurrency"] == {
                "group": "release-train-${{ inputs.environment }}",
                "cancel-in-progress": False,
            }
    assert covered == set(COMMANDS)


def test_every_writing_job_shares_its_environments_concurrency_group(workflow):
    for name, job in workflow["jobs"].items():
        if job.get("permissions", {}).get("contents") == "write":
            assert "environment" in job, name
            group = job["concurrency"]["group"]
            assert group.startswith("release-train-"), name
            assert job["concurrency"]["cancel-in-progress"] is False, name


def test_state_backend_passphrase_and_token_come_from_secrets(workflow):
    release_jobs = jobs_running(workflow, r"python -m release")
    assert len(release_jobs) >= 4
    for name, job in release_jobs.items():
        env = job["env"]
        assert env["PULUMI_BACKEND_URL"] == "${{ secrets.PULUMI_BACKEND_URL }}", name
        assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", name
        assert env["GITHUB_TOKEN"] == "${{ secrets.RELEASE_TRAIN_TOKEN || github.token }}", name
    # The test job needs no secret, and the workflow grants read-only access by default.
    [test_job] = jobs_running(workflow, r"^\s*make test\s*$").values()
    assert "secrets." not in str(test_job)
    assert workflow["permissions"] == {"contents": "read"}


def test_dispatch_inputs_never_reach_a_script_unquoted(workflow):
    # `${{ inputs.args }}` pasted into a run script would let a dispatcher run any shell;
    # the inputs go through environment variables instead.
    for name, job in workflow["jobs"].items():
        assert "${{ inputs." not in run_scripts(job), name
        assert "${{ github.event.pull_request" not in run_scripts(job), name
