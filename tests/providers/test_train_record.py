"""The TrainRecord provider as the engine calls it, and the program's reader of the record."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from release.providers.train_record import (
    READ_OUTPUTS,
    RESOURCE_NAME,
    TYPE,
    TrainRecord,
    TrainRecordProvider,
    read_current,
    record_in,
)
from release.rules.intent import EMPTY, apply_ops
from tests.support.mocks import install
from tests.support.providers import engine_copy

A, B = "a" * 40, "b" * 40
RECORD = apply_ops(
    EMPTY,
    [
        {"op": "pin", "commit": A, "date": "2026-11-26", "by": "ana"},
        {"op": "pick", "sha": B, "id": "op-1"},
    ],
)
URN = f"urn:pulumi:staging::release-train::{TYPE}::{RESOURCE_NAME}"


def engine_props(record: dict[str, Any], head: str | None = None) -> dict[str, Any]:
    """Inputs as the engine hands them back: through JSON, with the serialized provider."""
    return {**json.loads(json.dumps({"record": record, "head": head})), "__provider": "code"}


def test_create_and_update_store_the_inputs_as_outputs_and_talk_to_nothing():
    provider = engine_copy(TrainRecordProvider(), None)  # no token: it needs none
    created = provider.create(engine_props(RECORD.to_dict(), A))
    assert created.id == RESOURCE_NAME
    assert created.outs == {"record": RECORD.to_dict(), "head": A}
    newer = apply_ops(RECORD, [{"op": "drop-pick", "sha": B}])
    updated = provider.update(RESOURCE_NAME, created.outs, engine_props(newer.to_dict(), A))
    assert updated.outs == {"record": newer.to_dict(), "head": A}
    assert "__provider" not in updated.outs
    provider.delete(RESOURCE_NAME, updated.outs)  # forgets; nothing to call


def test_diff_sees_a_changed_record_and_ignores_the_provider_code():
    provider = TrainRecordProvider()
    olds = {"record": RECORD.to_dict(), "head": A, "__provider": "old-code"}
    same = provider.diff(RESOURCE_NAME, olds, {**olds, "__provider": "new-code"})
    assert not same.changes
    newer = apply_ops(RECORD, [{"op": "revert", "sha": B}])
    changed = provider.diff(RESOURCE_NAME, olds, {**olds, "record": newer.to_dict()})
    assert changed.changes and not changed.replaces


def test_check_refuses_a_record_that_release_train_cannot_read_back():
    provider = TrainRecordProvider()
    good = provider.check({}, engine_props(RECORD.to_dict()))
    assert good.failures == []
    bad = provider.check({}, engine_props({"version": 1, "picks": "not-a-list"}))
    assert [f.property for f in bad.failures] == ["record"]
    assert "picks = 'not-a-list'" in bad.failures[0].reason


def test_record_in_finds_the_record_among_the_checkpoint_resources():
    resources = {
        "urn:pulumi:staging::release-train::pulumi:pulumi:Stack::release-train-staging": {
            "type": "pulumi:pulumi:Stack",
            "outputs": {"record": "not this one"},
        },
        URN: {"type": TYPE, "outputs": {"record": RECORD.to_dict(), "head": A}},
    }
    assert record_in(resources) == RECORD
    assert record_in({}) == EMPTY


class ReadMocks(pulumi.runtime.Mocks):
    """The engine's builtin invoke, answering with one stored checkpoint."""

    def __init__(self, resources: dict[str, Any]) -> None:
        self.resources = resources
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append((args.token, dict(args.args)))
        assert args.token == READ_OUTPUTS
        return {"name": args.args["stackName"], "outputs": self.resources}


def test_read_current_asks_the_engine_for_this_stack_s_checkpoint():
    mocks = ReadMocks({URN: {"type": TYPE, "outputs": {"record": RECORD.to_dict()}}})
    install(mocks, "staging")
    found: list[Any] = []

    @pulumi.runtime.test
    def program():
        found.append(read_current())
        found.append(pulumi.get_organization())

    program()
    record, org = found
    assert record == RECORD
    assert mocks.calls == [(READ_OUTPUTS, {"stackName": f"{org}/release-train/staging"})]


def test_the_resource_registers_the_record_after_what_it_depends_on():
    from tests.support.mocks import EchoMocks

    monitor = install(EchoMocks(), "staging")

    @pulumi.runtime.test
    def program():
        first = TrainRecord(RECORD, head=A)
        return first.record.apply(lambda value: found.append(value))

    found: list[Any] = []
    program()
    registered = monitor.registered[RESOURCE_NAME]
    assert registered.type == TYPE
    assert registered.inputs["record"] == RECORD.to_dict()
    assert found == [RECORD.to_dict()]


def test_a_half_written_checkpoint_is_read_again(monkeypatch):
    """The engine may be writing the checkpoint while the program reads it: tried again."""
    from release.providers import train_record

    stored = apply_ops(EMPTY, [{"op": "pin", "commit": "a" * 40, "date": "2026-11-26"}])
    calls: list[str] = []

    class Result:
        def __init__(self, value, failures=None):
            self.value, self.failures = value, failures

    def invoke(token, args):
        calls.append(args["stackName"])
        if len(calls) == 1:
            raise RuntimeError("failed to load checkpoint: EOF")
        urn = (
            f"urn:pulumi:staging::release-train::{train_record.TYPE}::{train_record.RESOURCE_NAME}"
        )
        outputs = {urn: {"type": train_record.TYPE, "outputs": {"record": stored.to_dict()}}}
        return Result({"outputs": outputs})

    monkeypatch.setattr(train_record.time, "sleep", lambda _s: None)
    monkeypatch.setattr(pulumi.runtime, "invoke", invoke)
    assert train_record.read_current("o/release-train/staging").commit == "a" * 40
    assert calls == ["o/release-train/staging"] * 2
