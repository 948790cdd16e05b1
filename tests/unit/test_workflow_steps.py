"""The workflow's jobs run step by step as a runner would (tests/support/actions_runner.py),
for the Thursday, Tuesday, dispatch and pull-request events, with a stand-in `release`
command whose exit codes and output each test chooses.

The stand-in is a `release` package in the checkout (`python -m release` finds it first, as it
would find the real one): it records each call with the credentials it was given, and answers
from a table. The real command under the real engine runs in tests/e2e/test_workflow_runs.py.
Exit code 1 is what `release promote` returns at a closed gate on this branch today; 3 is the
gate code the workflow defines (RELEASE_GATE_EXIT_CODE). Both are run here.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.actions_runner import (
    Event,
    JobResult,
    Runner,
    download_artifact,
    upload_artifact,
)

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release-train.yml"
THURSDAY, TUESDAY = "0 15 * * 4", "0 15 * * 2"
GATE_CODE = int(yaml.safe_load(WORKFLOW.read_text())["env"]["RELEASE_GATE_EXIT_CODE"])
TODAYS_GATE_CODE = 1  # `release promote` at a closed gate on this branch

SECRETS = {
    "PULUMI_BACKEND_URL": "postgres://train:pg-secret-4711@db.internal:5432/train",
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-secret-0815",
    "RELEASE_TRAIN_TOKEN": "ghp_write_token_secret",
    "RELEASE_TRAIN_READ_TOKEN": "ghp_read_token_secret",
}
WRITE_TOKEN = SECRETS["RELEASE_TRAIN_TOKEN"]
READ_TOKEN = SECRETS["RELEASE_TRAIN_READ_TOKEN"]

STUB = """
import json, os, sys
from pathlib import Path

here = Path(__file__).resolve().parent.parent
args = sys.argv[1:]
with (here / "calls.jsonl").open("a") as calls:
    calls.write(json.dumps({
        "args": args,
        "token": os.environ.get("GITHUB_TOKEN"),
        "passphrase": os.environ.get("PULUMI_CONFIG_PASSPHRASE"),
        "backend": os.environ.get("PULUMI_BACKEND_URL"),
    }) + "\\n")
answers = json.loads((here / "answers.json").read_text())
answer = answers.get(" ".join(args), {"code": 0, "out": "ok: " + " ".join(args)})
print(answer["out"])
sys.exit(answer["code"])
"""

PR_URL = "https://github.com/acme/service/pull/12"
WAITING = (
    "#12 waits: check ci/travis is pending on 1a2b3c4d5e6f; "
    "needs 1 more approval(s) of 1a2b3c4d5e6f from oncall-partner"
)


def status_rows(waiting: str | None = WAITING, pr: int | None = 12) -> list[dict[str, Any]]:
    return [
        {
            "environment": "testing",
            "branch": "master",
            "release": None,
            "commit": "9" * 40,
            "pr": None,
            "prUrl": None,
            "state": "tracking",
            "mergeCommit": None,
            "dayTwo": [],
            "waiting": None,
        },
        {
            "environment": "staging",
            "branch": "staging",
            "release": "release/2026-11-19",
            "commit": "1a2b3c4d5e6f" + "0" * 28,
            "pr": pr,
            "prUrl": PR_URL if pr else None,
            "state": "merged",
            "mergeCommit": "f" * 40,
            "dayTwo": [],
            "waiting": waiting,
        },
    ]


class Checkout:
    """A fresh working copy with the stand-in `release` package, and a runner on it."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "checkout"
        (self.dir / "release").mkdir(parents=True)
        (self.dir / "release" / "__init__.py").write_text("")
        (self.dir / "release" / "__main__.py").write_text(STUB)
        for name in ("scripts", "tools", "requirements.txt"):
            (self.dir / name).symlink_to(ROOT / name)
        (self.dir / ".venv").symlink_to(Path(sys.prefix))
        for path in ROOT.glob("Pulumi.*.yaml"):
            shutil.copy2(path, self.dir / path.name)
        stubs = tmp_path / "runner-tools"
        stubs.mkdir()
        # The runner image's make: the toolchain steps are tested by `make test` itself.
        (stubs / "make").write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/make.log"\n')
        (stubs / "make").chmod(0o755)
        self.make_log = tmp_path / "make.log"
        self.answers: dict[str, dict[str, Any]] = {}
        self.comments: list[str] = []
        self.runner = Runner(
            workflow_path=WORKFLOW,
            workspace=self.dir,
            temp=tmp_path / "runner",
            secrets=dict(SECRETS),
            machine_env={
                "PATH": f"{stubs}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
                "HOME": os.environ.get("HOME", "/root"),
                "LANG": "C.UTF-8",
            },
            handlers={
                "actions/upload-artifact": upload_artifact,
                "actions/download-artifact": download_artifact,
                "actions/github-script": self.post_comment,
            },
        )

    def post_comment(self, step: Any, ctx: Any) -> None:
        self.comments.append((ctx.workspace / "plan.md").read_text())

    def answer(self, args: str, code: int, out: str = "") -> None:
        self.answers[args] = {"code": code, "out": out or f"answer to {args}"}

    def status(self, rows: list[dict[str, Any]] | None) -> None:
        if rows is None:
            self.answer("status --json", 1, "error: cannot read the stacks")
        else:
            self.answer("status --json", 0, json.dumps(rows))

    def run(self, event: Event) -> dict[str, JobResult]:
        (self.dir / "answers.json").write_text(json.dumps(self.answers))
        return {k: v for k, v in self.runner.run(event).items() if v.result != "skipped"}

    def calls(self) -> list[dict[str, Any]]:
        path = self.dir / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [" ".join(c["args"]) for c in self.calls()]


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    return Checkout(tmp_path)


