"""What follows production's merge, under Pulumi mocks: the smoke test, the PPC waves, the
guardrails; and the validation of the keys around the train (no forge, no engine)."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
import yaml

from release.program.registration import register_release
from release.program.rollout import register_rollout
from release.providers.ppc_wave import executor_from, ppc_entries, wave_jobs
from release.rules.config import (
    ROLLOUT_KEYS,
    ConfigError,
    parse_rollout,
    parse_settings,
    read_pulumi_config,
)
from release.rules.ppcs import render_command
from tests.support.mocks import EchoMocks, install
from tests.unit.test_program import OUTS, plan

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK = "https://hooks.example.invalid/services/T000/B000/never-shown-0123456789"
COMMAND = "command:local:Command"
WAVE = "pulumi-python:dynamic/release:PpcWave"


def stack_raw(stack: str) -> dict:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in raw.items()}


ROTATION = {"start": "2026-11-23", "people": ["dana", "oncall-partner", "erin"]}


def settings_of(stack: str, **changes):
    raw = {**stack_raw(stack), **changes}
    return parse_settings(stack, raw), raw


class RolloutMocks(EchoMocks):
    """Echo mocks that also answer pulumi-github's team and user look-ups."""

    def __init__(self) -> None:
        super().__init__({**OUTS, COMMAND: {"stdout": "ok", "stderr": ""}})
        self.invokes: list[str] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.invokes.append(args.token)
        if args.token == "github:index/getTeam:getTeam":
            return {"id": "4242", "slug": args.args.get("slug")}
        if args.token == "github:index/getUser:getUser":
            return {"id": "77", "username": args.args.get("username")}
        raise AssertionError(f"unexpected invoke {args.token}")


class FakeConfig:
    """Stands for pulumi.Config: get() returns the stack file's raw values."""

    def __init__(self, raw: dict) -> None:
        self.raw = raw

    def get(self, key: str):
        value = self.raw.get(key)
        if isinstance(value, list | dict):
            import json

            return json.dumps(value)
        return None if value is None else str(value).lower() if isinstance(value, bool) else value

    def get_secret(self, key: str):
        value = self.get(key)
        return None if value is None else pulumi.Output.secret(value)


def run(stack: str, raw_changes: dict | None = None, mocks: RolloutMocks | None = None):
    """register_release (the promotion, then the rollout) for `stack`; returns (monitor,
    outputs)."""
    mocks = mocks or RolloutMocks()
    monitor = install(mocks, stack)
    settings, raw = settings_of(stack, **(raw_changes or {}))
    result: dict = {}

    @pulumi.runtime.test
    def program():
        outputs = register_release(settings, plan(stack, False), {"stack": "x"}, "a-token")
        result.update(outputs)
        return pulumi.Output.from_input(outputs["rollout"]).apply(
            lambda value: result.update(resolved=value)
        )

    program()
    return monitor, result


def urn_of(monitor, name: str) -> str:
    return monitor.registered[name].urn


