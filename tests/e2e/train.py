"""The release-train project itself under the real engine, for the end-to-end flows.

A copy of the project folder (its stack files get pinned), pointed at a sandbox, with the
harness's isolated PULUMI_HOME, file backend and passphrase; `plan` and `promote` go
through the same functions as the `release` command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from github import Auth, Github
from pulumi import automation as auto

from devtools.demo import act_as_ci_and_partner, point_at, prepare_project
from release.cli.common import load
from release.engine import automation
from release.rules.config import COMMIT_OVERRIDE, DATE_OVERRIDE, Settings
from release.rules.targets import resolve_target
from sandbox.seed import REPO
from tests.e2e.harness import Harness

RELEASE_DATE = "2026-11-26"
CHECKS = ["ci/travis", "test"]


@dataclass
class Train:
    harness: Harness
    sandbox: Any
    project: automation.Project
    log: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, harness: Harness, sandbox: Any, monkeypatch: Any) -> Train:
        monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(harness.engine.bin_dir.parent))
        directory = prepare_project(automation.PROJECT_DIR, harness.workdir / "release-train")
        env = harness.env()
        project = automation.Project(directory, backend_url=env["PULUMI_BACKEND_URL"], env=env)
        point_at(project, sandbox.base_url, sandbox.token)
        return cls(harness, sandbox, project)

    def settings(self, env: str) -> Settings:
        """The stack's settings, as the command line loads them."""
        return load(self.project, env)

    def stack(self, env: str, extra: dict[str, str] | None = None) -> auto.Stack:
        return automation.stack(self.project, env, extra)

    def target(self, env: str) -> tuple[str, str]:
        source = self.project.stack_file(env).get("promotesFrom")
        target = resolve_target(
            env,
            source,
            automation.outputs(self.project, source),
            None,
            RELEASE_DATE,
            dt.date.fromisoformat(RELEASE_DATE),
        )
        return target.commit, target.release_date.isoformat()

    def plan(self, env: str) -> auto.PreviewResult:
        commit, day = self.target(env)
        extra = {COMMIT_OVERRIDE: commit, DATE_OVERRIDE: day}
        return self.stack(env, extra).preview(on_output=self.harness_log)

    def promote(self, env: str) -> auto.UpResult:
        if self.project.stack_file(env).get("promotesFrom"):
            commit, day = self.target(env)
            automation.pin(self.project, env, {"commit": commit, "releaseDate": day})
        return self.stack(env).up(on_output=self.harness_log)

    def outputs(self, env: str) -> dict[str, Any]:
        return {k: v.value for k, v in self.stack(env).outputs().items()}

    def approve(self, env: str) -> int:
        """Play CI and the oncall partner on the open release PR into `env`."""
        return act_as_ci_and_partner(self.sandbox, self.sandbox.reviewer_token, env, CHECKS)

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