def schedule(cron: str) -> Event:
    return Event("schedule", {"schedule": cron})


def dispatch(command: str, environment: str, args: str = "") -> Event:
    return Event(
        "workflow_dispatch",
        inputs={"command": command, "environment": environment, "args": args},
    )


def pull_request(name: str, files: tuple[str, ...] = ("release/program.py",)) -> Event:
    payload = {
        "pull_request": {
            "number": 77,
            "base": {"ref": "main", "sha": "b" * 40},
            "head": {"ref": "feature", "sha": "c" * 40, "repo": {"full_name": "fork/x"}},
        }
    }
    return Event(name, payload, changed_files=files, ref="refs/pull/77/merge")


def only(jobs: dict[str, JobResult]) -> JobResult:
    assert len(jobs) == 1, sorted(jobs)
    return next(iter(jobs.values()))


def levels(job: JobResult, level: str) -> list[str]:
    return [f"{a.title}: {a.message}" for a in job.annotations if a.level == level]


# --- Thursday ------------------------------------------------------------------------------------


def test_thursday_refreshes_testing_then_cuts_staging_with_the_environments_secrets(checkout):
    checkout.status(status_rows(waiting=None))
    job = only(checkout.run(schedule(THURSDAY)))
    assert job.id == "promote-staging" and job.result == "success", job.log
    assert job.environment == "staging"
    assert job.concurrency == {"group": "release-train-staging", "cancel-in-progress": False}
    assert checkout.commands() == ["promote testing", "promote staging", "status --json"]
    for call in checkout.calls():
        assert call["token"] == WRITE_TOKEN
        assert call["passphrase"] == SECRETS["PULUMI_CONFIG_PASSPHRASE"]
        assert call["backend"] == SECRETS["PULUMI_BACKEND_URL"]
    assert checkout.make_log.read_text().split() == ["venv", "pulumi"]
    assert "## release-train: done" in job.summary
    assert "| `release promote staging` | ✅ done (exit 0) |" in job.summary
    assert "### the train" in job.summary and "release/2026-11-19" in job.summary


