"""The program's registration: the resources of a planned promotion, in order.

Release branch, the carried fixes (`--carry`), ours-merge (when the plan needs one), the
listed picks and reverts, the pull request; a rollback's commit and pull request; the
stack's record of intent (`TrainRecord`); then the gated merges and, after the release's
merge, the Deployment, the smoke test, the PPC rollout and the guardrails
(release/program/rollout.py); after a rollback's merge, its Deployment
(`register_rollback_deployment`). Nothing here reads the forge: every decision is in the
`PromotionPlan` (release/program/planning.py).

The record depends on every step before it and the merges depend on the record: a refused
or failed step records nothing, and a promotion waiting at a closed gate keeps its release,
picks and rollback recorded for the next operator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pulumi

from release.program.planning import (
    PlannedRollback,
    PromotionPlan,
    ReleaseChanges,
    ours_merge_memo,
)
from release.program.rollout import register_guardrails, register_rollout
from release.providers.branch import ReleaseBranch
from release.providers.cherry_pick import CherryPick
from release.providers.deployment import Deployment, DeploymentStatus, new_run
from release.providers.merge import Merge
from release.providers.ours_merge import OursMerge
from release.providers.pull_request import PullRequest
from release.providers.revert import Revert
from release.providers.rollback import RollbackCommit
from release.providers.train_record import TrainRecord
from release.rules.config import Settings
from release.rules.intent import EMPTY, Record
from release.rules.payload import render_markdown
from release.rules.rotation import Approvers
from release.rules.text import md_code, plain


def register_release(
    settings: Settings,
    plan: PromotionPlan,
    source: dict[str, Any],
    token: str | None = None,
    record: Record = EMPTY,
) -> dict[str, Any]:
    """The plan, logged; the promotion (`register_promotion`, with the stack's record of
    intent), then what follows its merge (`settings.rollout`); `token` reaches the
    guardrails' GitHub provider, as a secret."""
    for line in plan.describe().splitlines():
        pulumi.log.info(plain(line))  # branch names and pins come from the forge
    run = new_run()  # the Merge and the Deployment of its merge commit share it
    outputs = register_promotion(settings, plan, source, record, run)
    merge_run = outputs.pop(MERGE_RUN)
    pins = {pin.name: pin.after for pin in plan.payload.pins if pin.after}
    rollout = settings.rollout
    secret = pulumi.Output.secret(token) if rollout.manage_protection and token else None

    def after_merge(sha: str | None) -> Any:
        # Registered only once the merge has a merge commit: nothing downstream of a
        # merge that waits at its gate runs (or is even planned) in this `up`.
        if not sha:
            return {}
        return pulumi.Output.from_input(
            register_rollout(settings, rollout, plan.release, pins, outputs, run, merge_run)
        )

    guard = (
        {"guardrails": register_guardrails(settings, rollout, secret)}
        if rollout.manage_protection
        else {}
    )
    merge_commit = pulumi.Output.from_input(outputs["mergeCommit"])
    outputs["rollout"] = merge_commit.apply(after_merge).apply(lambda added: {**added, **guard})
    return outputs


# Not an output of the stack: the Merge's `merged_run`, which `register_release` takes out.
MERGE_RUN = "mergeRun"


