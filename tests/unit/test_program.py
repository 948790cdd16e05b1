"""The resource graph each stack config produces, under Pulumi mocks (no forge, no engine)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pulumi
import pytest
import yaml

from release.program.entry import PROMOTION_OUTPUTS
from release.program.planning import PlannedRollback, PromotionPlan, plan_approvers
from release.program.registration import register_promotion, register_rollback
from release.rules.config import parse_settings
from release.rules.payload import Payload, PayloadCommit, PinChange, described_head
from release.rules.rotation import approvers, parse_rotation
from tests.support.mocks import EchoMocks, install

ROOT = Path(__file__).resolve().parents[2]
CUT = "1" * 40
PREVIOUS_HEAD = "2" * 40
ENV_HEAD = "3" * 40
SECRET_TOKEN = "tok-never-in-inputs-0123456789"

OUTS = {
    "pulumi-python:dynamic/git:ReleaseBranch": {"head": CUT, "created": True},
    "pulumi-python:dynamic/git:OursMerge": {"merge_sha": "4" * 40},
    "pulumi-python:dynamic/github:PullRequest": {
        "number": 7,
        "url": "http://forge/acme/service/pull/7",
        "state": "open",
        "pr_head_sha": "4" * 40,
    },
    "pulumi-python:dynamic/github:Merge": {
        "merged": True,
        "merge_commit": "5" * 40,
        "merged_by": "release-bot",
    },
    "pulumi-python:dynamic/github:Deployment": {
        "deployment_id": 4242,
        "url": "http://forge/api/v3/repos/acme/service/deployments/4242",
        "state": "in_progress",
    },
}


def stack_settings(stack: str):
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return parse_settings(stack, {k.split(":", 1)[1]: v for k, v in raw.items()})


def plan(environment: str, needs_ours_merge: bool) -> PromotionPlan:
    return PromotionPlan(
        release="release/2026-11-26",
        commit=CUT,
        environment=environment,
        env_head=ENV_HEAD,
        previous="release/2026-11-19" if needs_ours_merge else None,
        previous_head=PREVIOUS_HEAD if needs_ours_merge else None,
        needs_ours_merge=needs_ours_merge,
        already_contained=False,
        payload=Payload(
            previous="release/2026-11-19",
            release="release/2026-11-26",
            base_sha=PREVIOUS_HEAD,
            head_sha=CUT,
            commits=(PayloadCommit("a" * 40, "Fix the login page", "dana", 41),),
            pins=(PinChange("sdk", "v3.1.0", "v3.2.0"),),
        ),
    )


def run_promotion(stack: str, needs_ours_merge: bool, preview: bool = False):
    monitor = install(EchoMocks(OUTS), stack, preview=preview)
    result: dict = {}

    @pulumi.runtime.test
    def program():
        outputs = register_promotion(
            stack_settings(stack), plan(stack, needs_ours_merge), {"stack": "x"}
        )
        result.update(outputs)
        return pulumi.Output.all(
            outputs["prNumber"], outputs["releaseHead"], outputs["state"]
        ).apply(lambda values: result.update(resolved=values))

    program()
    return monitor, result


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_promotion_registers_branch_pr_and_merge_in_order(stack):
    monitor, _ = run_promotion(stack, needs_ours_merge=False)
    assert monitor.order == ["release-branch", "pull-request", "train-record", "merge"]
    branch = monitor.registered["release-branch"].inputs
    assert branch["branch"] == "release/2026-11-26"
    assert branch["commit"] == CUT
    assert branch["listed"] is False  # this plan did not list the branches: looked for
    pull = monitor.registered["pull-request"]
    assert pull.inputs["base"] == stack
    assert pull.inputs["head"] == "release/2026-11-26"
    assert pull.inputs["reviewers"] == ["oncall-partner"]
    assert "Fix the login page" in pull.inputs["body"] and "(#41)" in pull.inputs["body"]
    merge = monitor.registered["merge"]
    assert merge.inputs["merge_method"] == "merge"
    assert merge.inputs["required_checks"] == ["ci/travis", "test"]
    assert merge.inputs["required_approvals"] == 1
    # The merge waits for the stack's record, which waits for the pull request, which
    # waits for the branch's commit.
    record = monitor.registered["train-record"]
    assert record.urn in merge.dependencies
    assert pull.urn in record.dependencies
    assert monitor.registered["release-branch"].urn in record.dependencies
    assert monitor.registered["release-branch"].urn in pull.dependencies


def test_the_rotations_partner_is_asked_and_required_by_the_merge():
    settings = dataclasses.replace(
        stack_settings("production"),
        rollout=dataclasses.replace(
            stack_settings("production").rollout,
            oncall=parse_rotation({"start": "2026-11-23", "people": ["dana", "erin", "fay"]}),
        ),
    )
    gate = plan_approvers(settings, dt.date(2026, 12, 1))  # week 1: erin primary, fay secondary
    assert gate.must_approve == ("fay",) and gate.reviewers == ("fay", "oncall-partner")
    assert plan_approvers(settings, dt.date(2026, 11, 26)).must_approve == ("erin",)
    monitor = install(EchoMocks(OUTS), "production")

    @pulumi.runtime.test
    def program():
        planned = dataclasses.replace(plan("production", False), approvers=gate)
        return pulumi.Output.from_input(
            register_promotion(settings, planned, {"stack": "x"})["prNumber"]
        )

    program()
    pull = monitor.registered["pull-request"].inputs
    merge = monitor.registered["merge"].inputs
    assert pull["reviewers"] == ["fay", "oncall-partner"]
    assert merge["must_approve"] == ["fay"] and merge["reviewers"] == ["fay", "oncall-partner"]
    assert (
        "approval: oncall partner fay (secondary, week of 2026-11-30)"
        in dataclasses.replace(plan("production", False), approvers=gate).describe()
    )


def test_ours_merge_sits_between_branch_and_pull_request():
    monitor, result = run_promotion("staging", needs_ours_merge=True)
    assert monitor.order == [
        "release-branch",
        "ours-merge",
        "pull-request",
        "train-record",
        "merge",
    ]
    ours = monitor.registered["ours-merge"]
    assert ours.inputs["previous"] == "release/2026-11-19"
    assert ours.inputs["previous_head"] == PREVIOUS_HEAD
    assert monitor.registered["release-branch"].urn in ours.dependencies
    assert ours.urn in monitor.registered["pull-request"].dependencies
    # The PR and the merge are pinned to the ours-merge commit, not to the cut.
    number, head, state = result["resolved"]
    assert (number, head, state) == (7, "4" * 40, "merged")
    # The body and the payload kept with the PR describe that head from the first run
    # (the merging run has nothing to edit), with the cut's commits and pins.
    pull = monitor.registered["pull-request"].inputs
    assert described_head(pull["body"]) == "4" * 40
    assert pull["payload"]["head_sha"] == "4" * 40
    assert [c["sha"] for c in pull["payload"]["commits"]] == ["a" * 40]
    # The ours-merge gets the release branch's head as that resource left it
    assert ours.inputs["branch_head"] == CUT


def test_no_ours_merge_head_is_the_cut():
    monitor, result = run_promotion("staging", needs_ours_merge=False)
    assert result["resolved"][1] == CUT
    assert described_head(monitor.registered["pull-request"].inputs["body"]) == CUT


@pytest.mark.parametrize("needs_ours_merge", [False, True])
def test_forge_objects_are_retained_never_protected(needs_ours_merge):
    monitor, _ = run_promotion("staging", needs_ours_merge)
    for name, registered in monitor.registered.items():
        if name == "train-record":
            continue  # not a forge object: the stack's record of intent
        assert registered.retain_on_delete, f"{name} would be deleted when it leaves the stack"
        assert not registered.protect, f"{name} is protected: next week's up would fail"


def test_no_token_among_plain_inputs(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", SECRET_TOKEN)
    monitor, _ = run_promotion("staging", needs_ours_merge=True)
    for registered in monitor.registered.values():
        plain = {k: v for k, v in registered.inputs.items() if k != "__provider"}
        assert SECRET_TOKEN not in repr(plain)
        assert "token" not in plain


def test_serialized_provider_carries_no_token(monkeypatch):
    from release import forge

    monkeypatch.setenv("GITHUB_TOKEN", SECRET_TOKEN)
    forge.set_token(SECRET_TOKEN)
    try:
        monitor, _ = run_promotion("staging", needs_ours_merge=True)
    finally:
        forge.set_token(None)
    import base64

    for registered in monitor.registered.values():
        provider = registered.inputs["__provider"]
        text = provider.get("value", provider) if isinstance(provider, dict) else provider
        assert SECRET_TOKEN.encode() not in base64.b64decode(text)


def test_exports_every_promotion_output():
    _, result = run_promotion("production", needs_ours_merge=False)
    assert set(PROMOTION_OUTPUTS) - {"rollout"} <= set(
        result
    )  # rollout: release/program/rollout.py
    assert result["releaseBranch"] == "release/2026-11-26"
    assert result["environment"] == "production"
    assert result["payloadSummary"]["prs"] == [41]
    assert "payload" not in result  # the whole payload is the pull request's, not an output


def test_preview_registers_the_same_graph():
    monitor, _ = run_promotion("staging", needs_ours_merge=True, preview=True)
    assert monitor.order == [
        "release-branch",
        "ours-merge",
        "pull-request",
        "train-record",
        "merge",
    ]


@pytest.mark.parametrize(("approvals", "required"), [(1, ["fay"]), (0, [])])
def test_a_rollback_needing_approvals_needs_the_partners(approvals, required):
    settings = stack_settings("production")
    gate = approvers(
        parse_rotation({"start": "2026-11-23", "people": ["dana", "erin", "fay"]}),
        settings.reviewers,
        settings.required_approvals,
        "production",
        dt.date(2026, 12, 1),
    )
    planned = PlannedRollback("release/2026-11-19", "5" * 40, ENV_HEAD, "rollback/x", approvals)
    monitor = install(EchoMocks(OUTS), "production")

    @pulumi.runtime.test
    def program():
        exports, _steps, register_merge = register_rollback(
            settings, "release/2026-11-26", planned, gate
        )
        register_merge(pulumi.ResourceOptions())
        return pulumi.Output.from_input(exports["rollback"]["to"])

    program()
    merge = monitor.registered["rollback-merge"].inputs
    assert merge["must_approve"] == required and merge["required_approvals"] == approvals
    assert monitor.registered["rollback-pull-request"].inputs["reviewers"] == [
        "fay",
        "oncall-partner",
    ]


def test_the_record_of_intent_is_registered_as_given():
    from release.rules.intent import EMPTY, apply_ops

    record = apply_ops(EMPTY, [{"op": "pick", "sha": "9" * 40, "by": "ana"}])
    monitor = install(EchoMocks(OUTS), "staging")

    @pulumi.runtime.test
    def program():
        register_promotion(stack_settings("staging"), plan("staging", False), {}, record)

    program()
    assert monitor.registered["train-record"].inputs["record"] == record.to_dict()


@pytest.mark.parametrize("listed_head", [None, CUT])
def test_the_release_branch_takes_what_the_plan_listed(listed_head):
    import dataclasses

    monitor = install(EchoMocks(OUTS), "staging")
    planned = dataclasses.replace(plan("staging", False), listed=True, release_head=listed_head)

    @pulumi.runtime.test
    def program():
        return pulumi.Output.from_input(
            register_promotion(stack_settings("staging"), planned, {"stack": "x"})["prNumber"]
        )

    program()
    branch = monitor.registered["release-branch"].inputs
    assert branch["listed"] is True and branch.get("listed_head") == listed_head
