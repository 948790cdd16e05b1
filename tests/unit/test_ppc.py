"""The PPC rollout: wave planning, command rendering, and the resource graph under mocks."""

from __future__ import annotations

import asyncio
import gc
import time

import pulumi
import pytest
from pulumi_command import local

from release.program.ppc_rollout import PpcRollout, verification
from release.rules.ppcs import (
    Ppc,
    PpcConfigError,
    parse_ppcs,
    pin_variables,
    plan_waves,
    ppc_environment,
    render_command,
    validate_template,
)
from tests.support.mocks import CapturingMonitor, Registered

SHA = "0123456789abcdef0123456789abcdef01234567"
TEMPLATE = "deploy --ppc {ppc} --release {release} --commit {commit} --wave {wave}"


# --- pure planning ---------------------------------------------------------------------------


def test_plan_waves_sorts_by_wave_then_name():
    ppcs = [Ppc("zeta", 2, {}), Ppc("beta", 1, {}), Ppc("alpha", 2, {}), Ppc("acme", 1, {})]
    waves = plan_waves(ppcs)
    assert [[p.name for p in wave] for wave in waves] == [["acme", "beta"], ["alpha", "zeta"]]


def test_plan_waves_skips_missing_wave_numbers():
    waves = plan_waves([Ppc("b", 5, {}), Ppc("a", 1, {})])
    assert [[p.wave for p in wave] for wave in waves] == [[1], [5]]


def test_plan_waves_empty():
    assert plan_waves([]) == []


@pytest.mark.parametrize(
    ("ppcs", "fragment"),
    [
        ([Ppc("a", 1, {}), Ppc("a", 2, {})], "ppcs[1].name 'a' is a duplicate of ppcs[0]"),
        ([Ppc("a", 0, {})], "ppcs[0] ('a').wave 0"),
        ([Ppc("a", -3, {})], "ppcs[0] ('a').wave -3"),
        ([Ppc("ok", 1, {}), Ppc("", 1, {})], "ppcs[1].name is empty"),
        ([Ppc("Acme", 1, {})], "ppcs[0] ('Acme').name 'Acme' is not a valid PPC name"),
        ([Ppc("-acme", 1, {})], "'-acme' is not a valid PPC name"),
        ([Ppc("ac_me", 1, {})], "'ac_me' is not a valid PPC name"),
        ([Ppc("a", 1, {"1BAD": "x"})], "vars key '1BAD' is not an environment variable name"),
        ([Ppc("a", 1, {"PIN_SDK": "x"})], "reserved prefix"),
        ([Ppc("a", 1, {"release_train_x": "x"})], "reserved prefix"),
        ([Ppc("a", 1, {"REGION": 3})], "vars['REGION'] is 3, not a string"),
    ],
)
def test_plan_waves_names_the_bad_ppc_and_field(ppcs, fragment):
    with pytest.raises(PpcConfigError) as info:
        plan_waves(ppcs)
    assert fragment in str(info.value)


def test_plan_waves_rejects_boolean_wave():
    with pytest.raises(PpcConfigError, match=r"\.wave True"):
        plan_waves([Ppc("a", True, {})])


def test_parse_ppcs_from_stack_config():
    ppcs = parse_ppcs(
        [
            {"name": "acme", "wave": 2, "vars": {"REGION": "eu"}},
            {"name": "globex", "wave": "1"},
            {"name": "initech"},
        ]
    )
    assert ppcs == [Ppc("acme", 2, {"REGION": "eu"}), Ppc("globex", 1, {}), Ppc("initech", 1, {})]
    assert parse_ppcs(None) == []


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ("acme", "ppcs = 'acme': give a list"),
        (["acme"], "ppcs[0] = 'acme': give a mapping"),
        ([{"name": "a", "region": "eu"}], "ppcs[0] has unknown key(s) region"),
        ([{"name": "a", "vars": ["X"]}], "ppcs[0].vars = ['X']"),
        ([{"wave": 1}], "ppcs[0].name is empty"),
        ([{"name": "a", "wave": "first"}], "ppcs[0] ('a').wave 'first'"),
        ([{"name": "a", "vars": {"PORT": 80}}], "ppcs[0] ('a').vars['PORT'] is 80, not a string"),
    ],
)
def test_parse_ppcs_errors_name_the_entry_and_field(config, fragment):
    with pytest.raises(PpcConfigError) as info:
        parse_ppcs(config)
    assert fragment in str(info.value)


