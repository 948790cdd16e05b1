"""Pulumi mocks shared by the unit tests: a monitor that records every registration."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor


@dataclass
class Registered:
    """One resource registration as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    inputs: dict[str, Any]
    retain_on_delete: bool
    protect: bool
    replace_on_changes: list[str] = field(default_factory=list)
    request: Any = None  # the raw RegisterResourceRequest (provider, object, ...)


class CapturingMonitor(MockMonitor):
    """A mock monitor that also records each registration's inputs and options."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: dict[str, Registered] = {}
        self.order: list[str] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            with self._lock:
                self.order.append(request.name)
                self.registered[request.name] = Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    inputs=inputs,
                    retain_on_delete=bool(request.retainOnDelete),
                    protect=bool(request.protect),
                    replace_on_changes=list(request.replaceOnChanges),
                    request=request,
                )
        return response


class EchoMocks(pulumi.runtime.Mocks):
    """Every resource's state is its inputs plus `extra[type]`. The only invoke expected is
    the engine's read of the stack's stored resources, answered with `checkpoint`
    ({urn: {type, outputs}}; empty: a stack with no record of intent yet)."""

    def __init__(
        self,
        extra: dict[str, dict[str, Any]] | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        self.extra = extra or {}
        self.checkpoint = checkpoint or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = {**dict(args.inputs), **self.extra.get(args.typ, {})}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "pulumi:pulumi:readStackResourceOutputs":
            return {"name": args.args.get("stackName"), "outputs": self.checkpoint}
        raise AssertionError(f"unexpected invoke {args.token}")


def install(mocks: pulumi.runtime.Mocks, stack: str, preview: bool = False) -> CapturingMonitor:
    """Set the mocks for project release-train and `stack`; return the capturing monitor."""
    monitor = CapturingMonitor(mocks)
    # A new root stack each time: `set_mocks` keeps the last one, and with it the stack
    # transformations an earlier test's program registered (release/program/entry.py
    # `route_dynamic`), which would route this test's resources to that test's provider.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project="release-train", stack=stack, preview=preview, monitor=monitor
    )
    return monitor
