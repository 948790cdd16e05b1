"""Guardrails under Pulumi mocks: which protections and environments are registered, with
which inputs and options. No GitHub here; the mocks stand in for the pulumi-github provider."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import rpc

from release.program.guardrails import Guardrails
from release.rules.guardrails import GuardrailsArgs, GuardrailsError
from tests.support.mocks import CapturingMonitor

TEAM_ID = 4242
USER_IDS = {"alice": 1001, "bob": 1002}


class Recorder(pulumi.runtime.Mocks):
    """Records every resource and invoke; answers team/user look-ups with fixed ids."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(args)
        if args.token == "github:index/getTeam:getTeam":
            return {"id": str(TEAM_ID), "slug": args.args["slug"], "nodeId": "T_x"}
        if args.token == "github:index/getUser:getUser":
            return {"id": str(USER_IDS[args.args["username"]]), "login": args.args["username"]}
        raise AssertionError(f"unexpected invoke {args.token}")


def run(args: GuardrailsArgs) -> tuple[Recorder, CapturingMonitor]:
    mocks = Recorder()
    monitor = CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="release-train", stack="production", monitor=monitor)

    @pulumi.runtime.test
    def program():
        Guardrails("guardrails", args)

    program()
    return mocks, monitor


def of_type(mocks: Recorder, typ: str) -> dict[str, dict]:
    return {r.name: r.inputs for r in mocks.resources if r.typ == typ}


PROTECTION = "github:index/branchProtection:BranchProtection"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"


def default_args(**overrides) -> GuardrailsArgs:
    values = dict(
        repository="acme/service",
        environment_branches=["staging", "production"],
        required_checks=["ci/build", "ci/test"],
        reviewer_team="oncall",
        required_approvals=2,
    )
    values.update(overrides)
    return GuardrailsArgs(**values)


def test_one_protection_per_environment_branch_and_one_for_release_branches():
    mocks, _ = run(default_args())
    protections = of_type(mocks, PROTECTION)
    patterns = sorted(inputs["pattern"] for inputs in protections.values())
    assert patterns == ["production", "release/*", "staging"]
    assert set(protections) == {
        "guardrails-protect-staging",
        "guardrails-protect-production",
        "guardrails-protect-release-all",
    }
    assert all(inputs["repositoryId"] == "service" for inputs in protections.values())


def test_no_protected_branch_allows_force_push_or_deletion_even_for_admins():
    mocks, _ = run(default_args())
    protections = of_type(mocks, PROTECTION)
    assert len(protections) == 3
    for name, inputs in protections.items():
        assert inputs["allowsForcePushes"] is False, name
        assert inputs["allowsDeletions"] is False, name
        assert inputs["enforceAdmins"] is True, name
        assert not inputs.get("forcePushBypassers"), name


def test_environment_branches_require_reviews_and_strict_checks():
    mocks, _ = run(default_args())
    protections = of_type(mocks, PROTECTION)
    for branch in ("staging", "production"):
        inputs = protections[f"guardrails-protect-{branch}"]
        [reviews] = inputs["requiredPullRequestReviews"]
        assert reviews["requiredApprovingReviewCount"] == 2
        assert reviews["dismissStaleReviews"] is True
        assert reviews["dismissalRestrictions"] == ["acme/oncall"]
        assert not reviews.get("pullRequestBypassers")
        [checks] = inputs["requiredStatusChecks"]
        assert checks == {"strict": True, "contexts": ["ci/build", "ci/test"]}
    release = protections["guardrails-protect-release-all"]
    assert "requiredPullRequestReviews" not in release
    assert "requiredStatusChecks" not in release


def test_environments_get_the_oncall_team_and_users_as_reviewers():
    mocks, _ = run(default_args(reviewer_users=["alice", "bob"]))
    environments = of_type(mocks, ENVIRONMENT)
    assert sorted(e["environment"] for e in environments.values()) == ["production", "staging"]
    for inputs in environments.values():
        assert inputs["repository"] == "service"
        assert inputs["reviewers"] == [{"teams": [TEAM_ID], "users": [1001, 1002]}]
        assert inputs["preventSelfReview"] is True
        assert inputs["canAdminsBypass"] is False
    looked_up = [(c.token.split(":")[-1], dict(c.args)) for c in mocks.calls]
    assert ("getTeam", {"slug": "oncall", "summaryOnly": True}) in looked_up
    assert ("getUser", {"username": "alice"}) in looked_up


