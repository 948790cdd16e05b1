"""The PPC rollout: wave planning, command rendering, and the resource graph under mocks."""

from __future__ import annotations

import asyncio
import gc
import json
import time

import pulumi
import pytest
from pulumi_command import local

from release.program.ppc_rollout import PpcRollout, verification
from release.providers.ppc_wave import ppc_entries
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


WAVE = "pulumi-python:dynamic/release:PpcWave"


class CommandMocks(pulumi.runtime.Mocks):
    """Each PpcWave's outcomes as if every PPC of it was updated."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "command:local:Command":
            state["stdout"] = f"ran {args.name}"
            state["stderr"] = ""
        if args.typ == WAVE:
            state["outcomes"] = {
                p["name"]: {"ok": True, "detail": f"updated {p['name']}", "url": ""}
                for p in ppc_entries(args.inputs)
            }
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


def waves(monitor: CapturingMonitor) -> dict[int, Registered]:
    return {reg.inputs["wave"]: reg for reg in monitor.registered.values() if reg.type == WAVE}


PPCS = [
    Ppc("acme", 1, {"REGION": "eu"}),
    Ppc("globex", 1, {}),
    Ppc("initech", 2, {}),
    Ppc("umbrella", 2, {}),
    Ppc("hooli", 3, {}),
]
PINS = {"service": SHA, "ppc": "fedcba98", "sdk": "3.272.0"}


def build_rollout(after=(), environment=None, ppcs=PPCS, dir=None, executor=None):
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
        executor=executor,
    )


def test_one_resource_per_wave_with_its_ppcs_pins_and_executor_spec(monitor):
    outcomes = json.loads(
        run_program(lambda: build_rollout(environment={"PATH": "/x"}, dir="/srv/train").outcomes)
    )
    found = waves(monitor)
    assert sorted(found) == [1, 2, 3]
    assert sorted(monitor.registered) == ["ppc-rollout", "ppc-wave-1", "ppc-wave-2", "ppc-wave-3"]
    rollout = monitor.registered["ppc-rollout"]
    assert rollout.type == "release-train:index:PpcRollout"
    first = found[1]
    assert first.name == "ppc-wave-1" and first.parent == rollout.urn
    assert ppc_entries(first.inputs) == [
        {"name": "acme", "vars": {"REGION": "eu"}},
        {"name": "globex", "vars": {}},
    ]
    assert first.inputs["executor"] == {
        "kind": "command",
        "command": TEMPLATE,
        "state": "",
        "dir": "/srv/train",
    }
    assert first.inputs["pins"] == PINS and first.inputs["environment"] == {"PATH": "/x"}
    assert first.inputs["release"] == "release/2026-11-26" and first.inputs["commit"] == SHA
    assert [p["name"] for p in ppc_entries(found[3].inputs)] == ["hooli"]
    # Every PPC's outcome, with its wave, once all waves ran.
    assert outcomes["hooli"] == {"wave": 3, "ok": True, "detail": "updated hooli", "url": ""}
    assert sorted(outcomes) == sorted(p.name for p in PPCS)


def test_another_executor_spec_is_passed_as_plain_data(monitor):
    spec = {"kind": "command", "command": "true {ppc}", "parallel": 2, "timeout": 60}
    run_program(lambda: build_rollout(executor=spec).urn)
    assert {reg.inputs["executor"]["parallel"] for reg in waves(monitor).values()} == {2}


def test_wave_n_plus_one_depends_on_wave_n(monitor):
    def build():
        merge = local.Command("production-merge", create="true")
        smoke = verification("verify", "curl -f http://127.0.0.1/health", after=[merge])
        return build_rollout(after=[merge, smoke]).urn

    run_program(build)
    found = waves(monitor)
    merge_urn = monitor.registered["production-merge"].urn
    smoke = monitor.registered["verify"]
    assert smoke.dependencies == [merge_urn]
    assert smoke.inputs["create"] == "curl -f http://127.0.0.1/health"
    assert set(found[1].dependencies) == {merge_urn, smoke.urn}
    assert found[2].dependencies == [found[1].urn]
    assert found[3].dependencies == [found[2].urn]
    assert_waits_for(monitor, found[3].urn, {found[1].urn, merge_urn, smoke.urn})


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
        with pytest.raises(PpcConfigError, match="executor kind 'carrier-pigeon' is unknown"):
            PpcRollout("r", PPCS, TEMPLATE, "x", SHA, executor={"kind": "carrier-pigeon"})
        return "done"

    assert run_program(build) == "done"
    assert monitor.registered == {}


def test_commit_as_an_output_reaches_the_waves(monitor):
    def build():
        merge = local.Command("production-merge", create="true")
        commit = merge.id.apply(lambda _: SHA)
        return PpcRollout("r", PPCS[:1], TEMPLATE, "release/x", commit, {}, [merge]).urn

    run_program(build)
    first = waves(monitor)[1]
    assert first.inputs["commit"] == SHA
    assert monitor.registered["production-merge"].urn in first.dependencies


def test_two_thousand_ppcs_are_five_resources(monitor, capsys):
    ppcs = [Ppc(f"customer-{i:04d}", i % 5 + 1, {"INDEX": str(i)}) for i in range(2000)]
    start = time.monotonic()
    outcomes = json.loads(run_program(lambda: build_rollout(ppcs=ppcs).outcomes))
    seconds = time.monotonic() - start
    with capsys.disabled():
        print(f"\nPpcRollout with 2,000 PPCs in 5 waves built under mocks in {seconds:.2f}s")
    found = waves(monitor)
    assert sorted(found) == [1, 2, 3, 4, 5]
    assert [len(ppc_entries(w.inputs)) for w in found.values()] == [400] * 5
    assert found[5].dependencies == [found[4].urn]
    assert len(outcomes) == 2000 and outcomes["customer-1999"]["wave"] == 5


class PpcJobFailed(RuntimeError):
    pass


class FailingMocks(CommandMocks):
    """The wave holding PPC `failing` fails, as its resource does when one PPC fails."""

    def __init__(self, failing: str) -> None:
        self.failing = failing

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == WAVE and self.failing in [p["name"] for p in ppc_entries(args.inputs)]:
            raise PpcJobFailed(f"failed PPC {self.failing}: exit status 1")
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


def test_a_failing_wave_stops_the_later_waves(quiet_failed_futures):
    mocks = FailingMocks("initech")
    mon = CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, monitor=mon)
    try:
        run_program(lambda: build_rollout().urn)
    except Exception as exc:  # noqa: BLE001 the program's failure is the subject here
        message = str(exc)
    else:
        pytest.fail("the rollout did not fail")
    assert "failed PPC initech" in message
    assert "ppc-wave-1" in mon.registered
    assert "ppc-wave-2" not in mon.registered and "ppc-wave-3" not in mon.registered
