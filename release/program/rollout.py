"""After a merge: the promotion's Deployment, the smoke test, the customer PPC rollout, and
the guardrails.

"After the Pulumi Service has been updated, and rolled out to production ... we then are
able to update customer PPCs." A promotion stack whose config lists `ppcs` gets, in the
same `up` and after its Merge resource:

1. the optional verification command (`verifyCommand`, a smoke test), run once per release;
2. the PPC rollout (`PpcRollout`, release/program/ppc_rollout.py): one resource per wave,
   wave after wave, each running its PPCs' `ppcCommand` jobs at once, with the release, its
   head commit and the component pins of the payload's new end in their environment; a new
   commit or new pins run the waves again (and only then).

Every promotion stack also gets its GitHub Deployment (release/providers/deployment.py): a
`Deployment` of the environment at the merge commit, `in_progress` from the merge when a
smoke test or PPC waves follow, and a `DeploymentStatus` `success` that depends on the smoke
test and the last PPC wave.

All of them wait for the merge through data: their inputs carry the Merge resource's merge commit,
so the engine records the dependency; and they are registered only once the merge has a merge
commit (release/program/registration.py): a merge waiting at its gate is recorded as
waiting, and nothing after it starts.

A stack with `manageProtection: true` also registers `Guardrails` (release/program/guardrails.py):
GitHub's own branch protection and environments, with `pulumi_github`.

The keys around the train (`ppcs`, `ppcCommand`, `ppcStateDir`, `verifyCommand`, ...) are
validated with the rest of the stack's config (release/rules/config.py, `RolloutSettings`) before
any resource is registered. The webhook is only checked there: notifications are sent by the
command line, so its URL never reaches a resource's inputs or the stack's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from release.program.guardrails import Guardrails
from release.program.ppc_rollout import PpcRollout, verification
from release.providers.deployment import Deployment, DeploymentStatus, new_run
from release.rules.config import RolloutSettings, Settings, guardrails_args


def register_rollout(
    settings: Settings,
    rollout: RolloutSettings,
    release: str,
    pins: Mapping[str, str],
    outputs: Mapping[str, Any],
    run: str | None = None,
    merge_run: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """After the promotion's Merge (through `outputs["mergeCommit"]`): the smoke test and the
    PPC rollout, as configured. Returns the outputs to add. `run`: this program run's id,
    given to the Merge too; `merge_run`: the Merge's `merged_run` (the Deployment of a merge
    commit this run made does not look for one first)."""
    head = pulumi.Output.from_input(outputs["releaseHead"])
    merged = pulumi.Output.from_input(outputs["mergeCommit"]).apply(lambda sha: sha or "")
    # The release's head, resolved only once the merge is done: carries the dependency.
    after_merge = pulumi.Output.all(head, merged).apply(lambda values: values[0])
    added: dict[str, Any] = {}
    after: list[pulumi.Resource] = []
    common = settings.forge_inputs()
    env = settings.environment
    run = run or new_run()
    deployment = Deployment(
        "deployment",
        environment=env,
        sha=merged,
        release=release,
        description=f"Promote {release} to {env}",
        payload={"pr": outputs.get("prNumber"), "head": after_merge},
        log_url=outputs.get("prUrl"),
        run=run,
        # `in_progress` only while something runs before the final status
        in_progress=bool(rollout.verify_command or rollout.ppcs),
        merge_run=merge_run,
        **common,
    )
    done: list[pulumi.Resource] = []
    if rollout.verify_command:
        verify = verification(
            "verify",
            rollout.verify_command,
            after=[],
            triggers=[after_merge],
            environment={
                "RELEASE_TRAIN_ENVIRONMENT": settings.environment,
                "RELEASE_TRAIN_RELEASE": release,
                "RELEASE_TRAIN_COMMIT": after_merge,
                "RELEASE_TRAIN_MERGE_COMMIT": merged,
            },
        )
        after.append(verify)
        done.append(verify)
        added["verified"] = verify.stdout
    if rollout.ppcs:
        # GitHub Actions (ppcExecutor: actions) or the local command (parse_rollout refuses
        # ppcs with neither a workflow nor a command).
        on_actions = rollout.actions_spec(settings.api_url, settings.repository)
        assert on_actions or rollout.ppc_command
        ppcs = PpcRollout(
            "ppc-rollout",
            list(rollout.ppcs),
            rollout.ppc_command,
            release=release,
            commit=after_merge,
            pins=dict(pins),
            after=after,
            environment={"RELEASE_TRAIN_ENVIRONMENT": settings.environment},
            state=rollout.ppc_state_dir,
            executor=on_actions,
            deployments=common,
        )
        added["ppcs"] = {
            "waves": [[p.name for p in wave] for wave in ppcs.waves],
            "stateDir": rollout.ppc_state_dir,
            "release": release,
            "commit": after_merge,
            "outcomes": ppcs.outcomes,
        }
        done.append(ppcs.resources[max(ppcs.resources)])  # the last wave waits for the others
    final = DeploymentStatus(
        "deployment-done",
        environment=env,
        deployment_id=deployment.deployment_id,
        state="success",
        log_url=outputs.get("prUrl"),
        description=f"{release} runs in {env}" + (", PPCs updated" if rollout.ppcs else ""),
        retire=f"replaced by {release}",
        deployment_state=deployment.state,
        deployment_run=deployment.state_run,
        run=run,
        opts=pulumi.ResourceOptions(depends_on=done),
        **common,
    )
    added["deployment"] = {
        "id": deployment.deployment_id,
        "environment": env,
        "state": final.id.apply(lambda _id: "success"),
    }
    return added


def register_guardrails(
    settings: Settings, rollout: RolloutSettings, token: pulumi.Input[str] | None = None
) -> list[str]:
    """GitHub's own branch protection and environments (`manageProtection`); independent of
    the merge. Returns the branches and the pattern they protect."""
    args = guardrails_args(settings, rollout.reviewer_team, token)
    Guardrails("guardrails", args)
    return [*args.environment_branches, args.release_branch_pattern]
