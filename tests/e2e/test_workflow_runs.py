"""The workflow's jobs, run step by step as a runner would (tests/support/actions_runner.py),
with the real `release` command under the real engine, against a seeded sandbox forge.

The checkout is a fresh copy of the project whose stack files point at the sandbox and hold
no token: as in CI, the token comes from the job's GITHUB_TOKEN (the environment's write
secret, or the read-only one), the backend URL and the passphrase from the environment's
secrets. `make` (the toolchain setup) is the runner image's; it is not run here.

On this branch `release promote` ends a closed gate with exit 1; the workflow's gate code is 3
(RELEASE_GATE_EXIT_CODE). The Thursday test checks the mapping for whichever code the command
returns, and the summary's content in both cases.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.demo import act_as_ci_and_partner, prepare_project
from release.engine import automation
from tests.support.actions_runner import (
    Event,
    JobResult,
    Runner,
    download_artifact,
    upload_artifact,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release-train.yml"
GATE_CODE = int(yaml.safe_load(WORKFLOW.read_text())["env"]["RELEASE_GATE_EXIT_CODE"])
THURSDAY, TUESDAY = "0 15 * * 4", "0 15 * * 2"
CHECKS = ["ci/travis", "test"]


class CI:
    """A runner on a fresh checkout, with the environments' secrets."""

    def __init__(self, harness: Any, sandbox: Any, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.dir = prepare_project(automation.PROJECT_DIR, tmp_path / "checkout")
        for name in ("scripts", "tools", "requirements.txt"):
            (self.dir / name).symlink_to(ROOT / name)
        env = harness.env()
        project = automation.Project(self.dir, backend_url=env["PULUMI_BACKEND_URL"], env=env)
        for name in project.stack_names():
            automation.pin(project, name, {"apiUrl": sandbox.base_url})
        tools = tmp_path / "runner-tools"
        tools.mkdir()
        (tools / "make").write_text("#!/bin/sh\nexit 0\n")
        (tools / "make").chmod(0o755)
        machine = {
            k: v
            for k, v in env.items()
            if k not in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PATH")
        }
        self.secrets = {
            "PULUMI_BACKEND_URL": env["PULUMI_BACKEND_URL"],
            "PULUMI_CONFIG_PASSPHRASE": env["PULUMI_CONFIG_PASSPHRASE"],
            "RELEASE_TRAIN_TOKEN": sandbox.token,
            "RELEASE_TRAIN_READ_TOKEN": sandbox.read_only_token,
        }
        self.comments: list[str] = []
        self.runner = Runner(
            workflow_path=WORKFLOW,
            workspace=self.dir,
            temp=tmp_path / "runner",
            secrets=self.secrets,
            machine_env={
                **machine,
                "PATH": f"{tools}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
                "HOME": os.environ.get("HOME", "/root"),
                "LANG": "C.UTF-8",
                # The release package is linked into this checkout and resolves to the
                # repository; in a real checkout the project is the checkout itself.
                "RELEASE_TRAIN_PROJECT_DIR": str(self.dir),
                "RELEASE_TRAIN_PULUMI_ROOT": str(harness.engine.bin_dir.parent),
            },
            handlers={
                "actions/upload-artifact": upload_artifact,
                "actions/download-artifact": download_artifact,
                "actions/github-script": lambda step, ctx: self.comments.append(
                    (ctx.workspace / "plan.md").read_text()
                ),
            },
            step_timeout=300,
        )

    def run(self, event: Event) -> dict[str, JobResult]:
        return {k: v for k, v in self.runner.run(event).items() if v.result != "skipped"}

    def check_no_secret_in(self, *texts: str) -> None:
        for text in texts:
            for name, value in self.secrets.items():
                assert value not in text, f"{name} appears in the job's output"


def only(jobs: dict[str, JobResult]) -> JobResult:
    assert len(jobs) == 1, sorted(jobs)
    return next(iter(jobs.values()))


def titles(job: JobResult) -> list[str]:
    """The job's notices and errors (a file:// backend also earns a warning here)."""
    return [a.title for a in job.annotations if a.level != "warning"]


def ok_writes(sandbox: Any) -> int:
    return int(sandbox._ok_writes)


def test_a_week_on_the_workflow(harness, seeded_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(harness.engine.bin_dir.parent))
    ci = CI(harness, seeded_sandbox, tmp_path)
    web = seeded_sandbox.base_url.removesuffix("/api/v3")

    # Thursday: refresh testing, cut staging, stop at the gate (the partner has not approved).
    thursday = only(ci.run(Event("schedule", {"schedule": THURSDAY})))
    assert thursday.id == "promote-staging" and thursday.environment == "staging"
    assert thursday.step("Refresh testing's green commit").exit_code == 0, thursday.log
    cut = thursday.step("Cut the release and promote it to staging")
    code = int(cut.outputs["code"])
    assert "| `release promote staging` |" in thursday.summary
    assert f"(exit {code}) |" in thursday.summary
    summary = thursday.summary
    assert "### staging waits at the merge gate" in summary, thursday.log
    # From `release status --json`, read with the job's token (no token in the stack file).
    assert re.search(
        rf"- pull request: \[#(\d+)\]\({re.escape(web)}/acme/service/pull/\1\)", summary
    )
    assert re.search(r"- missing checks:\n  - check ci/travis is missing on \w{12}\n", summary)
    assert re.search(
        r"- missing approvals:\n  - needs 1 more approval\(s\) of \w{12} from oncall-partner\n",
        summary,
    )
    assert "next step:" in summary and "`release promote staging`" in summary
    assert "### the train" in summary and "| staging |" in summary
    if code == GATE_CODE:
        assert thursday.result == "success"
        assert titles(thursday) == ["Waiting at a gate"]
    else:
        # Today's code at a gate: a red job, but the summary still says why.
        assert code == 1, cut.output
        assert thursday.result == "failure"
        assert titles(thursday) == ["Release failed"]
    ci.check_no_secret_in(thursday.log, summary)

    # The partner approves; a dispatched promote merges the waiting release.
    assert act_as_ci_and_partner(seeded_sandbox, seeded_sandbox.reviewer_token, "staging", CHECKS)
    merged = only(
        ci.run(
            Event(
                "workflow_dispatch",
                inputs={"command": "promote", "environment": "staging", "args": ""},
            )
        )
    )
    assert merged.id == "dispatch-write" and merged.result == "success", merged.log
    assert "## release-train: done" in merged.summary
    assert "`release promote testing`" in merged.summary
    staging_row = next(
        line for line in merged.summary.splitlines() if line.startswith("| staging |")
    )
    assert "| merged |" in staging_row

    # A read dispatch: status with the read-only token.
    writes = ok_writes(seeded_sandbox)
    status = only(
        ci.run(
            Event(
                "workflow_dispatch",
                inputs={"command": "status", "environment": "staging", "args": ""},
            )
        )
    )
    assert status.id == "dispatch-read" and status.result == "success", status.log
    assert "| staging |" in status.summary

    # A pull request's preview: the base code plans every environment, read-only.
    preview_jobs = ci.run(
        Event(
            "pull_request_target",
            {
                "pull_request": {
                    "number": 5,
                    "base": {"ref": "main", "sha": "b" * 40},
                    "head": {"ref": "x", "sha": "c" * 40, "repo": {"full_name": "fork/x"}},
                }
            },
            changed_files=("release/program.py",),
        )
    )
    assert sorted(preview_jobs) == ["preview", "preview-comment"]
    assert preview_jobs["preview"].result == "success", preview_jobs["preview"].log
    assert ok_writes(seeded_sandbox) == writes  # status and three plans wrote nothing
    assert "### the train" in preview_jobs["preview"].summary
    [comment] = ci.comments
    for environment in ("testing", "staging", "production"):
        assert f"<b>{environment}</b> (exit 0)" in comment
    assert "production: would promote" in comment
    ci.check_no_secret_in(comment, preview_jobs["preview"].log)

    # Tuesday: production refuses a release that has not soaked (a real refusal: red).
    tuesday = only(ci.run(Event("schedule", {"schedule": TUESDAY})))
    assert tuesday.id == "promote-production" and tuesday.environment == "production"
    assert tuesday.result == "failure"
    promoted = tuesday.step("Promote staging's release to production")
    assert int(promoted.outputs["code"]) not in (0, GATE_CODE)
    assert "soaked on staging" in tuesday.summary and "--force" in tuesday.summary
    assert "### the train" in tuesday.summary