def register_promotion(
    settings: Settings,
    plan: PromotionPlan,
    source: dict[str, Any],
    record: Record = EMPTY,
    run: str | None = None,
) -> dict[str, Any]:
    """The resources of a promotion, in order: branch, ours-merge, picks and reverts, the
    rollback's commit and pull request, the pull request, the record, the merges (the
    release's with `run`, this program run's id; its `merged_run` as `MERGE_RUN`)."""
    release, commit = plan.release, plan.commit
    common = settings.forge_inputs()
    branch = ReleaseBranch(
        "release-branch",
        branch=release,
        commit=commit,
        listed=plan.listed,  # where the plan found it is not read again
        listed_head=plan.release_head,
        **common,
    )
    head: pulumi.Output[str] = branch.commit
    known: pulumi.Output[str] = branch.head  # where the branch is, as this run left it
    for sha in plan.carried:  # fixes only the running release has, carried before its merge
        carry = CherryPick(
            f"carry-{sha[:12]}",
            branch=release,
            pick=sha,
            expected_head=head,
            source_branch=settings.source_branch,
            allow_off_master=True,
            opts=pulumi.ResourceOptions(depends_on=[branch]),
            **common,
        )
        head = known = carry.head
    ours_head: pulumi.Output[str] | None = None
    memo_facts: Any = {}  # what the merging run need not read (planning.ours_merge_memo)
    if plan.needs_ours_merge:
        assert plan.previous and plan.previous_head
        ours = OursMerge(
            "ours-merge",
            branch=release,
            head=head,
            previous=plan.previous,
            previous_head=plan.previous_head,
            branch_head=known,
            head_tree=None if plan.carried else plan.commit_tree,  # the plan read the cut
            opts=pulumi.ResourceOptions(depends_on=[branch]),
            **common,
        )
        head = ours_head = ours.merge_sha
        memo_facts = pulumi.Output.all(ours.merge_sha, ours.made).apply(
            lambda made: ours_merge_memo(plan, settings.pins, *made)
        )
    head, day_two = register_release_changes(settings, release, plan.changes, head)
    made = head  # the head this tool's own resources made, which the record keeps
    if plan.pushed_on:
        # Commits pushed on the release branch by hand on top of the head the resources
        # made: the branch's head is what merges (the plan's payload describes it and the
        # gate wants its checks and approval), not the head the resources know.
        recorded, pushed = plan.pushed_on
        head = head.apply(lambda sha: pushed if sha == recorded else sha)
    gate = plan.approvers or Approvers(tuple(settings.reviewers), settings.required_approvals)
    rollback_exports, rollback_steps, rollback_gate = register_rollback(
        settings, release, plan.rollback, gate
    )
    day_two.update(rollback_exports)
    title = f"Promote {release} to {settings.environment}"
    body: Any = render_markdown(plan.payload)
    described: Any = plan.payload.to_dict()
    summary: Any = plan.payload.summary()
    cut = plan.payload.head_sha == plan.commit and not plan.carried
    if ours_head is not None and head is ours_head and cut:
        # The plan described the cut; the head that merges is the ours-merge on top of it,
        # which brings nothing of its own: the body describes that head from the start, so
        # what the approver reads is what merges (and no later run edits the body).
        moved = ours_head.apply(plan.payload.moved_to)
        body = moved.apply(render_markdown)
        described = moved.apply(lambda p: p.to_dict())
        summary = moved.apply(lambda p: p.summary())
    pull = PullRequest(
        "pull-request",
        head=release,
        base=settings.environment,
        head_sha=head,
        title=title,
        body=body,
        reviewers=list(gate.reviewers),  # the oncall partner of the week is asked
        payload=described,
        new_branch=plan.listed and plan.release_head is None,  # no pull request to look for
        **common,
    )
    kept = TrainRecord(record, head=made, depends_on=[branch, pull, *rollback_steps])
    after_record = pulumi.ResourceOptions(depends_on=[kept])
    rollback_gate(after_record)
    merge = Merge(
        "merge",
        number=pull.number,
        head_sha=head,
        required_checks=list(settings.required_checks),
        reviewers=list(gate.reviewers),
        required_approvals=gate.required,
        must_approve=list(gate.must_approve),
        check_body=True,  # the body the reviewers approved describes the head that merges
        run=run,
        opts=after_record,
        **common,
    )
    return {
        "role": "promotion",
        "environment": settings.environment,
        "releaseName": release.removeprefix("release/"),
        "releaseBranch": release,
        "releaseCommit": commit,
        "releaseHead": head,
        "previousRelease": plan.previous,
        "oursMerge": plan.needs_ours_merge,
        "prNumber": pull.number,
        "prUrl": pull.url,
        "mergeCommit": merge.merge_commit,
        "state": merge.merged.apply(lambda merged: "merged" if merged else "open"),
        "gate": gate_output(merge, f"release promote {settings.environment}"),
        "payloadSummary": summary,
        "dayTwo": day_two,
        "source": source,
        "memoFacts": memo_facts,
        MERGE_RUN: merge.merged_run,
    }


