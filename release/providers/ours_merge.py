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
        current = forge.branch_head(repo, branch)
        if current is None:
            raise forge.ForgeError(f"{branch} does not exist; run up again to cut it")
        if current != head:
            if forge.is_ancestor(repo, previous_head, current):
                # Already merged (a run that stopped after the ref update): adopt it.
                return CreateResult(f"{branch}<-{previous}", {**props, "merge_sha": current})
            raise forge.ForgeError(
                f"{branch} moved to {current[:12]} (expected {head[:12]}); nothing was merged. "
                "Run `pulumi refresh` and up again."
            )
        # The branch is at `head`, which the plan found lacks `previous_head` (that is why
        # this resource exists): merge. The previous head is named as a parent, not read.
        new_head = call("read the new head", lambda: repo.get_git_commit(head))
        tree = new_head.tree
        parents = [new_head, forge.unread_git_commit(repo, previous_head)]
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
        ref = forge.unread_branch_ref(repo, branch)
        call(f"fast-forward {branch}", lambda: ref.edit(merge.sha, force=False))
        return CreateResult(f"{branch}<-{previous}", {**props, "merge_sha": merge.sha})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)


class OursMerge(ForgeResource, module="git", name="OursMerge"):
    """Marks the previous release as merged into the new one, keeping the new tree."""

    merge_sha: pulumi.Output[str]

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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "branch": branch,
            "head": head,
            "previous": previous,
            "previous_head": previous_head,
        }
        super().__init__(OursMergeProvider(), name, props, ("merge_sha",), opts)