def test_a_failed_refresh_stops_thursday_before_the_cut(checkout):
    checkout.answer("promote testing", 1, "error: testing: no green commit")
    checkout.status(status_rows(waiting=None))
    job = only(checkout.run(schedule(THURSDAY)))
    assert job.result == "failure"
    assert checkout.commands() == ["promote testing", "status --json"]
    assert "error: testing: no green commit" in job.summary
    assert job.step("Cut the release and promote it to staging").outcome == "skipped"


@pytest.mark.parametrize("code", [GATE_CODE, TODAYS_GATE_CODE])
def test_a_gate_stop_maps_the_gate_code_to_green_and_anything_else_to_red(checkout, code):
    checkout.answer(
        "promote staging",
        code,
        "pull request #12 was not merged: needs 1 more approval(s)",
    )
    checkout.status(status_rows())
    job = only(checkout.run(schedule(THURSDAY)))
    summary = job.summary
    # Either way the summary names the PR, what it waits for, and the next step.
    assert "### staging waits at the merge gate" in summary
    assert f"- pull request: [#12]({PR_URL})" in summary
    assert "- missing checks:\n  - check ci/travis is pending on 1a2b3c4d5e6f" in summary
    assert (
        "- missing approvals:\n  - needs 1 more approval(s) of 1a2b3c4d5e6f from oncall-partner"
        in summary
    )
    assert "next step:" in summary and "`release promote staging`" in summary
    if code == GATE_CODE:
        assert job.result == "success", job.log
        assert "## release-train: waiting at a gate" in summary
        assert "⏸️ waiting at a gate (exit 3)" in summary
        [notice] = levels(job, "notice")
        assert notice.startswith("Waiting at a gate: release promote staging")
        assert levels(job, "error") == []
    else:
        assert job.result == "failure"
        assert "## release-train: failed" in summary
        assert "pull request #12 was not merged" in summary  # the log's end
        assert levels(job, "notice") == []
        [error] = levels(job, "error")
        assert "release promote staging failed (exit 1)" in error


def test_a_real_failure_stays_red_with_the_end_of_its_log(checkout):
    checkout.answer("promote staging", 1, "\n".join(f"line {i}" for i in range(100)))
    checkout.status(status_rows(waiting=None))
    job = only(checkout.run(schedule(THURSDAY)))
    assert job.result == "failure"
    assert job.step("Train summary").outcome == "success"
    assert "line 99" in job.summary and "line 59" not in job.summary
    assert "waits at the merge gate" not in job.summary


def test_a_gate_code_from_another_command_is_not_taken_for_a_failure_of_the_job(checkout):
    # The gate code of a cherry-pick stays a gate stop as well.
    checkout.answer(f"cherry-pick staging {'a' * 40}", GATE_CODE)
    checkout.status(status_rows())
    job = only(checkout.run(dispatch("cherry-pick", "staging", "a" * 40)))
    assert job.result == "success"
    assert "### staging waits at the merge gate" in job.summary


def test_the_summary_says_when_the_train_cannot_be_read(checkout):
    checkout.status(None)
    job = only(checkout.run(schedule(THURSDAY)))
    assert job.result == "success"
    assert "The train's state could not be read" in job.summary


def test_forge_text_cannot_act_as_a_workflow_command_or_markup(checkout):
    checkout.answer(
        "promote staging",
        GATE_CODE,
        "::error::forged by a commit title\n::add-mask::x\n::warning title=t::also forged",
    )
    checkout.status(
        status_rows(waiting="#12 waits: needs 1 more approval(s) of abc from <img src=x>@everyone")
    )
    job = only(checkout.run(schedule(THURSDAY)))
    assert levels(job, "error") == [] and levels(job, "warning") == []
    assert "<img" not in job.summary and "@everyone" not in job.summary
    assert "&lt;img src=x&gt;@\u200beveryone" in job.summary


# --- Tuesday -------------------------------------------------------------------------------------


