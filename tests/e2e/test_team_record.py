"""The team's record of intent under the real engine, with two operators on one backend.

Each operator has its own copy of the program and its own PULUMI_HOME; they share only the
backend URL and the passphrase. The program (programs/team_record) reads the record with
the engine's builtin invoke, applies its run's delta (RELEASE_TRAIN_INTENT), and records
the result in a TrainRecord after one other step.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from release.engine import automation
from release.engine.intent_store import checkpoint_record, record_of_resources
from release.rules.intent import ENV_VAR, Record, encode_ops
from tests.e2e.harness import Harness, copy_program, prepare_pulumi_home

pytestmark = pytest.mark.e2e

A, B, C = "a" * 40, "b" * 40, "c" * 40
STACK = "staging"


class Operator:
    """One working copy: its own folder and PULUMI_HOME, the team's backend and passphrase."""

    def __init__(self, harness: Harness, name: str, create: bool = False) -> None:
        self.harness = harness
        home = harness.workdir / name / "pulumi-home"
        prepare_pulumi_home(harness.engine, home)
        folder = copy_program("team_record", harness.workdir / name)
        self.env = {**harness.env(), "PULUMI_HOME": str(home)}
        workspace = auto.LocalWorkspace(
            work_dir=str(folder),
            pulumi_home=str(home),
            env_vars=dict(self.env),
            pulumi_command=harness.engine.command(),
        )
        make = auto.Stack.create if create else auto.Stack.select
        self.stack = make(STACK, workspace)
        self.folder = folder
        self.log: list[str] = []
        self.runs = 0

    def _with(self, ops: list[dict[str, Any]] | None, extra: dict[str, str]) -> dict[str, str]:
        self.runs += 1
        env = {**self.env, "TEAM_RUN": f"{id(self)}-{self.runs}", **extra}
        if ops is not None:
            env[ENV_VAR] = encode_ops(ops)
        self.stack.workspace.env_vars = env
        return env

    def up(self, ops: list[dict[str, Any]] | None = None, **extra: str) -> auto.UpResult:
        self._with(ops, extra)
        return self.stack.up(on_output=self.log.append)

    def preview(self, ops: list[dict[str, Any]] | None = None) -> auto.PreviewResult:
        self._with(ops, {})
        return self.stack.preview(on_output=self.log.append)

    def record(self) -> Record:
        """The record as a third party reads it from the state, with no engine run, checked
        against `pulumi stack export` (the path every other backend takes)."""
        project = automation.Project(Path(self.folder), backend_url=self.env["PULUMI_BACKEND_URL"])
        found = checkpoint_record(project.backend(), "team-record", STACK)
        assert found is not None, "the file backend holds no checkpoint of the stack"
        exported = self.stack.export_stack().deployment or {}
        assert record_of_resources(exported.get("resources") or []) == found
        return found


def pick(sha: str, who: str) -> dict[str, Any]:
    return {"op": "pick", "sha": sha, "by": who}


@pytest.fixture
def operators(harness: Harness) -> tuple[Operator, Operator]:
    first = Operator(harness, "operator-a", create=True)
    first.stack.set_config("word", auto.ConfigValue("team"))
    second = Operator(harness, "operator-b")
    # The stack file comes from the project's git history: the same in every working copy.
    stack_file = "Pulumi.staging.yaml"
    (second.folder / stack_file).write_text((first.folder / stack_file).read_text())
    return first, second


def test_team_record_is_read_by_every_operator_and_each_delta_merges(operators):
    a, b = operators
    a.up([{"op": "pin", "commit": A, "date": "2026-11-26", "by": "ana"}, pick(B, "ana")])
    assert "record read: empty" in "".join(a.log)

    # B never saw A's files, only the backend: the engine hands B's program A's record.
    b.up([pick(C, "ben")])
    assert "queued pick bbbbbbbbbbbb" in "".join(b.log)
    record = a.record()
    assert (record.commit, record.release_date, record.picks) == (A, "2026-11-26", (B, C))
    assert [e["by"] for e in record.log] == ["ana", "ana", "ben"]

    # A plain `up` (no delta) keeps the record as it is; a preview with a delta writes nothing.
    a.up()
    a.preview([{"op": "drop-pick", "sha": B}])
    assert a.record() == record
    # No stack file holds intent.
    for folder in (a.folder, b.folder):
        assert "picks" not in (folder / "Pulumi.staging.yaml").read_text()


def test_team_record_failed_step_records_nothing(operators):
    a, b = operators
    a.up([pick(A, "ana")])
    b.stack.set_config("fail", auto.ConfigValue("true"))
    with pytest.raises(auto.CommandError, match="work refused on purpose"):
        b.up([pick(B, "ben")])
    assert a.record().picks == (A,)


def test_team_record_bad_delta_is_refused_before_any_step(operators):
    a, _ = operators
    a.up([pick(A, "ana")])
    with pytest.raises(auto.CommandError, match=r"op 1 \(drop-pick\) on staging: sha = .*queued"):
        a.up([{"op": "drop-pick", "sha": C}])
    assert a.record().picks == (A,)


def test_team_record_command_refused_by_the_lock_records_nothing(operators):
    a, b = operators
    a.up([pick(A, "ana")])
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            a.up([pick(B, "ana")], TEAM_HOLD_SECONDS="8")
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            failures.append(err)

    holder = threading.Thread(target=hold)
    holder.start()
    lock_dir = Path(a.env["PULUMI_BACKEND_URL"].removeprefix("file://")) / ".pulumi" / "locks"
    deadline = time.monotonic() + 60
    while not any(lock_dir.rglob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(auto.ConcurrentUpdateError):
        b.up([pick(C, "ben")])
    holder.join()
    assert failures == []
    assert a.record().picks == (A, B)  # B's pick is not there: refused, so not recorded

    # Run again once the lock is free, B's delta lands on the newest record: nothing lost.
    b.up([pick(C, "ben")])
    assert a.record().picks == (A, B, C)