def test_render_command_fills_every_placeholder():
    out = render_command(TEMPLATE, "acme", "release/2026-11-26", SHA, 2)
    assert out == f"deploy --ppc acme --release release/2026-11-26 --commit {SHA} --wave 2"


def test_render_command_quotes_values_for_the_shell():
    out = render_command("echo {release}", "acme", "rel; rm -rf x", SHA, 1)
    assert out == "echo 'rel; rm -rf x'"


def test_render_command_keeps_literal_braces():
    assert render_command("echo {{x}} {ppc}", "acme", "r", SHA, 1) == "echo {x} acme"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("deploy {customer}", "unknown placeholder {customer}"),
        ("deploy {}", "unknown placeholder {}"),
        ("deploy {0}", "unknown placeholder {0}"),
        ("deploy {ppc.name}", "unknown placeholder {ppc.name}"),
        ("deploy {ppc!r}", "write the bare placeholder {ppc}"),
        ("deploy {wave:03}", "write the bare placeholder {wave}"),
        ("deploy {ppc", "is not a valid template"),
        ("   ", "ppcCommand is empty"),
    ],
)
def test_validate_template_rejects_with_a_clear_error(template, fragment):
    with pytest.raises(PpcConfigError) as info:
        validate_template(template)
    assert fragment in str(info.value)
    if "unknown" in fragment:
        assert "{ppc}, {release}, {commit}, {wave}" in str(info.value)


def test_pin_variables_and_collisions():
    assert pin_variables({"sdk": "v3", "pulumi-ppc": "abc"}) == {
        "pulumi-ppc": "PIN_PULUMI_PPC",
        "sdk": "PIN_SDK",
    }
    with pytest.raises(PpcConfigError, match="both become PIN_PULUMI_PPC"):
        pin_variables({"pulumi-ppc": "a", "pulumi_ppc": "b"})


def test_ppc_environment_train_variables_win_over_base():
    env = ppc_environment(
        Ppc("acme", 3, {"REGION": "eu"}),
        "release/2026-11-26",
        SHA,
        {"sdk": "v3.1"},
        base={"RELEASE_TRAIN_PPC": "spoofed", "PATH": "/bin"},
    )
    assert env == {
        "PATH": "/bin",
        "REGION": "eu",
        "RELEASE_TRAIN_PPC": "acme",
        "RELEASE_TRAIN_RELEASE": "release/2026-11-26",
        "RELEASE_TRAIN_COMMIT": SHA,
        "RELEASE_TRAIN_WAVE": "3",
        "PIN_SDK": "v3.1",
    }


# --- the resource graph under mocks ----------------------------------------------------------


class CommandMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "command:local:Command":
            state["stdout"] = f"ran {args.name}"
            state["stderr"] = ""
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture
def monitor():
    mon = CapturingMonitor(CommandMocks())
    pulumi.runtime.set_mocks(
        CommandMocks(), project="release-train", stack="production", monitor=mon
    )
    return mon


def run_program(build):
    """Run `build` as a Pulumi program under the mocks; return what its Output resolves to."""
    box = {}

    @pulumi.runtime.test
    def program():
        result = build()
        return pulumi.Output.from_input(result).apply(lambda value: box.setdefault("v", value))

    program()
    return box.get("v")


def commands(monitor: CapturingMonitor) -> dict[str, Registered]:
    return {
        name[len("ppc-") :]: reg
        for name, reg in monitor.registered.items()
        if reg.type == "command:local:Command" and name.startswith("ppc-")
    }


PPCS = [
    Ppc("acme", 1, {"REGION": "eu"}),
    Ppc("globex", 1, {}),
    Ppc("initech", 2, {}),
    Ppc("umbrella", 2, {}),
    Ppc("hooli", 3, {}),
]
PINS = {"service": SHA, "ppc": "fedcba98", "sdk": "3.272.0"}


def build_rollout(after=(), environment=None, ppcs=PPCS, dir=None):
    return PpcRollout(
        "ppc-rollout",
        ppcs=ppcs,
        command=TEMPLATE,
        release="release/2026-11-26",
        commit=SHA,
        pins=PINS,
        after=list(after),
        environment=environment,
        dir=dir,
    )