def gate_output(merge: Merge, next_command: str) -> pulumi.Output[dict[str, Any]]:
    """The merge's recorded gate ({"state": "merged"|"waiting", "reasons": [...]}) as an
    output; a waiting gate is also said in one warning line of the engine's stream."""

    def record(values: list[Any]) -> dict[str, Any]:
        merged, reasons, number = bool(values[0]), list(values[1] or []), values[2]
        state = "merged" if merged else "waiting"
        if state == "waiting":
            pulumi.log.warn(
                f"pull request #{number} waits at the merge gate: {'; '.join(reasons)}. "
                f"Nothing after the merge ran; run `{next_command}` once it is resolved.",
                resource=merge,
            )
        return {"state": state, "reasons": [] if merged else reasons}

    return pulumi.Output.all(merge.merged, merge.waiting, merge.number).apply(record)


def register_release_changes(
    settings: Settings, release: str, changes: ReleaseChanges, head: pulumi.Output[str]
) -> tuple[pulumi.Output[str], dict[str, Any]]:
    """Chain the picks, then the reverts, on the release branch's head; return the head
    after them and what to export."""
    common = settings.forge_inputs()
    picks: list[dict[str, Any]] = []
    for sha, found in changes.picks:
        pulumi.log.info(
            f"pick {sha[:12]}: already on {release} as {found[:12]} (no-op)"
            if found
            else f"pick {sha[:12]}: will be cherry-picked onto {release}"
        )
        pick = CherryPick(
            f"pick-{sha[:12]}",
            branch=release,
            pick=sha,
            expected_head=head,
            source_branch=settings.source_branch,
            allow_off_master=settings.allow_off_master or sha in settings.off_master,
            **common,
        )
        head = pick.head
        picks.append({"sha": sha, "commit": pick.picked_sha, "applied": pick.applied})
    reverts: list[dict[str, Any]] = []
    for sha in changes.reverts:
        pulumi.log.info(f"revert {sha[:12]}: reverted on {release} unless it already is")
        revert = Revert(
            f"revert-{sha[:12]}",
            branch=release,
            revert=sha,
            expected_head=head,
            **common,
        )
        head = revert.head
        reverts.append({"sha": sha, "commit": revert.revert_sha, "applied": revert.applied})
    return head, {"picks": picks, "reverts": reverts}


def rollback_body(
    env: str,
    target: str,
    to_sha: str,
    replacing: str | None,
    branch: str,
    approvals: int,
    reviewers: Sequence[str],
) -> str:
    """The rollback pull request's body; names and branches are code spans
    (release.rules.text)."""
    who = ", ".join(md_code(r) for r in reviewers) or "nobody"
    return (
        f"Rolls {md_code(env)} back to **{md_code(target)}** ({md_code(to_sha)}), "
        f"replacing {md_code(replacing or 'nothing')}.\n\n"
        f"The commit on {md_code(branch)} has {md_code(target)}'s tree and "
        f"{md_code(env)}'s head as its parent: "
        "merging it restores the earlier release exactly. Nothing is rewritten.\n\n"
        f"Gates: the required checks, and {approvals} approval(s) from {who}."
    )


RollbackGate = Callable[[pulumi.ResourceOptions], None]