def test_tuesday_promotes_production_in_its_environment(checkout):
    checkout.answer("promote production", GATE_CODE)
    checkout.status(status_rows(waiting=None))
    job = only(checkout.run(schedule(TUESDAY)))
    assert job.id == "promote-production" and job.environment == "production"
    assert job.concurrency == {"group": "release-train-production", "cancel-in-progress": False}
    assert checkout.commands() == ["promote production", "status --json"]
    assert job.result == "success"
    # No gate line for production in `release status`: the summary says so.
    assert "### production: stopped at a gate" in job.summary


# --- dispatch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "environment", "args", "expected", "job_id", "token"),
    [
        (
            "promote",
            "staging",
            "",
            ["promote testing", "promote staging"],
            "dispatch-write",
            WRITE_TOKEN,
        ),
        (
            "promote",
            "production",
            "--force",
            ["promote production --force"],
            "dispatch-write",
            WRITE_TOKEN,
        ),
        ("promote", "testing", "", ["promote testing"], "dispatch-write", WRITE_TOKEN),
        (
            "cherry-pick",
            "staging",
            "a1 b2",
            ["cherry-pick staging a1 b2"],
            "dispatch-write",
            WRITE_TOKEN,
        ),
        ("revert", "staging", "c3", ["revert staging c3"], "dispatch-write", WRITE_TOKEN),
        (
            "rollback",
            "production",
            "--to release/2026-11-19",
            ["rollback production --to release/2026-11-19"],
            "dispatch-write",
            WRITE_TOKEN,
        ),
        ("abandon", "staging", "", ["abandon staging"], "dispatch-write", WRITE_TOKEN),
        (
            "plan",
            "staging",
            "--date 2026-12-03",
            ["plan staging --date 2026-12-03"],
            "dispatch-read",
            READ_TOKEN,
        ),
        ("status", "staging", "", ["status"], "dispatch-read", READ_TOKEN),
        (
            "payload",
            "production",
            "--markdown",
            ["payload production --markdown"],
            "dispatch-read",
            READ_TOKEN,
        ),
        ("history", "staging", "--json", ["history staging --json"], "dispatch-read", READ_TOKEN),
        (
            "ppc-status",
            "production",
            "",
            ["ppc status --env production"],
            "dispatch-read",
            READ_TOKEN,
        ),
    ],
)
def test_dispatch_runs_each_command_with_the_right_token_and_environment(
    checkout, command, environment, args, expected, job_id, token
):
    checkout.status(status_rows(waiting=None))
    job = only(checkout.run(dispatch(command, environment, args)))
    assert job.id == job_id and job.result == "success", job.log
    assert job.environment == ("production" if environment == "production" else "staging")
    assert checkout.commands() == [*expected, "status --json"]
    assert {c["token"] for c in checkout.calls()} == {token}
    if job_id == "dispatch-write":
        assert job.concurrency["group"] == f"release-train-{job.environment}"
    else:
        assert job.concurrency is None
        assert job.permissions["contents"] == "read"


def test_dispatch_arguments_are_data_not_shell(checkout, tmp_path):
    marker = tmp_path / "pwned"
    checkout.status(status_rows(waiting=None))
    args = f"$(touch {marker}) ;touch {marker} `touch {marker}`"
    job = only(checkout.run(dispatch("cherry-pick", "staging", args)))
    assert job.result == "success"
    assert not marker.exists()
    [call] = [c for c in checkout.calls() if c["args"][0] == "cherry-pick"]
    assert call["args"][2:] == args.split()


# --- pull requests -------------------------------------------------------------------------------


def test_a_pull_request_runs_make_test_with_no_secret(checkout):
    jobs = checkout.run(pull_request("pull_request"))
    job = only(jobs)
    assert job.id == "test" and job.result == "success"
    assert checkout.make_log.read_text().split() == ["test"]
    assert job.environment is None and job.permissions == {"contents": "read"}
    seen = json.dumps([s.env for s in job.steps]) + json.dumps([s.with_ for s in job.steps])
    for value in (*SECRETS.values(), "ghs_job_token_of_this_run"):
        assert value not in seen
    checkout_step = job.steps[0]
    assert checkout_step.uses.startswith("actions/checkout") and checkout_step.with_ == {
        "persist-credentials": False
    }


