"""The merge of a release pull request: gated, with a merge commit, head pinned.

It merges only when every required check on the pull request's head passed and the
required approvals from configured reviewers of that very head exist (among them the
approval of each reviewer in `must_approve`: the oncall partner), and only with the
`merge` method (never squash or rebase), and only when the pull request's body (what
the reviewers approved) describes that head (`release.rules.payload.description_refusal`).
The head SHA is sent with the merge, so a pull request that moved underneath is refused by
the forge rather than merged unseen.

A closed gate is a state, not a failure: the resource records `gate_state: waiting` with the
exact reasons (`waiting`), `merged: false` and no merge commit, and the `up` succeeds having
merged nothing. While it waits, every `diff` reports a change, so the next `up` looks at the
gate again and merges once it is open. Nothing downstream starts on a waiting merge (the
program registers what follows a merge only once it has a merge commit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call, take_opened
from release.rules.gates import approval_required, merge_gate, opened_gate
from release.rules.payload import description_refusal

if TYPE_CHECKING:
    from github.PullRequest import PullRequest as GhPull
    from github.Repository import Repository

    from release.rules.gates import MergeGate


class MergesNotAllowed(RuntimeError):
    """The repository does not allow merge commits (an expected refusal: the fix is a setting)."""


def evaluate(
    repo: Repository, pull: GhPull, props: dict[str, Any], fresh: bool = False
) -> MergeGate:
    """The merge gate of `pull` for this resource's inputs (forge.read_gate: reads only).

    `fresh`: this process opened `pull` in this `up`, so nobody has reviewed it yet; when
    the gate needs an approval it is closed whatever else holds, and nothing is read (not its
    reviews, not its head's checks): the gate's reasons say it was just opened, the approval
    owed and each required check that must pass (rules.gates.opened_gate). With no approval
    required the gate could be open: its head's checks are read (its reviews are not)."""
    required = int(props.get("required_approvals") or 0)
    must_approve = list(props.get("must_approve") or [])
    if fresh and approval_required(required, must_approve):
        return opened_gate(
            head_sha=pull.head.sha,
            expected_head=props.get("head_sha"),
            required_checks=list(props.get("required_checks") or []),
            reviewers=list(props.get("reviewers") or []),
            required_approvals=required,
            state=pull.state,
            mergeable=pull.mergeable,
            must_approve=must_approve,
        )
    if fresh:
        statuses, runs = forge.checks_seen(repo, pull.head.sha)
        return merge_gate(
            head_sha=pull.head.sha,
            expected_head=props.get("head_sha"),
            required_checks=list(props.get("required_checks") or []),
            statuses=statuses,
            check_runs=runs,
            reviews=[],  # opened in this `up`: none yet
            reviewers=list(props.get("reviewers") or []),
            required_approvals=required,
            state=pull.state,
            mergeable=pull.mergeable,
            must_approve=must_approve,
        )
    return forge.read_gate(
        repo,
        pull,
        props.get("required_checks") or [],
        props.get("reviewers") or [],
        required,
        expected_head=props.get("head_sha"),
        must_approve=must_approve,
    )


class MergeProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "number", "head_sha")
    update_on = ("required_checks", "reviewers", "required_approvals", "must_approve")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if news.get("merge_method") != "merge":
            failures.append(
                CheckFailure("merge_method", "only 'merge' is allowed (no squash, no rebase)")
            )
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """As every provider, and a waiting merge always changes: the next `up` re-reads
        the gate (an update) and merges when it is open."""
        base = super().diff(_id, olds, news)
        if olds.get("merged") or base.replaces:
            return base
        return DiffResult(changes=True, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        number = int(props["number"])
        return CreateResult(str(number), self._attempt(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("merged"):  # only the gate's settings changed: a merge stays merged
            return UpdateResult({**olds, **news})
        return UpdateResult(self._attempt(news))

    def _attempt(self, props: dict[str, Any]) -> dict[str, Any]:
        """Merge when the gate is open; otherwise record why it waits (nothing changed)."""
        repo = self.repo(props)
        number = int(props["number"])
        opened = take_opened(props, number)
        pull = opened or call(f"read pull request #{number}", lambda: repo.get_pull(number))
        if not pull.merged:
            gate = evaluate(repo, pull, props, fresh=opened is not None)
            reasons = list(gate.reasons)
            if props.get("check_body"):
                stale = description_refusal(pull.body, str(props["head_sha"]), pull.base.ref)
                if stale:
                    reasons.append(stale)
            if reasons:
                return self._outs(props, pull, reasons)
            merged = self._merge(repo, pull, props)
            if isinstance(merged, str):
                # The forge's answer to the merge names its commit: the pull request is
                # not read again (merged by this resource, with the stack's token).
                return self._merged_outs(props, merged)
            pull = merged
        return self._outs(props, pull)

    def _merge(self, repo: Repository, pull: GhPull, props: dict[str, Any]) -> str | GhPull:
        """Merge `pull`; the merge commit's SHA as the forge answered, or the pull request
        read again when an error left it unclear (then merged: the error came after)."""
        title = f"Merge pull request #{pull.number} from {pull.head.ref} into {pull.base.ref}"
        try:
            done = pull.merge(merge_method="merge", sha=props["head_sha"], commit_title=title)
        except forge.GithubException as err:
            fresh = repo.get_pull(pull.number)
            if fresh.merged:  # the merge went through before the error reached us
                return fresh
            if err.status == 405 and not repo.allow_merge_commit:
                raise MergesNotAllowed(
                    f"{repo.full_name} does not allow merge commits; enable 'Allow merge "
                    "commits' in the repository settings (releases are never squashed or rebased)"
                ) from None
            raise forge.ForgeError(
                f"merging pull request #{pull.number} failed: {forge.describe(err)}"
            ) from None
        except Exception as err:  # noqa: BLE001 - a timeout: look before deciding
            fresh = repo.get_pull(pull.number) if forge.is_transient(err) else None
            if fresh is None or not fresh.merged:
                raise forge.ForgeError(
                    f"merging pull request #{pull.number} failed: {forge.describe(err)}; "
                    "it was not merged"
                ) from None
            return fresh
        if done.merged and done.sha:
            return str(done.sha)
        return repo.get_pull(pull.number)  # an answer without its commit: look

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        pull = self.repo(props).get_pull(int(id_))
        return ReadResult(id_, self._outs(props, pull, props.get("waiting")))

    @staticmethod
    def _outs(
        props: dict[str, Any], pull: GhPull, reasons: list[str] | None = None
    ) -> dict[str, Any]:
        merged = bool(pull.merged)
        return {
            **props,
            "merged": merged,
            "merge_commit": pull.merge_commit_sha if merged else None,
            "merged_by": pull.merged_by.login if merged and pull.merged_by else None,
            "gate_state": "merged" if merged else "waiting",
            "waiting": [] if merged else list(reasons or []),
            "merged_run": None,  # read, not merged by this resource: maybe an earlier run
        }

    @staticmethod
    def _merged_outs(props: dict[str, Any], merge_commit: str) -> dict[str, Any]:
        """Merged by this resource just now: `merged_by` names who merged only when it was
        read from the forge (someone else merged, or a merge the resource adopted); the
        merge's answer does not say the token's login, and reading it again for that would
        cost a round trip. `merged_run`: the program run whose `up` made the merge commit
        (this one, `props["run"]`): what follows in the same run knows the commit is new."""
        return {
            **props,
            "merged": True,
            "merge_commit": merge_commit,
            "merged_by": None,
            "gate_state": "merged",
            "waiting": [],
            "merged_run": props.get("run"),
        }


class Merge(ForgeResource, module="github", name="Merge"):
    """Merges pull request `number` at `head_sha` once its gates are open."""

    merged: pulumi.Output[bool]
    merge_commit: pulumi.Output[str]
    merged_by: pulumi.Output[str]  # read from the forge; None when this resource merged it
    gate_state: pulumi.Output[str]
    waiting: pulumi.Output[list[str]]
    # `run` when this resource's PUT made the merge commit in that program run; None when
    # the merge was read (an earlier run's, someone else's, one adopted after a crash)
    merged_run: pulumi.Output[str]

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
        must_approve: pulumi.Input[list[str]] | None = None,
        run: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # `run`: an id of this program run (providers.deployment.new_run), not compared by
        # `diff`: `merged_run` repeats it when this run's `up` merged.
        props = {
            "api_url": api_url,
            "repository": repository,
            "number": number,
            "head_sha": head_sha,
            "required_checks": required_checks,
            "reviewers": reviewers,
            "required_approvals": required_approvals,
            "must_approve": must_approve or [],  # the oncall partner of the merge's week
            "merge_method": "merge",
            "check_body": check_body,  # the body must describe head_sha (a release PR)
            "run": run,
        }
        super().__init__(
            MergeProvider(),
            name,
            props,
            ("merged", "merge_commit", "merged_by", "gate_state", "waiting", "merged_run"),
            opts,
        )
