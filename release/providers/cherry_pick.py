"""A cherry-pick of one commit onto a release branch, made through the forge's API.

`git cherry-pick -x SHA` on the release branch, as the process document does by hand, but
without a clone (release/providers/grafting.py says how, and why the API): the pick's change
`P^..SHA` is grafted on the release head as a commit with the original message plus git's
`(cherry picked from commit SHA)` trailer and the original author, and the branch is
fast-forwarded to it, never forced.

A pick already on the branch (the commit itself, its trailer or the same patch) is a no-op;
a merge commit or, unless allowed, a commit off the source branch is refused. Removing a
pick from the config only forgets it: the branch keeps it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from release.providers.grafting import find_applied, full_sha_ok, land, original_author
from release.rules.picks import pick_message, refusal

if TYPE_CHECKING:
    pass


class CherryPickProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "branch", "pick")
    update_on = ("expected_head",)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not full_sha_ok(news.get("pick")):
            failures.append(CheckFailure("pick", "must be a full 40-character lowercase SHA"))
        if not str(news.get("branch") or ""):
            failures.append(CheckFailure("branch", "name the release branch"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(f"{props['branch']}:{props['pick']}", outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(props)
        branch, sha = props["branch"], props["pick"]
        current = forge.branch_head(repo, branch)
        if current is None:
            raise forge.ForgeError(f"{branch} does not exist; nothing was picked")
        found = find_applied(repo, sha, current)
        if found:
            return {**props, "head": current, "picked_sha": found, "applied": False}
        pick = call(f"read commit {sha[:12]}", lambda: repo.get_git_commit(sha))
        parents = [p.sha for p in pick.parents]
        source = props.get("source_branch") or "master"
        allowed = bool(props.get("allow_off_master"))
        on_source = allowed or (len(parents) == 1 and forge.is_ancestor(repo, sha, source))
        refused = refusal(sha, parents, on_source, allowed, source)
        if refused:
            raise refused
        return land(
            repo,
            props,
            kind="pick",
            key=sha,
            branch=branch,
            current=current,
            base=parents[0],
            theirs=lambda: sha,
            message=pick_message(pick.message, sha),
            author=original_author(pick),
            out="picked_sha",
        )


class CherryPick(ForgeResource, module="git", name="CherryPick"):
    """One `cherry-pick -x` onto the release branch; `head` is the branch after it."""

    head: pulumi.Output[str]
    picked_sha: pulumi.Output[str]
    applied: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        branch: pulumi.Input[str],
        pick: pulumi.Input[str],
        expected_head: pulumi.Input[str],
        source_branch: pulumi.Input[str] = "master",
        allow_off_master: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "branch": branch,
            "pick": pick,
            "expected_head": expected_head,
            "source_branch": source_branch,
            "allow_off_master": allow_off_master,
        }
        super().__init__(CherryPickProvider(), name, props, ("head", "picked_sha", "applied"), opts)
