"""The staging promotion driven provider by provider, as the engine drives it.

Each step is one dynamic provider call after the engine's round trip (tests/support), or the
program's plan (reads only), or the oncall pair acting on the pull request. A test can run a
hook before each engine step (to inject a fault there) and look at the end state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from github import Auth, Github

from release import forge
from release.program.planning import find_green, open_repo, plan_promotion
from release.providers.base import forget_opened
from release.providers.branch import ReleaseBranchProvider
from release.providers.merge import MergeProvider
from release.providers.ours_merge import OursMergeProvider
from release.providers.pull_request import PullRequestProvider
from release.rules.config import parse_settings
from sandbox.seed import REPO
from tests.support.providers import engine_copy

RELEASE = "release/2026-11-26"
CHECKS = ["ci/travis", "test"]
PARTNER = "oncall-partner"


def settings_for(sb: Any, env: str = "staging") -> Any:
    raw = {
        "repository": REPO,
        "apiUrl": sb.base_url,
        "environment": env,
        "requiredChecks": CHECKS,
        "reviewers": [PARTNER],
        "requiredApprovals": 1,
        # As Pulumi.staging.yaml: the payload reads the SDK pin at both ends (contents API).
        "pins": [
            {"name": "sdk", "path": ".travis.yml", "pattern": "PULUMI_SDK_VERSION: (v[0-9.]+)"}
        ],
    }
    if env != "testing":
        raw["promotesFrom"] = "testing"
    return parse_settings(env, raw)


def plain_repo(sb: Any, token: str | None = None) -> Any:
    """The test's own client: no retries, so a fault aimed at the flow never hides in it."""
    gh = Github(
        base_url=sb.base_url,
        auth=Auth.Token(token or sb.token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    return gh.get_repo(REPO)


def green_commit(sb: Any) -> str:
    settings = settings_for(sb, "testing")
    sha = find_green(
        settings,
        open_repo(settings, forge.ForgeSession(settings.api_url, settings.repository, sb.token)),
    ).sha
    assert sha
    return sha


def approve(sb: Any, head: str, number: int) -> None:
    """CI reports green on `head` and the oncall partner approves it."""
    bot = plain_repo(sb)
    commit = bot.get_commit(head)
    for context in CHECKS:
        commit.create_status("success", context=context)
    partner = plain_repo(sb, sb.reviewer_token)
    partner.get_pull(number).create_review(commit=partner.get_commit(head), event="APPROVE")


@dataclass
class Flow:
    """One staging promotion; `done` lists the steps that finished."""

    sb: Any
    green: str
    before_step: Callable[[str], None] = lambda _step: None
    after_step: Callable[[str], None] = lambda _step: None
    done: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def props(self, **extra: Any) -> dict[str, Any]:
        return {"api_url": self.sb.base_url, "repository": REPO, **extra}

    def _step(self, name: str, fn: Callable[[], Any]) -> Any:
        if name in self.done:
            return self.values[name]
        self.before_step(name)
        try:
            value = fn()
        finally:
            self.after_step(name)
        self.values[name] = value
        self.done.append(name)
        return value

    def run(self) -> dict[str, Any]:
        """Run (or resume) every step; returns the merge's outputs."""
        sb, green = self.sb, self.green
        settings = settings_for(sb)
        plan = self._step(
            "plan",
            lambda: plan_promotion(
                settings,
                open_repo(
                    settings, forge.ForgeSession(settings.api_url, settings.repository, sb.token)
                ),
                RELEASE,
                green,
            ),
        )
        assert plan.needs_ours_merge and plan.previous and plan.previous_head
        self._step(
            "branch",
            lambda: engine_copy(ReleaseBranchProvider(), sb.token).create(
                self.props(branch=RELEASE, commit=green)
            ),
        )
        ours = self._step(
            "ours-merge",
            lambda: engine_copy(OursMergeProvider(), sb.token).create(
                self.props(
                    branch=RELEASE,
                    head=green,
                    previous=plan.previous,
                    previous_head=plan.previous_head,
                )
            ),
        )
        head = ours.outs["merge_sha"]
        pull = self._step(
            "pull-request",
            lambda: engine_copy(PullRequestProvider(), sb.token).create(
                self.props(
                    head=RELEASE,
                    base="staging",
                    head_sha=head,
                    title=f"Promote {RELEASE} to staging",
                    body="payload",
                    reviewers=[PARTNER],
                )
            ),
        )
        number = pull.outs["number"]
        if "approve" not in self.done:
            # Approved between two `up`s: the merge runs in another provider process, which
            # did not open the pull request (and so reads it and its reviews).
            forget_opened()
            approve(sb, head, number)
            self.done.append("approve")
        merged = self._step(
            "merge",
            lambda: engine_copy(MergeProvider(), sb.token).create(
                self.props(
                    number=number,
                    head_sha=head,
                    required_checks=CHECKS,
                    reviewers=[PARTNER],
                    required_approvals=1,
                    merge_method="merge",
                )
            ),
        )
        forge.set_token(None)
        return {"head": head, "number": number, **merged.outs}


ENGINE_STEPS = ("plan", "branch", "ours-merge", "pull-request", "merge")


def end_state(sb: Any, staging_before: str, previous_head: str, green: str) -> dict[str, Any]:
    """What a finished promotion left on the forge, for comparison across runs."""
    repo = plain_repo(sb)
    release_head = repo.get_git_ref(f"heads/{RELEASE}").object.sha
    staging_head = repo.get_git_ref("heads/staging").object.sha
    release = repo.get_git_commit(release_head)
    staging = repo.get_git_commit(staging_head)
    pulls = [
        (p.base.ref, p.state, bool(p.merged))
        for p in repo.get_pulls(state="all")
        if p.head.ref == RELEASE
    ]
    return {
        "release_parents": [p.sha for p in release.parents] == [green, previous_head],
        "release_tree": release.tree.sha == repo.get_git_commit(green).tree.sha,
        "staging_parents": [p.sha for p in staging.parents] == [staging_before, release_head],
        "pulls": pulls,
        "forced": sb.forced_updates(REPO),
        "temporary_refs": [
            r.ref
            for r in repo.get_git_matching_refs("heads/")
            if not r.ref.startswith(("refs/heads/release/", "refs/heads/feature-"))
            and r.ref not in ("refs/heads/master", "refs/heads/staging", "refs/heads/production")
        ],
    }
