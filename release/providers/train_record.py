"""The team's record of intent as a resource of the stack (`intent:TrainRecord`).

Its provider does no forge I/O: `create` and `update` store the inputs as outputs, `delete`
forgets. So the record is kept in the stack's state, on whatever backend the team shares
(file://, PostgreSQL, an object store, Pulumi Cloud), and it is written by the engine,
atomically with the rest of the checkpoint, only while the engine holds the stack's lock.

The program registers it after every resource that acts on intent (the branch, the
ours-merge, picks, reverts, the rollback commit, the pull requests) and before the merge
gates, which depend on it: a refused or failed step records nothing, and a promotion that
waits at a closed gate keeps its release recorded for the next operator.

`read_current` is the program's side of reading it: the engine's builtin invoke
`pulumi:pulumi:readStackResourceOutputs` returns the outputs of every resource in the
stack's stored checkpoint. During `up` the stack is locked before the program starts, so
what is read cannot change under the run; `preview` reads it too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from release.rules.intent import IntentError, Record, record_from_dict

RESOURCE_NAME = "train-record"
TYPE = "pulumi-python:dynamic/intent:TrainRecord"
"""The type token the Python SDK gives the resource below (module `intent`)."""
READ_OUTPUTS = "pulumi:pulumi:readStackResourceOutputs"
_FIELDS = ("record", "head")


def _plain(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: props.get(k) for k in _FIELDS}


class TrainRecordProvider(ResourceProvider):
    """Keeps the inputs as the outputs; talks to nothing."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        try:
            record_from_dict(news.get("record"))
        except IntentError as err:
            return CheckResult(news, [CheckFailure("record", str(err))])
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(RESOURCE_NAME, _plain(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in _FIELDS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_plain(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, _plain(props))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Forget the record (the stack leaves release-train, or is destroyed)."""


class TrainRecord(Resource, module="intent", name="TrainRecord"):
    """The stack's record of operational intent; `record` is `Record.to_dict()`."""

    record: pulumi.Output[dict[str, Any]]
    head: pulumi.Output[str | None]

    def __init__(
        self,
        record: Record,
        *,
        head: pulumi.Input[str] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"record": record.to_dict(), "head": head}
        after = pulumi.ResourceOptions(depends_on=list(depends_on))
        super().__init__(
            TrainRecordProvider(), RESOURCE_NAME, props, pulumi.ResourceOptions.merge(opts, after)
        )


def _record_outputs(resources: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record's outputs among a checkpoint's resources ({urn: {type, outputs}})."""
    for urn, resource in resources.items():
        if not isinstance(resource, Mapping):
            continue
        if resource.get("type") == TYPE and str(urn).endswith(f"::{RESOURCE_NAME}"):
            return resource.get("outputs") or {}
    return {}


def record_in(resources: Mapping[str, Any]) -> Record:
    """The record among a checkpoint's resources ({urn: {type, outputs}}); EMPTY if none."""
    return record_from_dict(_record_outputs(resources).get("record"))


def head_in(resources: Mapping[str, Any]) -> str | None:
    """The release head the last run's own resources made (the record's `head`; commits
    pushed on top of it by hand are not in it), among a checkpoint's resources; None if
    there is no record or it has no head."""
    head = _record_outputs(resources).get("head")
    return head if isinstance(head, str) and head else None


def qualified_stack() -> str:
    """This stack's fully qualified name, `org/project/stack`."""
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"


_READ_ATTEMPTS = 5


def read_current(stack: str | None = None) -> Record:
    """The record in the stored checkpoint of `stack` (default: this stack), via the engine."""
    return record_in(read_resources(stack))


def read_resources(stack: str | None = None) -> Mapping[str, Any]:
    """The outputs of every resource in the stored checkpoint of `stack` (default: this
    stack), via the engine: {urn: {type, outputs}} (`record_in` finds the record there).

    On a `file://` backend the engine may be writing the checkpoint while the program reads
    it (the stack's first resources are being created): a read that finds it half written
    ("failed to load checkpoint") is tried again, a few times, before it fails the run."""
    name = stack or qualified_stack()
    for attempt in range(1, _READ_ATTEMPTS + 1):
        try:
            result = pulumi.runtime.invoke(READ_OUTPUTS, {"stackName": name})
            failures = getattr(result, "failures", None)
            reasons = "; ".join(str(getattr(f, "reason", f)) for f in failures or [])
        except Exception as err:  # the engine's refusal arrives as an RPC error
            if "checkpoint" not in str(err) or attempt == _READ_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
            continue
        if reasons and "checkpoint" in reasons and attempt < _READ_ATTEMPTS:
            time.sleep(0.2 * attempt)
            continue
        if reasons:
            raise RuntimeError(f"the engine could not read the stack's record: {reasons}")
        value = result.value or {}
        outputs = value.get("outputs") or {}
        return outputs if isinstance(outputs, Mapping) else {}
    raise AssertionError("unreachable")
