"""The merge of a release pull request: gated, with a merge commit, head pinned.

It merges only when every required check on the pull request's head passed and the
required approvals from configured reviewers of that very head exist, and only with the
`merge` method (never squash or rebase), and only when the pull request's body (what
the reviewers approved) describes that head (`release.rules.payload.description_refusal`). The head SHA is sent with the merge, so a pull
request that moved underneath is refused by the forge rather than merged unseen. A refused
gate fails `up` with the exact reasons and changes nothing; the next `up` tries again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call
from release.rules.payload import description_refusal

if TYPE_CHECKING:
    from github.PullRequest import PullRequest as GhPull
    from github.Repository import Repository

    from release.rules.gates import MergeGate


class GateClosed(RuntimeError):
    """The merge gate is not open; the message lists every reason."""


def evaluate(repo: Repository, pull: GhPull, props: dict[str, Any]) -> MergeGate:
    """The merge gate of `pull` for this resource's inputs (forge.read_gate: reads only)."""
    return forge.read_gate(
        repo,
        pull,
        props.get("required_checks") or [],
        props.get("reviewers") or [],
        int(props.get("required_approvals") or 0),
        expected_head=props.get("head_sha"),
    )


class MergeProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "number", "head_sha")
    update_on = ("required_checks", "reviewers", "required_approvals")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if news.get("merge_method") != "merge":
            failures.append(
                CheckFailure("merge_method", "only 'merge' is allowed (no squash, no rebase)")
            )
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = self.repo(props)
        number = int(props["number"])
        pull = call(f"read pull request #{number}", lambda: repo.get_pull(number))
        if not pull.merged:
            gate = evaluate(repo, pull, props)
            reasons = list(gate.reasons)
            stale = None
            if props.get("check_body"):
                stale = description_refusal(pull.body, str(props["head_sha"]))
            if stale:
                reasons.append(stale)
            if reasons:
                raise GateClosed(
                    f"pull request #{number} was not merged: "
                    + "; ".join(reasons)
                    + ". Nothing was changed; run up again once this is resolved."
                )
            self._merge(repo, pull, props)
            pull = repo.get_pull(number)
        return CreateResult(str(number), self._outs(props, pull))

    def _merge(self, repo: Repository, pull: GhPull, props: dict[str, Any]) -> None:
        title = f"Merge pull request #{pull.number} from {pull.head.ref} into {pull.base.ref}"
        try:
            pull.merge(merge_method="merge", sha=props["head_sha"], commit_title=title)
        except forge.GithubException as err:
            fresh = repo.get_pull(pull.number)
            if fresh.merged:  # the merge went through before the error reached us
                return
            if err.status == 405 and not repo.allow_merge_commit:
                raise forge.ForgeError(
                    f"{repo.full_name} does not allow merge commits; enable 'Allow merge "
                    "commits' in the repository settings (releases are never squashed or rebased)"
                ) from None
            raise forge.ForgeError(
                f"merging pull request #{pull.number} failed: {forge.describe(err)}"
            ) from None
        except Exception as err:  # noqa: BLE001 - a timeout: look before deciding
            if not forge.is_transient(err) or not repo.get_pull(pull.number).merged:
                raise forge.ForgeError(
                    f"merging pull request #{pull.number} failed: {forge.describe(err)}; "
                    "it was not merged"
                ) from None

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        pull = self.repo(props).get_pull(int(id_))
        return ReadResult(id_, self._outs(props, pull))

    @staticmethod
    def _outs(props: dict[str, Any], pull: GhPull) -> dict[str, Any]:
        return {
            **props,
            "merged": bool(pull.merged),
            "merge_commit": pull.merge_commit_sha if pull.merged else None,
            "merged_by": pull.merged_by.login if pull.merged and pull.merged_by else None,
        }


class Merge(ForgeResource, module="github", name="Merge"):
    """Merges pull request `number` at `head_sha` once its gates are open."""

    merged: pulumi.Output[bool]
    merge_commit: pulumi.Output[str]
    merged_by: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        number: pulumi.Input[int],
        head_sha: pulumi.Input[str],
        required_checks: pulumi.Input[list[str]],
        reviewers: pulumi.Input[list[str]],
        required_approvals: pulumi.Input[int],
        check_body: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "number": number,
            "head_sha": head_sha,
            "required_checks": required_checks,
            "reviewers": reviewers,
            "required_approvals": required_approvals,
            "merge_method": "merge",
            "check_body": check_body,  # the body must describe head_sha (a release PR)
        }
        super().__init__(
            MergeProvider(), name, props, ("merged", "merge_commit", "merged_by"), opts
        )
