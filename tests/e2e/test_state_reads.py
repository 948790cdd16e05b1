"""Reading stacks without the engine: outputs from the checkpoint, no `stack select` for a
stack that exists. Both are checked against what the real CLI says about the same state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from release.engine import automation
from tests.e2e.harness import Harness, Run

pytestmark = pytest.mark.e2e

HIDDEN = "checkpoint-hidden-value"


@pytest.fixture
def outputs_stack(harness: Harness) -> Run:
    run = harness.stack("outputs")
    run.set_config({"word": "hello"}, secret={"hidden": HIDDEN})
    run.up()
    return run


def project_of(harness: Harness, run: Run) -> automation.Project:
    env = harness.env()
    directory = Path(run.stack.workspace.work_dir)
    return automation.Project(directory, backend_url=env["PULUMI_BACKEND_URL"], env=env)


def test_checkpoint_outputs_equal_the_cli_masked_outputs(harness: Harness, outputs_stack: Run):
    project = project_of(harness, outputs_stack)
    shown = harness.engine.run(
        "stack",
        "output",
        "--json",
        "--stack",
        "e2e",
        "--cwd",
        str(project.directory),
        env=harness.env(),
    )
    from_cli = json.loads(shown.stdout)
    from_file = automation.checkpoint_outputs(project.backend(), "outputs", "e2e")
    assert from_file == from_cli
    assert from_file["nested"] == {"commit": "abc", "checks": {"test": "success"}, "none": None}
    assert from_file["listed"] == [{"sha": "abc", "reason": "red"}, 3, "x"]
    assert from_file["secret"] == "[secret]"
    assert HIDDEN not in json.dumps(from_file)
    # What `release` calls reads the same, and the CLI's view with secrets differs only there.
    assert automation.outputs(project, "e2e") == from_file
    unmasked = {k: v.value for k, v in outputs_stack.stack.outputs().items()}
    assert unmasked["secret"] == HIDDEN
    assert {k: v for k, v in unmasked.items() if "[secret]" not in json.dumps(from_file[k])} == {
        k: v for k, v in from_file.items() if "[secret]" not in json.dumps(v)
    }


def test_a_stack_never_updated_has_no_outputs_and_an_unknown_one_asks_the_cli(
    harness: Harness, outputs_stack: Run
):
    project = project_of(harness, outputs_stack)
    auto.Stack.create("fresh", outputs_stack.stack.workspace)
    assert automation.checkpoint_outputs(project.backend(), "outputs", "fresh") == {}
    assert automation.checkpoint_outputs(project.backend(), "outputs", "missing") is None
    assert automation.checkpoint_outputs("s3://bucket", "outputs", "e2e") is None


class Recording:
    """A PulumiCommand that notes the commands it runs."""

    def __init__(self, inner: auto.PulumiCommand) -> None:
        self.inner = inner
        self.version = inner.version
        self.ran: list[list[str]] = []

    def run(self, args: list[str], *rest: Any, **kwargs: Any) -> auto.CommandResult:
        self.ran.append(list(args))
        return self.inner.run(args, *rest, **kwargs)


def test_an_existing_stack_is_used_without_a_select(harness, outputs_stack, monkeypatch):
    project = project_of(harness, outputs_stack)
    recording = Recording(harness.engine.command())
    monkeypatch.setattr(automation, "pulumi_command", lambda: recording)

    existing = automation.stack(project, "e2e")
    assert recording.ran == []
    assert existing.get_config("outputs:word").value == "hello"  # it is the right stack
    assert existing.preview().change_summary.get("same", 0) >= 1
    assert all("select" not in args for args in recording.ran)

    recording.ran.clear()
    created = automation.stack(project, "brand-new")
    assert any(args[:2] == ["stack", "select"] for args in recording.ran)
    assert any(args[:2] == ["stack", "init"] for args in recording.ran)
    assert created.name == "brand-new"