@pytest.mark.parametrize(
    ("files", "runs"),
    [
        (("scripts/ci-release.sh",), True),
        (("tools/pulumi/go.mod",), True),
        (("tests/unit/test_gates.py",), True),
        (("sandbox/server.py",), True),
        (("devtools/demo.py",), True),
        (("README.md",), False),
        (("docs/notes.md",), False),
    ],
)
def test_the_paths_filter(checkout, files, runs):
    assert bool(checkout.run(pull_request("pull_request", files))) is runs


def test_the_preview_plans_the_base_branch_read_only_and_a_secretless_job_posts_it(checkout):
    checkout.status(status_rows(waiting=None))
    checkout.answer("plan staging", 0, "staging: would promote abc as release/2026-12-03")
    checkout.answer("plan production", 1, "error: ``` not a ``` fence")
    jobs = checkout.run(pull_request("pull_request_target"))
    assert sorted(jobs) == ["preview", "preview-comment"]
    preview, comment = jobs["preview"], jobs["preview-comment"]
    # The base commit only, never the PR's code.
    assert preview.steps[0].with_["ref"] == "b" * 40
    assert preview.environment == "staging"
    assert preview.permissions == {
        "contents": "read",
        "pull-requests": "read",
        "statuses": "read",
        "checks": "read",
        "id-token": "write",
    }
    assert checkout.commands() == [
        "plan testing",
        "plan staging",
        "plan production",
        "status --json",
    ]
    assert "### the train" in preview.summary and "<!-- release-train-plan -->" in preview.summary
    assert {c["token"] for c in checkout.calls()} == {READ_TOKEN}
    assert preview.result == "failure"  # production's plan failed
    assert levels(preview, "error") == [
        ": release plan failed for: production (see the PR comment and the summary)"
    ]
    assert comment.result == "success" and comment.permissions == {"pull-requests": "write"}
    [body] = checkout.comments
    assert body.startswith("<!-- release-train-plan -->")
    assert "staging: would promote abc" in body
    assert "\n````\nerror: ``` not a ``` fence\n````\n" in body
    seen = json.dumps([s.env for s in comment.steps])
    for value in SECRETS.values():
        assert value not in seen


# --- the state backend ---------------------------------------------------------------------------


def test_file_state_on_a_hosted_runner_is_refused_before_any_command(checkout):
    checkout.runner.secrets["PULUMI_BACKEND_URL"] = "file:///home/runner/state"
    checkout.runner.runner_environment = "github-hosted"
    job = only(checkout.run(schedule(THURSDAY)))
    assert job.result == "failure"
    assert checkout.commands() == ["status --json"]  # the summary only
    [error] = levels(job, "error")
    assert "lost when the job ends" in error and "postgres://" in error


def test_a_missing_passphrase_is_refused_rather_than_the_sandbox_default(checkout):
    checkout.runner.secrets.pop("PULUMI_CONFIG_PASSPHRASE")
    job = only(checkout.run(dispatch("status", "staging")))
    assert job.result == "failure"
    assert [c for c in checkout.commands() if c != "status --json"] == []
    assert "PULUMI_CONFIG_PASSPHRASE is empty" in levels(job, "error")[0]


def test_oidc_steps_run_only_when_their_variables_are_set(checkout):
    checkout.status(status_rows(waiting=None))
    job = only(checkout.run(schedule(TUESDAY)))
    assert job.step("State credential for s3:// (OIDC)").outcome == "skipped"
    checkout.runner.vars = {"AWS_ROLE_ARN": "arn:aws:iam::1:role/train", "AWS_REGION": "eu-west-1"}
    job = only(checkout.run(schedule(TUESDAY)))
    step = job.step("State credential for s3:// (OIDC)")
    assert step.outcome == "success" and step.with_["role-to-assume"] == "arn:aws:iam::1:role/train"
    assert job.step("State credential for azblob:// (OIDC)").outcome == "skipped"
