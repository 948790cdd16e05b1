"""The "ours" merge of the previous release into the new one.

The process document: merge the previous release branch into the new one with
`--strategy-option ours`, so the pull request merges cleanly, and the merge commit has an
empty diff. Made through the API without a clone: a commit whose tree is the new head's tree
and whose parents are the new head and the previous release head, then a fast-forward (never
forced) of the release branch to it. The lost-fix check runs before this resource is ever
registered (see release.rules.fixes), and again here as a guard against a moved branch.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call


class OursMergeProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "branch", "head", "previous", "previous_head")

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = self.repo(props)
        branch, head = props["branch"], props["head"]
        previous, previous_head = props["previous"], props["previous_head"]
        if props.get("branch_head") != head:
            # Not known to be at `head` (the resource before says otherwise): look.
            current = forge.branch_head(repo, branch)
            if current != head:
                return CreateResult(f"{branch}<-{previous}", self._adopt(props, current))
        # The branch is at `head` (as the resource before this one left it this run, or as
        # just read), which the plan found lacks `previous_head` (that is why this resource
        # exists): merge. Its tree comes from the plan's read of `head` when given (a tree
        # is immutable), the previous head is named as a parent, neither is read.
        known_tree = props.get("head_tree")
        if known_tree:
            tree = forge.unread_git_tree(repo, known_tree)
        else:
            tree = call("read the new head", lambda: repo.get_git_commit(head)).tree
        parents = [
            forge.unread_git_commit(repo, head),
            forge.unread_git_commit(repo, previous_head),
        ]
        message = (
            f"Merge branch '{previous}' into {branch}\n\n"
            f"Marks {previous} as merged, keeping {branch}'s tree (strategy: ours), so that\n"
            "the pull request into the environment merges cleanly. Empty diff by construction."
        )
        merge = call(
            "create the ours-merge commit",
            lambda: forge.repeatable(lambda: repo.create_git_commit(message, tree, parents)),
        )
        # The empty diff, checked before the branch moves: the new commit's tree is the
        # head's tree (as the forge recorded it), so it changes no file.
        if merge.tree.sha != tree.sha:
            raise forge.ForgeError(
                f"the ours-merge {merge.sha[:12]} has tree {merge.tree.sha[:12]}, not "
                f"{head[:12]}'s tree {tree.sha[:12]}; nothing was pushed"
            )
        # Never forced: the forge moves the branch only when the merge contains where it
        # is, so a commit pushed meanwhile (a hotfix) refuses the update rather than being
        # lost; then what the branch holds now decides.
        ref = forge.unread_branch_ref(repo, branch)
        try:
            ref.edit(merge.sha, force=False)
        except Exception as err:  # noqa: BLE001 - look at the branch before deciding
            current = forge.branch_head(repo, branch)
            if current == merge.sha:  # the update went through before the error reached us
                return CreateResult(f"{branch}<-{previous}", self._made(props, merge))
            if current == head:
                raise forge.ForgeError.from_error(f"fast-forward {branch}", err) from None
            return CreateResult(f"{branch}<-{previous}", self._adopt(props, current))
        return CreateResult(f"{branch}<-{previous}", self._made(props, merge))

    @staticmethod
    def _made(props: dict[str, Any], merge: Any) -> dict[str, Any]:
        """The outputs of a merge this resource made and put on the branch: its SHA, and
        `made`, its parents and tree as the forge answered the create (what the program may
        derive from: release.program.planning.ours_merge_memo). An adopted merge has none."""
        made = {"parents": [p.sha for p in merge.parents], "tree": merge.tree.sha}
        return {**props, "merge_sha": merge.sha, "made": made}

    @staticmethod
    def _adopt(props: dict[str, Any], current: str | None) -> dict[str, Any]:
        """The branch is not at `head`: a merge already made (a run that stopped after the
        ref update) is adopted; anything else is refused with nothing merged."""
        branch, head = props["branch"], props["head"]
        if current is None:
            raise forge.ForgeError(f"{branch} does not exist; run up again to cut it")
        repo = OursMergeProvider.repo(props)
        if forge.is_ancestor(repo, props["previous_head"], current):
            return {**props, "merge_sha": current, "made": None}
        raise forge.ForgeError(
            f"{branch} moved to {current[:12]} (expected {head[:12]}); nothing was merged. "
            "Run `pulumi refresh` and up again."
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)


class OursMerge(ForgeResource, module="git", name="OursMerge"):
    """Marks the previous release as merged into the new one, keeping the new tree."""

    merge_sha: pulumi.Output[str]
    made: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        branch: pulumi.Input[str],
        head: pulumi.Input[str],
        previous: pulumi.Input[str],
        previous_head: pulumi.Input[str],
        branch_head: pulumi.Input[str] | None = None,
        head_tree: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # `branch_head`: where the resource before this one (the release branch, or the
        # last carried fix) left the branch: when it is `head`, the branch is not read
        # again (the never-forced update still refuses a branch that moved since).
        # `head_tree`: the tree of `head` when the plan read it (not read again).
        props = {
            "api_url": api_url,
            "repository": repository,
            "branch": branch,
            "head": head,
            "previous": previous,
            "previous_head": previous_head,
            "branch_head": branch_head,
            "head_tree": head_tree,
        }
        super().__init__(OursMergeProvider(), name, props, ("merge_sha", "made"), opts)