def test_production_registers_smoke_test_then_waves_after_the_merge():
    monitor, result = run("production")
    reg = monitor.registered
    merge = urn_of(monitor, "merge")
    # The smoke test waits for the merge (through its merge commit), once per release.
    verify = reg["verify"]
    assert verify.type == COMMAND
    assert merge in verify.dependencies
    assert verify.inputs["environment"]["RELEASE_TRAIN_MERGE_COMMIT"] == "5" * 40
    assert verify.inputs["environment"]["RELEASE_TRAIN_RELEASE"] == "release/2026-11-26"
    assert verify.inputs["triggers"] == [OUTS["pulumi-python:dynamic/git:ReleaseBranch"]["head"]]
    # One resource per wave: wave 1 after the smoke test and the merge, wave N+1 after wave N.
    assert reg["ppc-rollout"].type == "release-train:index:PpcRollout"
    waves = [reg[f"ppc-wave-{n}"] for n in (1, 2, 3)]
    assert all(w.type == WAVE and w.parent == reg["ppc-rollout"].urn for w in waves)
    assert {urn_of(monitor, "verify"), merge} <= set(waves[0].dependencies)
    assert waves[0].urn in waves[1].dependencies and waves[1].urn in waves[2].dependencies
    assert waves[0].urn not in waves[2].dependencies  # through wave 2 only
    assert [[p["name"] for p in ppc_entries(w.inputs)] for w in waves] == [
        ["acme-internal"],
        ["globex", "initech"],
        ["hooli", "soylent", "umbrella"],
    ]
    assert not [n for n in reg if n.startswith("ppc-") and reg[n].type == COMMAND]
    # Registered after the merge, in wave order; no guardrails in the sandbox example.
    order = monitor.order
    assert order.index("merge") < order.index("verify") < order.index("ppc-wave-1")
    assert order.index("ppc-wave-1") < order.index("ppc-wave-2") < order.index("ppc-wave-3")
    assert not [r for r in reg.values() if r.type.startswith("github:")]
    assert "guardrails" not in reg
    # The promotion is a GitHub Deployment of production at the merge commit, finished
    # (`success`) only after the smoke test and the last wave (which waits for the others).
    deployment = reg["deployment"]
    assert deployment.inputs["sha"] == "5" * 40 and merge in deployment.dependencies
    assert deployment.inputs["environment"] == "production"
    assert deployment.inputs["release"] == "release/2026-11-26"
    assert deployment.inputs["log_url"] == "http://forge/acme/service/pull/7"
    assert deployment.inputs["in_progress"] is True  # PPC waves run before its success
    done = reg["deployment-done"]
    assert done.inputs["state"] == "success" and done.inputs["deployment_id"] == 4242
    assert done.inputs["retire"] == "replaced by release/2026-11-26"
    assert {urn_of(monitor, "verify"), urn_of(monitor, "ppc-wave-3")} <= set(done.dependencies)
    # each wave also makes its PPCs' GitHub Deployments (ppc/<name>), on the stack's forge
    for number in (1, 2, 3):
        assert reg[f"ppc-wave-{number}"].inputs["deployments"] == {
            "api_url": deployment.inputs["api_url"],
            "repository": "acme/service",
        }
    assert result["resolved"]["deployment"]["environment"] == "production"


