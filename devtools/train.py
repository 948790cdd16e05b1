"""The release train set up against a sandbox forge: what the end-to-end tests, the
reliability suites and the benchmarks share.

`TrainProject.create` copies the project folder (its stack files get pinned), gives it its
own file backend and passphrase (the `env` the caller's engine set-up provides), and points
every stack at the sandbox with the sandbox's token stored as the stack secret. On it:
`target` (what `release promote` would promote), `pin` (the delta that pins it, as `release
promote` passes it), `cli_env` (the environment of a `python -m release` child) and `approve` (play CI
and the oncall partner on the open release PR).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.demo import act_as_ci_and_partner, point_at, prepare_project
from release.engine import automation
from release.engine.day_two import new_op
from release.rules.targets import resolve_target

RELEASE_DATE = "2026-11-26"
CHECKS = ["ci/travis", "test"]


@dataclass
class TrainProject:
    """A copy of the release-train project pointed at `sandbox`."""

    project: automation.Project
    sandbox: Any

    @classmethod
    def create(cls, sandbox: Any, workdir: Path, env: Mapping[str, str]) -> TrainProject:
        """A fresh copy in `workdir/release-train`; `env` carries PULUMI_BACKEND_URL and the
        engine's other variables (PULUMI_HOME, the passphrase)."""
        directory = prepare_project(automation.PROJECT_DIR, workdir / "release-train")
        train = cls.attach(sandbox, directory, env)
        point_at(train.project, sandbox.base_url, sandbox.token)
        return train

    @classmethod
    def attach(cls, sandbox: Any, directory: Path, env: Mapping[str, str]) -> TrainProject:
        """The project copy in `directory`, as it is (already pointed at the sandbox)."""
        project = automation.Project(
            directory, backend_url=env["PULUMI_BACKEND_URL"], env=dict(env)
        )
        return cls(project, sandbox)

    def cli_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a `python -m release` child working on this copy."""
        return {
            **os.environ,
            **self.project.env,
            "RELEASE_TRAIN_PROJECT_DIR": str(self.project.directory),
            **(extra or {}),
        }

    def source_of(self, env: str) -> str | None:
        return self.project.stack_file(env).get("promotesFrom")

    def target(self, env: str, release_date: str = RELEASE_DATE) -> tuple[str, str]:
        """(commit, release date) that `release promote ENV --date DATE` would pin."""
        source = self.source_of(env)
        assert source, f"{env} tracks its source branch"
        target = resolve_target(
            env,
            source,
            automation.outputs(self.project, source),
            None,
            release_date,
            dt.date.fromisoformat(release_date),
        )
        return target.commit, target.release_date.isoformat()

    def pin(
        self, env: str, release_date: str = RELEASE_DATE, by: str = "devtools"
    ) -> list[dict[str, Any]]:
        """The delta `release promote` hands the program: a `pin` op of its target (nothing
        for the stack tracking its source). Give it to one run with `intent_env`."""
        if not self.source_of(env):
            return []
        commit, day = self.target(env, release_date)
        return [new_op("pin", by, commit=commit, date=day)]

    def approve(self, env: str, token: str | None = None, checks: list[str] | None = None) -> int:
        """Play CI and the oncall partner on the open release PR into `env`; its number."""
        return act_as_ci_and_partner(
            self.sandbox, token or self.sandbox.reviewer_token, env, checks or CHECKS
        )