def test_one_command_per_ppc_with_rendered_create_and_environment(monitor):
    results = run_program(
        lambda: pulumi.Output.all(
            **build_rollout(environment={"PATH": "/x"}, dir="/srv/train").results
        )
    )
    cmds = commands(monitor)
    assert sorted(cmds) == sorted(p.name for p in PPCS)
    rollout = monitor.registered["ppc-rollout"]
    assert rollout.type == "release-train:index:PpcRollout"
    acme = cmds["acme"]
    assert acme.parent == rollout.urn
    assert acme.inputs["dir"] == "/srv/train"
    assert acme.inputs["create"] == render_command(TEMPLATE, "acme", "release/2026-11-26", SHA, 1)
    assert acme.inputs["environment"] == {
        "PATH": "/x",
        "REGION": "eu",
        "RELEASE_TRAIN_PPC": "acme",
        "RELEASE_TRAIN_RELEASE": "release/2026-11-26",
        "RELEASE_TRAIN_COMMIT": SHA,
        "RELEASE_TRAIN_WAVE": "1",
        "PIN_SERVICE": SHA,
        "PIN_PPC": "fedcba98",
        "PIN_SDK": "3.272.0",
    }
    assert cmds["hooli"].inputs["environment"]["RELEASE_TRAIN_WAVE"] == "3"
    assert "REGION" not in cmds["hooli"].inputs["environment"]
    assert results["hooli"] == {
        "release": "release/2026-11-26",
        "commit": SHA,
        "wave": 3,
        "stdout": "ran ppc-hooli",
    }


def test_triggers_hold_commit_and_pins_and_replace_on_change(monitor):
    run_program(lambda: build_rollout().urn)
    for reg in commands(monitor).values():
        triggers = reg.inputs["triggers"]
        assert triggers[0] == SHA
        assert sorted(triggers[1:]) == sorted(f"{k}={v}" for k, v in PINS.items())
        assert "triggers[*]" in reg.replace_on_changes


def test_triggers_change_with_a_new_release_only(monitor):
    def triggers_for(commit, pins):
        mon = CapturingMonitor(CommandMocks())
        pulumi.runtime.set_mocks(CommandMocks(), monitor=mon)
        run_program(lambda: PpcRollout("r", PPCS, TEMPLATE, "release/x", commit, pins, []).urn)
        return {name: reg.inputs["triggers"] for name, reg in commands(mon).items()}

    same_a = triggers_for(SHA, PINS)
    same_b = triggers_for(SHA, dict(reversed(list(PINS.items()))))
    assert same_a == same_b
    assert triggers_for("f" * 40, PINS) != same_a
    assert triggers_for(SHA, {**PINS, "sdk": "3.273.0"}) != same_a


def test_wave_n_plus_one_depends_on_all_of_wave_n_and_nothing_within_a_wave(monitor):
    def build():
        merge = local.Command("production-merge", create="true")
        smoke = verification("verify", "curl -f http://127.0.0.1/health", after=[merge])
        build.merge, build.smoke = merge, smoke
        return build_rollout(after=[merge, smoke]).urn

    run_program(build)
    cmds = commands(monitor)
    merge_urn = monitor.registered["production-merge"].urn
    smoke = monitor.registered["verify"]
    assert smoke.dependencies == [merge_urn]
    assert smoke.inputs["create"] == "curl -f http://127.0.0.1/health"

    waves = plan_waves(PPCS)
    gates = {name: reg for name, reg in monitor.registered.items() if name.endswith("-done")}
    assert sorted(gates) == ["wave-1-done", "wave-2-done"]  # none after the last wave
    for index, wave in enumerate(waves):
        own = {cmds[p.name].urn for p in wave}
        for ppc in wave:
            deps = set(cmds[ppc.name].dependencies)
            assert not deps & own, f"{ppc.name} depends on a PPC of its own wave"
            if index == 0:
                assert deps == {merge_urn, smoke.urn}
            else:
                # Wave N+1 waits for wave N's gate, and the gate for every PPC of wave N.
                gate = gates[f"wave-{waves[index - 1][0].wave}-done"]
                assert deps == {gate.urn}
                assert set(gate.dependencies) == {cmds[p.name].urn for p in waves[index - 1]}
    assert_waits_for(monitor, cmds["hooli"].urn, {cmds[p].urn for p in ("acme", "globex")})
    assert_waits_for(monitor, cmds["hooli"].urn, {merge_urn, smoke.urn})


