"""The release-train project itself under the real engine, for the end-to-end flows.

A copy of the project folder, pointed at a sandbox, with the harness's isolated PULUMI_HOME,
file backend and passphrase; `plan` and `promote` hand the program the same delta of intent
(a `pin` op) as the `release` command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from github import Auth, Github
from pulumi import automation as auto

from devtools.train import TrainProject
from release.cli.common import load
from release.engine import automation
from release.engine.day_two import intent_env
from release.rules.config import Settings
from release.rules.history import stamp
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

    @classmethod
    def for_cli(cls, harness: Harness, sandbox: Any, monkeypatch: Any) -> Train:
        """`start`, with the harness's environment and the project folder exported for the
        `release` command run in this process (typer's CliRunner)."""
        train = cls.start(harness, sandbox, monkeypatch)
        for key, value in harness.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("RELEASE_TRAIN_PROJECT_DIR", str(train.project.directory))
        return train

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

    def pin(self, env: str, day: str | None = None, by: str = "e2e") -> list[dict[str, Any]]:
        """The delta `release promote` hands the program: pin the target (on `day`)."""
        if not self.setup.source_of(env):
            return []
        (op,) = self.setup.pin(env, RELEASE_DATE, by)
        return [{**op, "date": day or op["date"]}]

    def plan(self, env: str) -> auto.PreviewResult:
        return self.stack(env, intent_env(self.pin(env))).preview(on_output=self.harness_log)

    def promote(self, env: str, day: str | None = None) -> auto.UpResult:
        """`up` with the pin, stamped as `release promote` stamps it (for `history`)."""
        ops = self.pin(env, day)
        release = f"release/{ops[0]['date']}" if ops else None
        message = stamp(
            "promotion",
            f"{release} -> {env}" if release else f"track {env}",
            release=release,
            commit=ops[0]["commit"] if ops else None,
            by="e2e",
        )
        stack = self.stack(env, intent_env(ops))
        return stack.up(on_output=self.harness_log, message=message)

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
