"""A rollback commit: the environment back on an earlier release's tree, as a new commit.

"Our current best response is to push new code" (the process document): nothing is rewritten.
The commit's tree is the earlier release's head tree and its single parent is the environment
branch's head, so merging it (through a pull request, the same gates and the same Merge
resource as a promotion) makes the environment exactly the earlier release again, and the
history says who did it and when. The commit lives on `rollback/ENV-DATE`, a branch that is
never deleted. Made through the git data API (no clone needed: it changes no file by itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call
from release.providers.grafting import BranchMoved, full_sha_ok

if TYPE_CHECKING:
    pass

ROLLBACK_PREFIX = "rollback/"


def rollback_branch(environment: str, day: str) -> str:
    """`rollback/ENV-DATE`."""
    return f"{ROLLBACK_PREFIX}{environment}-{day}"


def rollback_message(environment: str, current: str | None, target: str, to_sha: str) -> str:
    frm = f" from {current}" if current else ""
    return (
        f"Roll back {environment}{frm} to {target}\n\n"
        f"Restores the tree of {target} ({to_sha}) on {environment}.\n"
        "Made by release-train rollback; nothing was rewritten."
    )


class RollbackCommitError(RuntimeError):
    """The rollback branch exists with something else on it; nothing was changed."""


class RollbackCommitProvider(ForgeProvider):
    # env_head is where the environment was when the rollback was made; a later move of the
    # environment (the rollback's own merge, next week's release) must not redo it.
    replace_on = ("api_url", "repository", "environment", "branch", "to_sha")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        for key in ("to_sha", "env_head"):
            if not full_sha_ok(news.get(key)):
                failures.append(CheckFailure(key, "must be a full 40-character lowercase SHA"))
        if not str(news.get("branch") or "").startswith(ROLLBACK_PREFIX):
            failures.append(CheckFailure("branch", f"must start with {ROLLBACK_PREFIX}"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = self.repo(props)
        branch, env = props["branch"], props["environment"]
        to_sha, env_head = props["to_sha"], props["env_head"]
        target = call(f"read {to_sha[:12]}", lambda: repo.get_git_commit(to_sha))
        existing = forge.branch_head(repo, branch)
        if existing is not None:
            commit = call(f"read {branch}", lambda: repo.get_git_commit(existing))
            if commit.tree.sha != target.tree.sha:
                raise RollbackCommitError(
                    f"{branch} already exists at {existing[:12]} with another tree; nothing was "
                    "changed. Roll back under another date (release rollback --date)."
                )
            return CreateResult(branch, self._outs(props, existing, target.tree.sha))
        current = forge.branch_head(repo, env)
        if current != env_head:
            raise BranchMoved(
                f"{env} is at {(current or 'nothing')[:12]}, not at {env_head[:12]} as planned; "
                "nothing was rolled back. Run the rollback again."
            )
        parent = call(f"read {env}", lambda: repo.get_git_commit(env_head))
        message = rollback_message(env, props.get("from_release"), props["to_release"], to_sha)
        commit = call(
            "create the rollback commit",
            lambda: repo.create_git_commit(message, target.tree, [parent]),
        )

        def make() -> str:
            call(
                f"create {branch}", lambda: repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
            )
            return commit.sha

        head = forge.create_once(lambda: forge.branch_head(repo, branch), make)
        return CreateResult(branch, self._outs(props, head, target.tree.sha))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        head = forge.branch_head(self.repo(props), props["branch"])
        return ReadResult(id_, {**props, "head": head or props.get("head")})

    @staticmethod
    def _outs(props: dict[str, Any], head: str, tree: str) -> dict[str, Any]:
        return {**props, "head": head, "tree": tree}


class RollbackCommit(ForgeResource, module="git", name="RollbackCommit"):
    """The commit restoring `to_release`'s tree on top of the environment, on its branch."""

    head: pulumi.Output[str]
    tree: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        environment: pulumi.Input[str],
        branch: pulumi.Input[str],
        to_release: pulumi.Input[str],
        to_sha: pulumi.Input[str],
        env_head: pulumi.Input[str],
        from_release: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "environment": environment,
            "branch": branch,
            "to_release": to_release,
            "to_sha": to_sha,
            "env_head": env_head,
            "from_release": from_release,
        }
        super().__init__(RollbackCommitProvider(), name, props, ("head", "tree"), opts)
