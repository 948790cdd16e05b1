"""The real engine runs a stack end to end: preview, up, an idle up, refresh, destroy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import Harness, changes, command_plugin_version

pytestmark = pytest.mark.e2e

REF = "refs/smoke/e2e"


@pytest.fixture
def smoke(harness: Harness, seeded_sandbox, github_client):
    """The smoke program's stack, configured against the seeded sandbox."""
    repo = github_client().get_repo("acme/service")
    sha = repo.get_branch("master").commit.sha
    run = harness.stack("smoke")
    run.set_config(
        {
            "smoke:forgeUrl": seeded_sandbox.base_url,
            "smoke:repo": "acme/service",
            "smoke:ref": REF,
            "smoke:sha": sha,
            "smoke:word": "hello",
        },
        secret={"smoke:forgeToken": seeded_sandbox.token},
    )
    return run, repo, sha


def test_preview_up_idle_up_refresh_destroy(smoke, seeded_sandbox, github_client):
    run, repo, sha = smoke

    seeded_sandbox.reset_counters()
    preview = run.preview()
    assert preview.change_summary.get("create", 0) >= 3, run.transcript()  # stack, ref, command
    assert seeded_sandbox.writes() == 0, "preview wrote to the forge"

    up = run.up()
    assert up.summary.result == "succeeded", run.transcript()
    assert up.summary.resource_changes.get("create", 0) >= 3, up.summary.resource_changes
    outputs = run.outputs()
    assert outputs == {"ref": REF, "sha": sha, "greeting": "smoke hello"}
    assert repo.get_git_ref("smoke/e2e").object.sha == sha
    assert seeded_sandbox.writes() >= 1

    seeded_sandbox.reset_counters()
    again = run.up()
    assert changes(again.summary.resource_changes) == {}, again.summary.resource_changes
    assert seeded_sandbox.writes() == 0, seeded_sandbox.counters()
    assert run.outputs() == outputs

    refreshed = run.refresh()
    assert refreshed.summary.result == "succeeded", run.transcript()
    assert changes(refreshed.summary.resource_changes) == {}, refreshed.summary.resource_changes
    assert seeded_sandbox.reads() >= 1, "refresh did not read the ref back from the forge"
    assert seeded_sandbox.writes() == 0

    gone = run.destroy()
    assert gone.summary.result == "succeeded", run.transcript()
    assert gone.summary.resource_changes.get("delete", 0) >= 3, gone.summary.resource_changes
    assert run.outputs() == {}
    assert run.resources() == []
    # Leaving the stack forgets the ref; the forge keeps it.
    assert repo.get_git_ref("smoke/e2e").object.sha == sha


def test_state_and_stack_file_hold_no_token(smoke, seeded_sandbox, harness: Harness):
    run, _, _ = smoke
    run.up()
    # The dynamic provider's default provider records the whole stack config as its inputs:
    # the token is there, but only encrypted, because it was set as a secret.
    stored = harness.state_files_text()
    assert "smoke:forgeToken" in stored
    assert seeded_sandbox.token not in stored
    stack_file = Path(run.stack.workspace.work_dir) / "Pulumi.e2e.yaml"
    assert seeded_sandbox.token not in stack_file.read_text()
    assert seeded_sandbox.token not in run.transcript()
    run.destroy()


def test_command_plugin_resolves_at_the_python_packages_version(smoke, harness: Harness):
    run, _, _ = smoke
    run.up()
    wanted = command_plugin_version()

    providers = [r for r in run.resources() if r["type"] == "pulumi:providers:command"]
    assert [p["inputs"].get("version") for p in providers] == [wanted], providers

    installed = [
        (p["name"], p["kind"], p["version"])
        for p in harness.plugin_list()
        if p["name"] == "command"
    ]
    assert installed == [("command", "resource", wanted)], installed
    run.destroy()
