"""A promotion as a GitHub Deployment, and the status that finishes it.

`Deployment` is registered after a Merge into `staging` or `production` (or a rollback's
merge): it finds or creates the deployment of the merge commit to the environment
(`release.deployments.find_or_create`, so a re-run never adds a second one) and, when the
deployment has no status yet, marks it `in_progress` with the pull request's URL, but only
when something runs before its final status (the smoke test, PPC waves): with nothing in
between, a staging promotion or a rollback, the final status follows at once.

`DeploymentStatus` depends on what must be done before the deployment counts (the smoke
test, the last PPC wave): it sets the final state and, for `success`, marks the earlier
successful deployments of the environment `inactive` (GitHub's `auto_inactive` does it
outside production only). A run that fails before it leaves the deployment `in_progress`
(or without status), and the command line marks it `failure` (release/cli/promotion.py).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult

from release import deployments
from release.providers.base import ForgeProvider, ForgeResource, call

_SHA = re.compile(r"^[0-9a-f]{40}$")


def new_run() -> str:
    """An id for this program run, given to a `Deployment` and its `DeploymentStatus` (their
    `run`): a different one each `up`, so a state recorded by an earlier run is never
    taken for this run's."""
    return uuid.uuid4().hex


class DeploymentProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "environment", "sha", "task")
    update_on = ("release", "description", "payload", "log_url")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not _SHA.match(str(news.get("sha") or "")):
            failures.append(CheckFailure("sha", "must be a full 40-character lowercase SHA"))
        for key in ("environment", "task", "release"):
            if not str(news.get(key) or "").strip():
                failures.append(CheckFailure(key, "must not be empty"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = self.repo(props)
        environment, sha = props["environment"], props["sha"]
        # The merge commit `sha` was made by this very run (the Merge's PUT, in this `up`):
        # a commit that did not exist before cannot have a deployment yet, so it is not
        # looked for (a retry after an uncertain create still looks first). A merge read
        # or adopted (after a crash, by another run) is looked up as before.
        new_commit = bool(props.get("run")) and props.get("merge_run") == props.get("run")
        deployment, created = call(
            f"deployment of {sha[:12]} to {environment}",
            lambda: deployments.find_or_create(
                repo,
                environment,
                sha,
                props["release"],
                task=props["task"],
                description=props.get("description"),
                payload=props.get("payload") or {},
                looked=new_commit,
            ),
        )
        # A deployment this call created has no status; one found (a re-run after a crash,
        # a lost state) is read, so a status already there is not added again.
        latest = (
            None
            if created
            else call("read the deployment's status", lambda: deployments.latest_status(deployment))
        )
        if latest is None and props.get("in_progress", True):
            latest = call(
                f"mark deployment {deployment.id} in_progress",
                lambda: deployments.set_status(
                    deployment,
                    "in_progress",
                    log_url=props.get("log_url") or None,
                    description=f"{props['release']} merged into {environment}",
                    latest=None,
                ),
            )
        outs = {
            **props,
            "deployment_id": deployment.id,
            "url": deployment.url,
            "state": latest.get("state") if latest else None,
            # `state` is the forge's as of this run: a DeploymentStatus of the same run
            # (the same `run`) may trust it instead of reading it again.
            "state_run": props.get("run"),
        }
        return CreateResult(str(deployment.id), outs)


class Deployment(ForgeResource, module="github", name="Deployment"):
    """The deployment of `sha` to `environment` (task `task`), `in_progress` once created
    unless `in_progress` is false (its final status follows in the same run with nothing in
    between: a deployment without status shows as pending, and `in_progress` would be one
    more write for nobody to see).
    `run`: an id of this program run (`new_run`), which `state_run` repeats when the
    deployment was found or created, and its `state` read or written, in this run.
    `merge_run`: the Merge's `merged_run` when `sha` is its merge commit; equal to `run`
    when this run made that commit, which then has no deployment to look for."""

    deployment_id: pulumi.Output[int]
    url: pulumi.Output[str]
    state: pulumi.Output[str]
    state_run: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        environment: pulumi.Input[str],
        sha: pulumi.Input[str],
        release: pulumi.Input[str],
        task: str = deployments.PROMOTION_TASK,
        description: pulumi.Input[str] | None = None,
        payload: pulumi.Input[dict[str, Any]] | None = None,
        log_url: pulumi.Input[str] | None = None,
        run: str | None = None,
        in_progress: bool = True,
        merge_run: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "environment": environment,
            "sha": sha,
            "release": release,
            "task": task,
            "description": description,
            "payload": payload or {},
            "log_url": log_url,
            "run": run,
            "in_progress": in_progress,
            "merge_run": merge_run,
        }
        outputs = ("deployment_id", "url", "state", "state_run")
        super().__init__(DeploymentProvider(), name, props, outputs, opts)


class DeploymentStatusProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "deployment_id", "state")
    update_on = ("environment", "log_url", "description", "retire")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if news.get("state") not in deployments.STATES:
            failures.append(
                CheckFailure("state", f"must be one of {', '.join(deployments.STATES)}")
            )
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = self.repo(props)
        number, state = int(props["deployment_id"]), props["state"]
        deployment = deployments.known(repo, number)  # its id is all a status needs
        run = props.get("run")
        # The Deployment's state is known for sure when it was read or written in this same
        # run (nothing else writes this deployment's statuses in between); otherwise (a
        # re-run after a crash, say after this very status was added) it is read.
        fresh = bool(run) and props.get("deployment_run") == run
        latest: Any = deployments.UNREAD
        if fresh:
            known = props.get("deployment_state")
            latest = {"state": known} if known else None
        # Outside production GitHub's `auto_inactive` makes the earlier successful
        # deployments `inactive` with the `success` itself; the retire pass then only looks
        # at what it could not (release.deployments.retire_replaced).
        auto = state == "success" and not deployments.is_production(props["environment"])
        status, posted = call(
            f"mark deployment {number} {state}",
            lambda: deployments.add_status(
                deployment,
                state,
                log_url=props.get("log_url") or None,
                description=props.get("description"),
                auto_inactive=True if auto else None,
                latest=latest,
            ),
        )
        retired: list[int] = []
        if state == "success" and props.get("retire"):
            retired = call(
                f"retire the deployments {number} replaced",
                lambda: deployments.retire_replaced(
                    repo,
                    props["environment"],
                    number,
                    str(props["retire"]),
                    auto_inactive_done=auto and posted,
                ),
            )
        outs = {**props, "status_id": status.get("id"), "retired": retired}
        return CreateResult(f"{number}-{state}", outs)


class DeploymentStatus(ForgeResource, module="github", name="DeploymentStatus"):
    """The final status of a deployment, set once what it `depends_on` is done; with
    `retire`, a `success` marks the environment's earlier successful deployments
    `inactive` with that description. `deployment_state` and `deployment_run` are the
    Deployment's `state` and `state_run`, and `run` this program run's id: when the two runs
    agree, the deployment's latest status is not read again."""

    status_id: pulumi.Output[int]
    retired: pulumi.Output[list[int]]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        environment: pulumi.Input[str],
        deployment_id: pulumi.Input[int],
        state: str,
        log_url: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        retire: pulumi.Input[str] | None = None,
        deployment_state: pulumi.Input[str] | None = None,
        deployment_run: pulumi.Input[str] | None = None,
        run: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "environment": environment,
            "deployment_id": deployment_id,
            "state": state,
            "log_url": log_url,
            "description": description,
            "retire": retire,
            "deployment_state": deployment_state,
            "deployment_run": deployment_run,
            "run": run,
        }
        super().__init__(DeploymentStatusProvider(), name, props, ("status_id", "retired"), opts)
