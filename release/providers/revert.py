"""A revert of one commit of a release branch, made through the forge's API like a pick.

`git revert SHA` on the release branch, without a clone (see grafting.py for why the API
method): first an "inverse" commit R whose tree is SHA's parent's tree and whose parent is
SHA, so that SHA..R is exactly the undoing of SHA; then the same temporary-branch merge as a
pick (a sibling of the release head on SHA, merge R into it, commit the resulting tree on the
head with git's `Revert "<title>"` message, fast-forward without force). A revert already on
the branch is a no-op; a merge commit, or a commit that is not on the release branch, is
refused; a conflict names the files and pushes nothing.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    ReadResult,
    UpdateResult,
)

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call
from release.providers.grafting import branch_only, first_parent_line, full_sha_ok, land
from release.rules.picks import revert_message, revert_refusal, reverted_by

INVERSE_MESSAGE = "release-train temporary inverse commit (used once for a revert)"


class RevertProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "branch", "revert")
    update_on = ("expected_head",)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not full_sha_ok(news.get("revert")):
            failures.append(CheckFailure("revert", "must be a full 40-character lowercase SHA"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['branch']}:revert:{props['revert']}", self._apply(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(props)
        branch, sha = props["branch"], props["revert"]
        current = forge.branch_head(repo, branch)
        if current is None:
            raise forge.ForgeError(f"{branch} does not exist; nothing was reverted")
        on_branch, _ = branch_only(repo, sha, current)
        done: str | None = None
        if on_branch and sha != current:
            only = forge.listed(call("compare", lambda: repo.compare(sha, current)).commits)
            done = reverted_by(sha, first_parent_line(current, only))
        if done:
            return {**props, "head": current, "revert_sha": done, "applied": False}
        target = call(f"read commit {sha[:12]}", lambda: repo.get_git_commit(sha))
        parents = [p.sha for p in target.parents]
        refused = revert_refusal(sha, parents, on_branch, branch)
        if refused:
            raise refused
        before = call("read the parent", lambda: repo.get_git_commit(parents[0]))

        def inverse() -> str:
            made = call(
                "create the inverse commit",
                lambda: repo.create_git_commit(INVERSE_MESSAGE, before.tree, [target]),
            )
            return made.sha

        return land(
            repo,
            props,
            kind="revert",
            key=sha,
            branch=branch,
            current=current,
            base=sha,
            theirs=inverse,
            message=revert_message(target.message, sha),
            author=None,
            out="revert_sha",
        )


class Revert(ForgeResource, module="git", name="Revert"):
    """One `git revert` on the release branch; `head` is the branch after it."""

    head: pulumi.Output[str]
    revert_sha: pulumi.Output[str]
    applied: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        branch: pulumi.Input[str],
        revert: pulumi.Input[str],
        expected_head: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "branch": branch,
            "revert": revert,
            "expected_head": expected_head,
        }
        super().__init__(RevertProvider(), name, props, ("head", "revert_sha", "applied"), opts)
