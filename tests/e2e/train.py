"""The release-train project itself under the real engine, for the end-to-end flows.

A copy of the project folder (its stack files get pinned), pointed at a sandbox, with the
harness's isolated PULUMI_HOME, file backend and passphrase; `plan` and `promote` go
through the same functions as the `release` command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from github import Auth, Github
from pulumi import automation as auto

from devtools.train import TrainProject
from release.cli.common import load
from release.engine import automation
from release.rules.config import COMMIT_OVERRIDE, DATE_OVERRIDE, Settings
from sandbox.seed import REPO
from tests.e2e.harness import Harness

RELEASE_DATE = "2026-11-26"
CHECKS = ["ci/travis", "test"]


@dataclass
class Train:
    harness: Harness
    setup: TrainProject
    log: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, harness: Harness, sandbox: Any, monkeypatch: Any) -> Train:
        monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(harness.engine.bin_dir.parent))
        return cls(harness, TrainProject.create(sandbox, harness.workdir, harness.env()))

    @property
    def project(self) -> automation.Project:
        return self.setup.project

    @property
    def sandbox(self) -> Any:
        return self.setup.sandbox

    def settings(self, env: str) -> Settings:
        """The stack's settings, as the command line loads them."""
        return load(self.project, env)

    def stack(self, env: str, extra: dict[str, str] | None = None) -> auto.Stack:
        return automation.stack(self.project, env, extra)

    def target(self, env: str) -> tuple[str, str]:
        return self.setup.target(env, RELEASE_DATE)

    def plan(self, env: str) -> auto.PreviewResult:
        commit, day = self.target(env)
        extra = {COMMIT_OVERRIDE: commit, DATE_OVERRIDE: day}
        return self.stack(env, extra).preview(on_output=self.harness_log)

    def promote(self, env: str) -> auto.UpResult:
        self.setup.pin(env, RELEASE_DATE)
        return self.stack(env).up(on_output=self.harness_log)

    def outputs(self, env: str) -> dict[str, Any]:
        return {k: v.value for k, v in self.stack(env).outputs().items()}

    def approve(self, env: str) -> int:
        """Play CI and the oncall partner on the open release PR into `env`."""
        return self.setup.approve(env, self.sandbox.reviewer_token, CHECKS)

    def repo(self, token: str | None = None) -> Any:
        gh = Github(
            base_url=self.sandbox.base_url,
            auth=Auth.Token(token or self.sandbox.token),
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        return gh.get_repo(REPO)

    def harness_log(self, line: str) -> None:
        self.log.append(line)

    def transcript(self) -> str:
        return "".join(self.log)


def newest_green_by_hand(repo: Any) -> str:
    """The newest master commit whose statuses and check runs are all success (test oracle)."""
    for commit in repo.get_commits(sha="master"):
        statuses = commit.get_combined_status().statuses
        runs = list(commit.get_check_runs())
        states = {s.context: s.state for s in statuses}
        if set(CHECKS) - set(states) - {r.name for r in runs}:
            continue
        if all(s == "success" for s in states.values()) and all(
            r.status == "completed" and r.conclusion == "success" for r in runs
        ):
            return commit.sha
    raise AssertionError("the seed has no green commit")