class MergedHereMocks(RolloutMocks):
    """The Merge answers as when its PUT made the merge commit: `merged_run` is its `run`."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        name, state = super().new_resource(args)
        if args.typ == "pulumi-python:dynamic/github:Merge":
            state["merged_run"] = args.inputs.get("run")
        return name, state


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_deployment_knows_whether_this_run_made_the_merge_commit(stack):
    monitor, result = run(stack, mocks=MergedHereMocks())
    merge, deployment = monitor.registered["merge"], monitor.registered["deployment"]
    done = monitor.registered["deployment-done"]
    run_id = merge.inputs["run"]
    assert run_id and deployment.inputs["run"] == run_id == done.inputs["run"]
    assert deployment.inputs["merge_run"] == run_id  # the Merge's `merged_run`
    assert "mergeRun" not in result  # not a stack output


def test_a_merge_read_rather_than_made_leaves_the_deployment_looking():
    monitor, _ = run("staging")  # the echoed Merge has no `merged_run`
    deployment = monitor.registered["deployment"]
    assert deployment.inputs["run"] and not deployment.inputs.get("merge_run")


def test_each_ppc_job_gets_release_commit_pins_and_state_folder():
    monitor, result = run("production")
    wave = monitor.registered["ppc-wave-2"]
    head = OUTS["pulumi-python:dynamic/git:ReleaseBranch"]["head"]
    assert wave.inputs["executor"] == {
        "kind": "command",
        "command": "python -m release.ppc_deploy --state {state} --ppc {ppc} "
        "--release {release} --commit {commit}",
        "state": ".state/ppcs",
    }
    assert wave.inputs["commit"] == head and wave.inputs["release"] == "release/2026-11-26"
    assert wave.inputs["pins"] == {"sdk": "v3.2.0"}
    assert wave.inputs["environment"] == {"RELEASE_TRAIN_ENVIRONMENT": "production"}
    # What the provider runs for globex, from those inputs (the rules' environment).
    (job,) = [j for j in wave_jobs(wave.inputs) if j.ppc == "globex"]
    env = job.environment
    assert env["REGION"] == "eu-west-1" and env["RELEASE_TRAIN_WAVE"] == "2"
    assert env["RELEASE_TRAIN_COMMIT"] == head and env["PIN_SDK"] == "v3.2.0"
    assert env["RELEASE_TRAIN_ENVIRONMENT"] == "production"
    executor = executor_from(wave.inputs["executor"])
    assert render_command(
        executor.command, job.ppc, job.release, job.commit, job.wave, executor.state
    ) == (
        "python -m release.ppc_deploy --state .state/ppcs --ppc globex "
        f"--release release/2026-11-26 --commit {head}"
    )
    assert result["resolved"]["ppcs"]["waves"] == [
        ["acme-internal"],
        ["globex", "initech"],
        ["hooli", "soylent", "umbrella"],
    ]


def test_with_ppc_executor_actions_each_wave_runs_on_github_actions():
    monitor, _ = run(
        "production",
        {"ppcExecutor": "actions", "ppcWorkflow": "ppc-update.yml", "ppcCommand": None},
    )
    wave = monitor.registered["ppc-wave-1"]
    settings, _ = settings_of("production")
    assert wave.inputs["executor"] == {
        "kind": "actions",
        "api_url": settings.api_url,
        "repository": settings.repository,
        "workflow": "ppc-update.yml",
        "ref": "",
        "timeout": 3600,
    }
    assert sorted(k for k in monitor.registered if k.startswith("ppc-wave-")) == [
        "ppc-wave-1",
        "ppc-wave-2",
        "ppc-wave-3",
    ]


def test_staging_without_ppcs_registers_only_its_deployment_after_the_merge():
    monitor, result = run("staging")
    order = monitor.order
    assert order[order.index("merge") + 1 :] == ["deployment", "deployment-done"]
    assert monitor.registered["deployment"].inputs["environment"] == "staging"
    # its success follows at once: no `in_progress` write before it
    assert monitor.registered["deployment"].inputs["in_progress"] is False
    done = monitor.registered["deployment-done"]
    # nothing else to wait for: the deployment and the pull request (its URL)
    assert set(done.dependencies) == {
        urn_of(monitor, "deployment"),
        urn_of(monitor, "pull-request"),
    }
    assert result["resolved"] == {
        "deployment": {"id": 4242, "environment": "staging", "state": "success"}
    }


def test_without_verify_command_wave_one_still_waits_for_the_merge():
    monitor, _ = run("production", {"verifyCommand": ""})
    assert "verify" not in monitor.registered
    first = monitor.registered["ppc-wave-1"]
    assert urn_of(monitor, "merge") in first.dependencies


def test_guardrails_only_with_manage_protection():
    mocks = RolloutMocks()
    monitor, result = run("production", {"manageProtection": True, "reviewerTeam": "oncall"}, mocks)
    reg = monitor.registered
    protections = {
        r.inputs["pattern"]: r
        for r in reg.values()
        if r.type == "github:index/branchProtection:BranchProtection"
    }
    assert set(protections) == {"staging", "production", "release/*"}
    assert all(p.retain_on_delete for p in protections.values())
    production = protections["production"]
    assert production.inputs["allowsForcePushes"] is False
    assert production.inputs["allowsDeletions"] is False
    assert production.inputs["requiredStatusChecks"][0]["contexts"] == ["ci/travis", "test"]
    environments = [r for r in reg.values() if r.type.endswith("RepositoryEnvironment")]
    assert sorted(e.inputs["environment"] for e in environments) == ["production", "staging"]
    assert "github:index/getTeam:getTeam" in mocks.invokes
    assert result["resolved"]["guardrails"] == ["staging", "production", "release/*"]
    # Off (the sandbox default): none of it.
    monitor, _ = run("production")
    assert not [r for r in monitor.registered.values() if r.type.startswith("github:")]


def test_bad_rollout_config_stops_before_any_resource():
    # The keys around the train are parsed with the rest of the stack's config, which the
    # program does first: a bad one never reaches a registration.
    with pytest.raises(ConfigError, match="release-train:ppcs"):
        settings_of("production", ppcs=[{"name": "Bad Name", "wave": 1}])


def test_register_rollout_with_nothing_configured_adds_only_the_deployment():
    install(RolloutMocks(), "production")
    settings, _ = settings_of("production")
    rollout = parse_rollout(settings, {})

    @pulumi.runtime.test
    def program():
        added = register_rollout(
            settings,
            rollout,
            "release/2026-11-26",
            {},
            {"releaseHead": "1" * 40, "mergeCommit": "2" * 40},
        )
        assert list(added) == ["deployment"]

    program()


# --- validation --------------------------------------------------------------------------------


def parsed(stack: str = "production", **changes):
    settings, raw = settings_of(stack, **changes)
    assert parse_rollout(settings, {k: v for k, v in raw.items() if k in ROLLOUT_KEYS}) == (
        settings.rollout
    )
    return settings.rollout


def test_the_production_example_is_valid():
    rollout = parsed()
    assert [p.name for p in rollout.ppcs][:2] == ["acme-internal", "globex"]
    assert rollout.wave_of("umbrella") == 3 and rollout.wave_of("nobody") is None
    assert rollout.cadence.min_soak_days == 4
    assert rollout.oncall and rollout.oncall.people == ("dana", "oncall-partner")
    assert not rollout.oncall.gates  # the examples pin `reviewers`
    assert rollout.freezes == () and rollout.manage_protection is False
    assert rollout.ppc_state_dir == ".state/ppcs" and rollout.has_webhook is False


def test_the_ppc_executor_is_the_command_unless_actions_is_chosen():
    api, repo = "https://api.github.com", "acme/service"
    assert parsed().actions_spec(api, repo) is None
    actions = parsed(ppcExecutor="actions", ppcWorkflow="ppc-update.yml", ppcTimeout="900")
    assert actions.actions_spec(api, repo) == {
        "kind": "actions",
        "api_url": api,
        "repository": repo,
        "workflow": "ppc-update.yml",
        "ref": "",
        "timeout": 900,
    }
    pinned = parsed(ppcExecutor="actions", ppcWorkflow="1234", ppcWorkflowRef="deploy/ppc")
    assert pinned.actions_spec(api, repo)["ref"] == "deploy/ppc"
    assert pinned.actions_spec(api, repo)["workflow"] == "1234" and pinned.ppc_timeout == 3600
    # The command is not needed when Actions updates the PPCs.
    assert parsed(ppcExecutor="actions", ppcWorkflow="x.yml", ppcCommand="").ppc_command is None


def test_structured_values_arrive_as_json_text_from_the_engine():
    settings, raw = settings_of("production")
    text = read_pulumi_config(FakeConfig(raw).get)  # what the program's entry reads
    assert isinstance(text["ppcs"], str) and isinstance(text["cadence"], str)
    assert parse_settings("production", text) == settings
    assert parse_rollout(settings, text) == parsed()


def test_a_gating_rotation_stands_in_for_the_reviewers_list():
    settings, _ = settings_of("staging", oncall=ROTATION, reviewers=[], requiredApprovals=1)
    assert settings.rollout.oncall and settings.rollout.oncall.gates
    settings, _ = settings_of("staging", oncall=ROTATION, reviewers=["lead"], requiredApprovals=2)
    assert settings.required_approvals == 2
    with pytest.raises(ConfigError, match="give an oncall rotation"):
        settings_of("staging", oncall={**ROTATION, "partnerApproves": False}, reviewers=[])


@pytest.mark.parametrize(
    ("changes", "key", "fragment"),
    [
        ({"ppcs": "acme"}, "ppcs", "give a list"),
        ({"ppcs": [{"name": "acme", "wave": 0}]}, "ppcs", "not a wave number"),
        ({"ppcs": [{"name": "a", "wave": 1}, {"name": "a", "wave": 2}]}, "ppcs", "duplicate"),
        ({"ppcCommand": ""}, "ppcCommand", "the stack lists ppcs"),
        ({"ppcCommand": "deploy {customer}"}, "ppcCommand", "unknown placeholder {customer}"),
        ({"ppcStateDir": "a\nb"}, "ppcStateDir", "give a folder path"),
        ({"ppcExecutor": "jenkins"}, "ppcExecutor", "give command"),
        ({"ppcExecutor": "actions"}, "ppcWorkflow", "ppcExecutor is actions: give the file"),
        (
            {"ppcExecutor": "actions", "ppcWorkflow": ".github/workflows/x.yml"},
            "ppcWorkflow",
            "file name under .github/workflows",
        ),
        (
            {"ppcExecutor": "actions", "ppcWorkflow": "x.yml", "ppcWorkflowRef": "a..b"},
            "ppcWorkflowRef",
            "valid git branch name",
        ),
        ({"ppcTimeout": 0}, "ppcTimeout", "whole number >= 1"),
        ({"ppcTimeout": "soon"}, "ppcTimeout", "whole number >= 1"),
        ({"cadence": {"stagingWeekday": "thursdays"}}, "cadence.stagingWeekday", "weekday"),
        ({"cadence": {"minSoakDays": -1}}, "cadence.minSoakDays", "whole number of days"),
        ({"cadence": {"soak": 4}}, "cadence.soak", "unknown setting"),
        ({"cadence": "weekly"}, "cadence", "give a mapping"),
        ({"oncall": {"primary": "dana"}}, "oncall.secondary", "name who holds this role"),
        ({"oncall": {"start": "2026-11-23", "people": []}}, "oncall.people", "at least two"),
        ({"oncall": {**ROTATION, "handoff": "funday"}}, "oncall.handoff", "weekday name"),
        ({"oncall": {**ROTATION, "handoff": "wednesday"}}, "oncall.handoff", "hand off on one"),
        ({"oncall": {**ROTATION, "start": "23/11/2026"}}, "oncall.start", "YYYY-MM-DD"),
        (
            {"oncall": {**ROTATION, "swaps": [{"week": "2026-12-01", "swap": ["dana", "zoe"]}]}},
            "oncall.swaps[0].swap[1]",
            "not in the rotation",
        ),
        ({"oncall": {**ROTATION, "people": ["dana", "Dana"]}}, "oncall.people[1]", "once"),
        ({"oncall": {**ROTATION, "reviewers": ["x"]}}, "oncall.reviewers", "unknown setting"),
        ({"oncall": ["dana", "bob"]}, "oncall", "give a mapping"),
        (
            {"oncall": ROTATION, "reviewers": ["lead"], "requiredApprovals": 3},
            "requiredApprovals",
            "oncall partner included",
        ),
        ({"freezes": [{"date": "2026-12-24"}]}, "freezes[0].reason", "say why"),
        ({"freezes": [{"date": "24.12.2026", "reason": "x"}]}, "freezes[0].date", "YYYY-MM-DD"),
        ({"freezes": {"date": "2026-12-24"}}, "freezes", "give a list"),
        ({"manageProtection": "yes"}, "manageProtection", "true or false"),
        ({"reviewerTeam": "acme/oncall"}, "reviewerTeam", "slug"),
        (
            {"manageProtection": True, "reviewers": [f"user{i}" for i in range(7)]},
            "manageProtection",
            "at most 6",
        ),
    ],
)
def test_bad_values_name_the_key_the_value_and_the_fix(changes, key, fragment):
    with pytest.raises(ConfigError) as err:
        parsed(**changes)
    assert err.value.key == key
    assert fragment in str(err.value)
    assert f"release-train:{key} = " in str(err.value)


def test_the_testing_stack_refuses_rollout_keys():
    settings, _ = settings_of("testing")
    for key, value in (
        ("ppcs", [{"name": "acme", "wave": 1}]),
        ("verifyCommand", "true"),
        ("manageProtection", True),
    ):
        raw = {key: value, "ppcCommand": "echo {ppc}"} if key == "ppcs" else {key: value}
        with pytest.raises(ConfigError, match="promotion stack"):
            parse_rollout(settings, raw)


def test_a_bad_webhook_never_shows_its_url():
    settings, _ = settings_of("production")
    for value, secret, fragment in (
        (WEBHOOK, False, "plain text"),
        ("ftp://hooks.example.invalid/never-shown-0123456789", True, "http(s) URL"),
        ({"plain": "never-shown-0123456789"}, None, "--secret"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_rollout(settings, {"notifyWebhook": value}, secret)
        assert fragment in str(err.value)
        assert "never-shown" not in str(err.value) and "never-shown" not in repr(err.value)
    assert parse_rollout(settings, {"notifyWebhook": WEBHOOK}, True).has_webhook
    assert parse_rollout(settings, {"notifyWebhook": {"secure": "v1:abc"}}).has_webhook
    assert not parse_rollout(settings, {"notifyWebhook": ""}).has_webhook


def test_nothing_after_a_merge_that_waits_at_its_gate_is_registered():
    reasons = ["needs 1 more approval(s) of 333333333333 from oncall-partner"]
    mocks = RolloutMocks()
    mocks.extra["pulumi-python:dynamic/github:Merge"] = {
        "merged": False,
        "merge_commit": None,
        "merged_by": None,
        "gate_state": "waiting",
        "waiting": reasons,
    }
    monitor, result = run("production", mocks=mocks)
    assert "merge" in monitor.registered
    assert not [n for n in monitor.registered if n == "verify" or n.startswith("ppc-")]
    assert result["resolved"] == {}  # no smoke test, no PPC waves in the outputs

    @pulumi.runtime.test
    def check():
        return pulumi.Output.all(result["gate"], result["state"]).apply(
            lambda v: v == [{"state": "waiting", "reasons": reasons}, "open"] or pytest.fail(v)
        )

    check()


def test_a_merged_gate_is_recorded_as_merged():
    _, result = run("production")

    @pulumi.runtime.test
    def check():
        return pulumi.Output.from_input(result["gate"]).apply(
            lambda v: v["state"] == "merged" or pytest.fail(v)
        )

    check()


def test_a_merged_rollback_is_a_deployment_that_retires_the_replaced_one():
    import dataclasses

    from release.program.planning import PlannedRollback
    from release.program.registration import register_promotion

    monitor = install(RolloutMocks(), "staging")
    settings, _ = settings_of("staging")
    rollback = PlannedRollback(
        "release/2026-11-19", "d" * 40, "e" * 40, "rollback/staging-2026-11-27", 1
    )
    planned = dataclasses.replace(plan("staging", False), rollback=rollback)
    seen: dict = {}

    @pulumi.runtime.test
    def program():
        outputs = register_promotion(settings, planned, {"stack": "x"})
        deployment = outputs["dayTwo"]["rollback"]["deployment"]
        return pulumi.Output.from_input(deployment).apply(lambda v: seen.update(id=v))

    program()
    reg = monitor.registered
    deployment = reg["rollback-deployment"]
    assert urn_of(monitor, "rollback-merge") in deployment.dependencies
    assert deployment.inputs["release"] == "release/2026-11-19"
    assert deployment.inputs["payload"] == {"rollback": True, "from": "release/2026-11-26"}
    assert deployment.inputs["in_progress"] is False
    # the rollback's Merge and its Deployment share this run's id (`merge_run` compares it)
    assert (
        deployment.inputs["run"]
        and deployment.inputs["run"] == (reg["rollback-merge"].inputs["run"])
    )
    done = reg["rollback-deployment-done"]
    assert done.inputs["state"] == "success"
    assert done.inputs["retire"] == "rolled back to release/2026-11-19"
    assert seen["id"] == 4242