def assert_waits_for(monitor: CapturingMonitor, urn: str, expected: set[str]) -> None:
    """`urn` waits, directly or through other resources, for every URN in `expected`."""
    by_urn = {reg.urn: reg for reg in monitor.registered.values()}
    seen: set[str] = set()
    todo = [urn]
    while todo:
        for dep in by_urn[todo.pop()].dependencies:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    assert expected <= seen, f"{urn} does not wait for {expected - seen}"


def test_verification_refuses_an_empty_command(monitor):
    with pytest.raises(PpcConfigError, match="verifyCommand is empty"):
        verification("verify", "  ", after=[])


def test_verification_triggers(monitor):
    run_program(lambda: verification("verify", "true", after=[], triggers=[SHA]).urn)
    assert monitor.registered["verify"].inputs["triggers"] == [SHA]
    assert monitor.registered["verify"].dependencies == []


def test_invalid_config_registers_nothing(monitor):
    def build():
        with pytest.raises(PpcConfigError, match="unknown placeholder {customer}"):
            PpcRollout("r", PPCS, "deploy {customer}", "release/x", SHA, PINS, [])
        with pytest.raises(PpcConfigError, match="duplicate"):
            PpcRollout("r", [Ppc("a", 1, {}), Ppc("a", 1, {})], TEMPLATE, "x", SHA)
        return "done"

    assert run_program(build) == "done"
    assert monitor.registered == {}


def test_commit_as_an_output_is_rendered(monitor):
    def build():
        merge = local.Command("production-merge", create="true")
        commit = merge.id.apply(lambda _: SHA)
        return PpcRollout("r", PPCS[:1], TEMPLATE, "release/x", commit, {}, [merge]).urn

    run_program(build)
    acme = commands(monitor)["acme"]
    assert acme.inputs["create"].endswith(f"--commit {SHA} --wave 1")
    assert acme.inputs["triggers"] == [SHA]


def test_five_hundred_ppcs_in_five_waves(monitor, capsys):
    ppcs = [Ppc(f"customer-{i:03d}", i % 5 + 1, {"INDEX": str(i)}) for i in range(500)]
    start = time.monotonic()
    run_program(lambda: build_rollout(ppcs=ppcs).urn)
    seconds = time.monotonic() - start
    with capsys.disabled():
        print(f"\nPpcRollout with 500 PPCs in 5 waves built under mocks in {seconds:.2f}s")
    cmds = commands(monitor)
    assert len(cmds) == 500
    gate = monitor.registered["wave-4-done"]
    assert len(gate.dependencies) == 100
    assert cmds["customer-004"].dependencies == [gate.urn]
    assert all(cmds[f"customer-{i:03d}"].dependencies == [] for i in range(0, 500, 5))


class PpcJobFailed(RuntimeError):
    pass


class FailingMocks(CommandMocks):
    def __init__(self, failing: str) -> None:
        self.failing = failing

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.name == f"ppc-{self.failing}":
            raise PpcJobFailed(f"update job for {self.failing} failed")
        return super().new_resource(args)


@pytest.fixture
def quiet_failed_futures():
    """The failed registration leaves futures holding the job's error that nobody awaits
    (the mocks keep the resources alive); asyncio would log each one at exit. Reading a
    future's exception() marks it as seen."""
    yield
    futures = [f for f in gc.get_objects() if isinstance(f, asyncio.Future)]
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()


def test_a_failing_ppc_stops_the_later_waves_but_not_its_own_wave(quiet_failed_futures):
    mocks = FailingMocks("acme")
    mon = CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, monitor=mon)
    try:
        run_program(lambda: build_rollout().urn)
    except Exception as exc:  # noqa: BLE001 the program's failure is the subject here
        message = str(exc)
    else:
        pytest.fail("the rollout did not fail")
    assert "update job for acme failed" in message
    assert "ppc-globex" in mon.registered  # same wave: runs in parallel, unaffected
    assert "ppc-acme" not in mon.registered
    assert not {"wave-1-done", "ppc-initech", "ppc-umbrella", "ppc-hooli"} & set(mon.registered)