def test_users_only_sets_no_dismissal_restriction():
    mocks, _ = run(default_args(reviewer_team=None, reviewer_users=["alice"], required_approvals=1))
    protections = of_type(mocks, PROTECTION)
    [reviews] = protections["guardrails-protect-production"]["requiredPullRequestReviews"]
    assert "dismissalRestrictions" not in reviews
    environments = of_type(mocks, ENVIRONMENT)
    assert environments["guardrails-environment-staging"]["reviewers"] == [{"users": [1001]}]
    assert not any(c.token.endswith("getTeam") for c in mocks.calls)


def test_children_are_retained_on_delete_and_use_one_github_provider_for_the_owner():
    mocks, monitor = run(default_args())
    [provider] = [r for r in mocks.resources if r.typ == "pulumi:providers:github"]
    assert provider.inputs["owner"] == "acme"
    children = [r for r in mocks.resources if r.typ in (PROTECTION, ENVIRONMENT)]
    assert len(children) == 5
    for resource in children:
        request = monitor.registered[resource.name].request
        assert request.retainOnDelete is True, resource.name
        assert request.provider.startswith(
            "urn:pulumi:production::release-train::release-train:index:Guardrails$"
            "pulumi:providers:github::guardrails-github::"
        ), resource.name
        assert request.parent.endswith("release-train:index:Guardrails::guardrails")


def test_token_reaches_the_provider_only_as_a_secret():
    mocks, monitor = run(default_args(token="ghp_not_a_real_token"))
    # On the wire the token is wrapped in the engine's secret envelope, so the engine stores
    # it encrypted; the mock provider sees the unwrapped value.
    token = monitor.registered["guardrails-github"].request.object["token"]
    assert token[rpc._special_sig_key] == rpc._special_secret_sig
    assert token["value"] == "ghp_not_a_real_token"
    for resource in mocks.resources:
        if resource.typ != "pulumi:providers:github":
            assert "ghp_not_a_real_token" not in str(resource.inputs), resource.name


def test_given_provider_is_used_and_no_other_is_made():
    mocks = Recorder()
    monitor = CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="release-train", stack="staging", monitor=monitor)

    @pulumi.runtime.test
    def program():
        provider = pulumi.ProviderResource("github", "lead-provider", {"owner": "acme"})
        Guardrails("guardrails", default_args(provider=provider))

    program()
    providers = [r.name for r in mocks.resources if r.typ == "pulumi:providers:github"]
    assert providers == ["lead-provider"]
    assert "lead-provider" in monitor.registered["guardrails-protect-staging"].request.provider


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"repository": "service"}, "repository"),
        ({"repository": "acme/"}, "repository"),
        ({"environment_branches": []}, "environment_branches"),
        ({"environment_branches": ["staging", "staging"]}, "environment_branches"),
        ({"environment_branches": ["release/*"]}, "environment_branches"),
        ({"required_approvals": 7}, "required_approvals"),
        ({"required_approvals": -1}, "required_approvals"),
        ({"required_approvals": True}, "required_approvals"),
        ({"reviewer_team": None, "reviewer_users": []}, "reviewer_team/reviewer_users"),
        ({"reviewer_team": "acme/oncall"}, "reviewer_team"),
        ({"reviewer_users": ["@alice"]}, "reviewer_users"),
        ({"reviewer_users": [f"user{i}" for i in range(6)]}, "reviewer_team/reviewer_users"),
        ({"required_checks": ["ci", ""]}, "required_checks"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(overrides, key):
    with pytest.raises(GuardrailsError) as error:
        default_args(**overrides)
    assert str(error.value).startswith(f"{key}: ")


def test_no_approvals_needs_no_reviewer():
    args = default_args(reviewer_team=None, required_approvals=0)
    mocks, _ = run(args)
    environments = of_type(mocks, ENVIRONMENT)
    assert all("reviewers" not in e for e in environments.values())
