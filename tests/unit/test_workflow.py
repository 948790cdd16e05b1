"""The CI workflow read as a whole: actionlint (with shellcheck on every `run:` block) accepts
it, and it says what the release process and its threat model need. Its steps are run one by
one in tests/unit/test_workflow_steps.py and tests/e2e/test_workflow_runs.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release-train.yml"
INSTALLER = ROOT / "scripts" / "install-actionlint.sh"
README = ROOT / "README.md"

WRITE_COMMANDS = {"promote", "cherry-pick", "revert", "rollback", "abandon"}
READ_COMMANDS = {"plan", "status", "payload", "history", "ppc-status"}
SECRET_ENVIRONMENTS = {"staging", "production"}
CODE_DIRS = ("release/**", "sandbox/**", "devtools/**", "scripts/**", "tools/**", "tests/**")


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


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if not found:
        pytest.fail("shellcheck is not installed: run make actionlint (it installs it)")
    return found


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if s.get("uses", "").startswith(action + "@")]


def run_scripts(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def environments(job: dict) -> set[str]:
    """The environments a job may run in (its expression's string literals, or its name)."""
    value = job.get("environment")
    if value is None:
        return set()
    if "${{" in str(value):
        return set(re.findall(r"'([a-z]+)'", str(value)))
    return {str(value)}


# --- linting -------------------------------------------------------------------------------------


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


def test_actionlint_runs_shellcheck_on_the_run_blocks(tmp_path):
    # actionlint skips the shell of `run:` blocks silently when shellcheck is missing; a run
    # block with an unquoted variable must come back with shellcheck's code.
    shellcheck()
    original = "        run: scripts/ci-release.sh summary\n"
    assert original in WORKFLOW.read_text()
    broken = WORKFLOW.read_text().replace(
        original, "        run: |\n          target=$1\n          cd $target\n", 1
    )
    path = tmp_path / "release-train.yml"
    path.write_text(broken)
    result = lint(path)
    assert result.returncode != 0
    assert "shellcheck reported issue" in result.stdout and "SC2086" in result.stdout


def test_the_scripts_pass_shellcheck():
    scripts = sorted(str(p) for p in (ROOT / "scripts").glob("*.sh"))
    assert any(s.endswith("ci-release.sh") for s in scripts)
    result = subprocess.run([shellcheck(), *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _tool_dir(tmp_path: Path, uid: int) -> Path:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    for name in ("grep",):
        (tools / name).symlink_to(shutil.which(name))
    for path in tools.iterdir():
        path.chmod(0o755)
    return tools


def test_the_installer_fails_clearly_without_shellcheck_and_root(tmp_path):
    tools = _tool_dir(tmp_path, 1000)
    result = subprocess.run(
        ["/bin/bash", str(INSTALLER)],
        env={"PATH": str(tools), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "shellcheck is not installed" in result.stderr
    assert "apt-get install -y shellcheck" in result.stderr


def test_the_installer_installs_shellcheck_from_debian_as_root(tmp_path):
    tools = _tool_dir(tmp_path, 0)
    (tools / "apt-get").write_text(
        f'#!/bin/sh\necho "$*" >> {tmp_path}/apt.log\n'
        f'printf "#!/bin/sh\\n" > {tools}/shellcheck\n/bin/chmod +x {tools}/shellcheck\n'
    )
    (tools / "apt-get").chmod(0o755)
    cache = tmp_path / "cache"
    fake = cache / "actionlint-1.7.12" / "actionlint"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho 1.7.12\n")
    fake.chmod(0o755)
    result = subprocess.run(
        ["/bin/bash", str(INSTALLER)],
        env={"PATH": str(tools), "HOME": str(tmp_path), "RELEASE_TRAIN_CACHE": str(cache)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "apt.log").read_text().split() == ["install", "-y", "-q", "shellcheck"]


# --- triggers, toolchain, caches -----------------------------------------------------------------


def test_pull_requests_that_touch_the_code_or_its_tooling_run(workflow):
    for event in ("pull_request", "pull_request_target"):
        paths = triggers(workflow)[event]["paths"]
        for needed in (
            "__main__.py",
            "Pulumi.yaml",
            "Pulumi.*.yaml",
            "requirements.txt",
            "pyproject.toml",
            ".importlinter",
            "Makefile",
        ):
            assert needed in paths, (event, needed)
        for needed in CODE_DIRS:
            assert needed in paths, (event, needed)


def test_every_job_that_builds_the_engine_has_go_and_a_complete_cache_key(workflow):
    for name, job in workflow["jobs"].items():
        if not re.search(r"\bmake\b", run_scripts(job)):
            continue
        assert steps_using(job, "actions/setup-go"), name
        assert steps_using(job, "actions/setup-python"), name
        [cache] = steps_using(job, "actions/cache")
        key = cache["with"]["key"]
        for part in ("'scripts/install-*.sh'", "'tools/pulumi/**'", "'requirements.txt'"):
            assert part in key, (name, part)


def readme_commands() -> set[str]:
    """The `release` commands the README's shell blocks run (`ppc status` as `ppc-status`)."""
    found: set[str] = set()
    in_block = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        match = in_block and re.match(r"\s*(?:python -m )?release ([a-z][a-z-]*)( status)?\b", line)
        if match:
            found.add(match.group(1) + ("-status" if match.group(2) else ""))
    return found


def test_dispatch_offers_every_command_the_readme_lists(workflow):
    inputs = triggers(workflow)["workflow_dispatch"]["inputs"]
    options = set(inputs["command"]["options"])
    # `release init` is the first use of a backend, run once by a person from a checkout
    # (it may ask for the token): not a command of the scheduled or dispatched runs.
    wanted = readme_commands() - {"init"}
    assert wanted >= {"revert", "history", "ppc-status", "rollback", "abandon", "cherry-pick"}
    assert wanted <= options, wanted - options
    assert options == WRITE_COMMANDS | READ_COMMANDS
    assert set(inputs["environment"]["options"]) == {"testing", "staging", "production"}
    assert inputs["args"]["type"] == "string"
    covered: dict[str, set[str]] = {}
    for name, job in workflow["jobs"].items():
        if "workflow_dispatch" in str(job.get("if", "")):
            covered[name] = set(re.findall(r'"([a-z-]+)"', job["if"]))
    assert covered == {"dispatch-write": WRITE_COMMANDS, "dispatch-read": READ_COMMANDS}


def test_thursday_refreshes_testing_before_it_cuts_and_tuesday_promotes_production(workflow):
    crons = {entry["cron"] for entry in triggers(workflow)["schedule"]}
    assert crons == {"0 15 * * 4", "0 15 * * 2"}
    thursday = workflow["jobs"]["promote-staging"]
    runs = [s["run"] for s in thursday["steps"] if "ci-release.sh run" in s.get("run", "")]
    assert runs == [
        "scripts/ci-release.sh run promote testing",
        "scripts/ci-release.sh run promote staging",
    ]
    assert "github.event.schedule == '0 15 * * 4'" in thursday["if"]
    tuesday = workflow["jobs"]["promote-production"]
    assert "github.event.schedule == '0 15 * * 2'" in tuesday["if"]
    assert "scripts/ci-release.sh run promote production" in run_scripts(tuesday)


# --- secrets, permissions, the gate code ---------------------------------------------------------


def test_secrets_are_read_only_by_jobs_behind_staging_or_production(workflow):
    for name, job in workflow["jobs"].items():
        uses_secrets = "secrets." in str(job)
        if uses_secrets:
            assert environments(job) and environments(job) <= SECRET_ENVIRONMENTS, name
            assert "pull_request'" not in str(job.get("if")), name
    assert "secrets." not in str(workflow.get("env"))


def test_pull_request_code_never_runs_with_a_secret(workflow):
    for name, job in workflow["jobs"].items():
        condition = str(job.get("if", ""))
        if "'pull_request'" in condition:
            assert "secrets." not in str(job) and "environment" not in job, name
            assert job["permissions"] == {"contents": "read"}, name
        if "pull_request_target" in condition:
            # Base code only: every checkout names the base commit, nothing reads the head.
            assert "pull_request.head" not in str(job), name
            for step in steps_using(job, "actions/checkout"):
                assert step["with"]["ref"] == "${{ github.event.pull_request.base.sha }}", name
    for name, job in workflow["jobs"].items():
        for step in steps_using(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, name


def test_the_least_permissions_that_work(workflow):
    assert workflow["permissions"] == {}
    jobs: dict[str, dict[str, Any]] = workflow["jobs"]
    for name, job in jobs.items():
        granted = job["permissions"]
        writes = {k for k, v in granted.items() if v == "write"}
        engine = "ci-release.sh" in run_scripts(job)
        if engine:
            # The plan and the gate read commit statuses and check runs.
            assert granted.get("statuses") == "read" and granted.get("checks") == "read", name
            assert granted.get("id-token") == "write", name  # OIDC for the state backend
        if "contents" in writes:
            assert environments(job) <= SECRET_ENVIRONMENTS and environments(job), name
            assert job["concurrency"]["cancel-in-progress"] is False, name
            assert job["concurrency"]["group"].startswith("release-train-"), name
            assert (
                job["env"]["GITHUB_TOKEN"] == "${{ secrets.RELEASE_TRAIN_TOKEN || github.token }}"
            )
        elif "secrets." in str(job):
            assert writes <= {"id-token"}, name
            assert not re.search(r"secrets\.RELEASE_TRAIN_TOKEN\b", str(job)), name
            assert job["env"]["GITHUB_TOKEN"] == (
                "${{ secrets.RELEASE_TRAIN_READ_TOKEN || github.token }}"
            ), name
        if "pull-requests" in writes and "contents" not in writes:
            # Only the job posting the plan comment; it holds no secret and runs no code.
            assert name == "preview-comment"
            assert granted == {"pull-requests": "write"}
            assert "secrets." not in str(job) and not run_scripts(job).strip()


def test_the_state_backend_gets_oidc_credentials_or_a_url_secret(workflow):
    for name, job in workflow["jobs"].items():
        if "PULUMI_BACKEND_URL" not in str(job.get("env")):
            continue
        assert job["env"]["PULUMI_BACKEND_URL"] == "${{ secrets.PULUMI_BACKEND_URL }}"
        aws = steps_using(job, "aws-actions/configure-aws-credentials")
        azure = steps_using(job, "azure/login")
        google = steps_using(job, "google-github-actions/auth")
        assert len(aws) == len(azure) == len(google) == 1, name
        assert aws[0]["if"] == "vars.AWS_ROLE_ARN != ''"
        assert "file://" not in str(job)
        assert "scripts/ci-release.sh check-backend" in run_scripts(job), name


def test_the_gate_exit_code_is_defined_once(workflow):
    assert workflow["env"]["RELEASE_GATE_EXIT_CODE"] == "3"
    texts = [WORKFLOW.read_text(), *(p.read_text() for p in (ROOT / "scripts").glob("*"))]
    definitions = [
        line
        for text in texts
        for line in text.splitlines()
        if re.search(r"RELEASE_GATE_EXIT_CODE\s*[:=]\s*\"?\d", line)
    ]
    assert definitions == ['  RELEASE_GATE_EXIT_CODE: "3"']
    script = (ROOT / "scripts" / "ci-release.sh").read_text()
    assert not re.search(r"(-eq|==|exit|return)\s+\"?3\b", script)


def test_dispatch_inputs_never_reach_a_script_unquoted(workflow):
    # `${{ inputs.args }}` pasted into a run script would let a dispatcher run any shell;
    # the inputs go through environment variables instead.
    for name, job in workflow["jobs"].items():
        assert "${{ inputs." not in run_scripts(job), name
        assert "${{ github.event" not in run_scripts(job), name


def test_the_readme_documents_the_threat_model_and_the_gate_code():
    text = README.read_text()
    for needed in (
        "RELEASE_GATE_EXIT_CODE",
        "environment secrets",
        "pull_request_target",
        "threat model",
        "postgres://",
        "OIDC",
    ):
        assert needed in text, needed