def register_rollback(
    settings: Settings,
    release: str,
    planned: PlannedRollback | None,
    gate: Approvers | None = None,
) -> tuple[dict[str, Any], list[pulumi.Resource], RollbackGate]:
    """A rollback commit on `rollback/ENV-DATE` and its pull request into the environment;
    returns (exports, those resources, the gate). The gate registers the merge, through the
    same gates as a promotion (with the planned approvals; when they are not 0, the oncall
    partner's among them, as `gate` says), with the options it is given (after the stack's
    record)."""
    if planned is None:
        return {}, [], lambda _opts: None
    env, target, to_sha, branch = (
        settings.environment,
        planned.target,
        planned.to_sha,
        planned.branch,
    )
    approvals = planned.approvals
    gate = gate or Approvers(tuple(settings.reviewers), approvals)
    reviewers = list(gate.reviewers)
    must_approve = list(gate.must_approve) if approvals > 0 else []
    common = settings.forge_inputs()
    commit = RollbackCommit(
        "rollback-commit",
        environment=env,
        branch=branch,
        to_release=target,
        to_sha=to_sha,
        env_head=planned.env_head,
        from_release=release,
        **common,
    )
    body = rollback_body(env, target, to_sha, release, branch, approvals, reviewers)
    pull = PullRequest(
        "rollback-pull-request",
        head=branch,
        base=env,
        head_sha=commit.head,
        title=f"Roll back {env} to {target}",
        body=body,
        reviewers=reviewers,
        **common,
    )
    exports: dict[str, Any] = {
        "to": target,
        "from": release,
        "branch": branch,
        "commit": commit.head,
        "prNumber": pull.number,
        "prUrl": pull.url,
    }

    def register_merge(opts: pulumi.ResourceOptions) -> None:
        run = new_run()  # the rollback's Merge and the Deployment of its merge commit
        merge = Merge(
            "rollback-merge",
            number=pull.number,
            head_sha=commit.head,
            required_checks=list(settings.required_checks),
            reviewers=reviewers,
            required_approvals=approvals,
            must_approve=must_approve,
            run=run,
            opts=opts,
            **common,
        )
        exports["mergeCommit"] = merge.merge_commit
        exports["state"] = merge.merged.apply(lambda merged: "merged" if merged else "open")
        exports["gate"] = gate_output(merge, f"release promote {env}")
        exports["deployment"] = merge.merge_commit.apply(
            lambda sha: register_rollback_deployment(
                settings, target, release, sha, pull.url, merge, run
            )
        )

    return {"rollback": exports}, [commit, pull], register_merge


def register_rollback_deployment(
    settings: Settings,
    target: str,
    replaced: str,
    sha: str | None,
    pr_url: pulumi.Output[str],
    merge: Merge,
    run: str,
) -> Any:
    """Once the rollback merged: a Deployment of the environment at its merge commit (the
    earlier release, `rollback` in its payload), `success` at once, which marks the replaced
    release's deployment `inactive`. None while the rollback waits at its gate. `run`: the
    program run's id the rollback's Merge was given (its `merged_run` says whether it made the
    merge commit, which then has no deployment to look for)."""
    if not sha:
        return None
    common = settings.forge_inputs()
    env = settings.environment
    deployment = Deployment(
        "rollback-deployment",
        environment=env,
        sha=sha,
        release=target,
        description=f"Roll back {env} from {replaced} to {target}",
        payload={"rollback": True, "from": replaced},
        log_url=pr_url,
        run=run,
        in_progress=False,  # `success` follows at once
        merge_run=merge.merged_run,  # equal to `run` when this run made the merge commit
        opts=pulumi.ResourceOptions(depends_on=[merge]),  # the merge commit came as a value
        **common,
    )
    DeploymentStatus(
        "rollback-deployment-done",
        environment=env,
        deployment_id=deployment.deployment_id,
        state="success",
        log_url=pr_url,
        description=f"{env} rolled back to {target}",
        retire=f"rolled back to {target}",
        deployment_state=deployment.state,
        deployment_run=deployment.state_run,
        run=run,
        **common,
    )
    return deployment.deployment_id
