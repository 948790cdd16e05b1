"""A release branch `release/YYYY-MM-DD`, cut at one commit and never deleted."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call
from release.rules.config import RELEASE_PREFIX


class BranchExistsElsewhere(RuntimeError):
    """The release branch exists at a commit that does not contain the requested cut."""


class ReleaseBranchProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "branch", "commit")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not str(news.get("branch", "")).startswith(RELEASE_PREFIX):
            failures.append(CheckFailure("branch", f"must start with {RELEASE_PREFIX}"))
        commit = str(news.get("commit", ""))
        if len(commit) != 40:
            failures.append(CheckFailure("commit", "must be a full 40-character SHA"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the branch at `commit`, or adopt it where it is (containing `commit`).

        With `listed` (this run's plan listed the release branches just before), its answer
        is not read again: listed at `listed_head`, the branch is adopted there; not listed,
        it is created at once, and the forge's "Reference already exists" (created meanwhile,
        say by a run killed after its create) makes it read and adopted as a lookup would.
        Without `listed`, it is looked for first."""
        repo = self.repo(props)
        branch, commit = props["branch"], props["commit"]

        def find() -> str | None:
            return forge.branch_head(repo, branch)

        adopted: list[str] = []

        def make() -> str:
            try:
                repo.create_git_ref(f"refs/heads/{branch}", commit)
            except forge.GithubException as err:
                if err.status == 422:  # "Reference already exists": adopt it (or explain)
                    head = call(f"read {branch}", find)
                    if head is not None:
                        adopted.append(head)
                        return head
                raise forge.ForgeError.from_error(f"create {branch}", err) from None
            return commit

        found = props.get("listed_head") if props.get("listed") else find()
        head = found or forge.create_once(find, make, looked=True)
        created = not found and not adopted  # not there before this run's create
        if head != commit and not forge.is_ancestor(repo, commit, head):
            raise BranchExistsElsewhere(
                f"{branch} already exists at {head[:12]}, which does not contain {commit[:12]}; "
                f"nothing was changed. Promote that commit (`release promote ENV --commit {head} "
                f"--date {branch[len(RELEASE_PREFIX) :]}`) or cut under another --date."
            )
        return CreateResult(branch, self._outs(props, head, created))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        head = forge.branch_head(self.repo(props), props["branch"])
        return ReadResult(id_, self._outs(props, head, bool(props.get("created"))))

    @staticmethod
    def _outs(props: dict[str, Any], head: str | None, created: bool) -> dict[str, Any]:
        return {**props, "head": head, "created": created}


class ReleaseBranch(ForgeResource, module="git", name="ReleaseBranch"):
    """The release branch. `head` is where it pointed when last created or refreshed."""

    branch: pulumi.Output[str]
    commit: pulumi.Output[str]
    head: pulumi.Output[str]
    created: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        branch: pulumi.Input[str],
        commit: pulumi.Input[str],
        listed: bool = False,
        listed_head: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # `listed`: this run's plan listed the release branches, where this one was at
        # `listed_head` (None: not there). Not compared by `diff`.
        props = {
            "api_url": api_url,
            "repository": repository,
            "branch": branch,
            "commit": commit,
            "listed": listed,
            "listed_head": listed_head,
        }
        super().__init__(ReleaseBranchProvider(), name, props, ("head", "created"), opts)
