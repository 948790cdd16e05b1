"""A broken program fails the engine run with the program's own error, and no secret leaks."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from release.engine import automation
from tests.e2e.harness import Harness, run_release
from tests.reliability.cli_train import RELEASE_DATE, CliTrain

pytestmark = pytest.mark.e2e


def test_program_error_reaches_the_caller(harness: Harness):
    run = harness.stack("failing")
    run.set_config({"failing:marker": "marker-7f3a"}, secret={"failing:secret": "s3cr3t-e2e"})

    with pytest.raises(auto.CommandError) as raised:
        run.up()

    message = str(raised.value)
    assert "ValueError: failing on purpose: marker-7f3a" in message
    assert "s3cr3t-e2e" not in message
    assert "s3cr3t-e2e" not in run.transcript()
    assert "s3cr3t-e2e" not in harness.state_files_text()


def test_plan_ends_with_the_programs_forge_check_in_one_line(harness: Harness, seeded_sandbox):
    """`release plan` leaves the forge check to the program (no token decrypted by the command
    line): a repository the forge does not have still ends the command with the one line
    `release promote` gives, on stderr, with no traceback and no write."""
    cli = CliTrain.start(harness, seeded_sandbox, harness.workdir)
    assert cli.release("promote", "testing").code == 0
    automation.pin(cli.project, "staging", {"repository": "acme/nothere"})
    seeded_sandbox.reset_counters()
    done = run_release(cli.env, "plan", "staging", "--date", RELEASE_DATE)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: Pulumi.staging.yaml: config release-train:repository = 'acme/nothere': no "
        "such repository, or the token cannot read it: check owner/name, and that the token "
        "has access to it (fine-grained: the repository selected, Metadata: read)"
    ], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert seeded_sandbox.writes() == 0


def test_a_wrong_passphrase_is_named_not_read_as_a_missing_token(harness: Harness, seeded_sandbox):
    """The stack's token that the engine cannot decrypt is not "not set": the command says the
    passphrase is wrong, names the stack file and the key, and writes nothing."""
    cli = CliTrain.start(harness, seeded_sandbox, harness.workdir)
    assert cli.release("promote", "testing").code == 0
    assert "token" in (cli.project.directory / "Pulumi.staging.yaml").read_text()
    seeded_sandbox.reset_counters()
    wrong = {**cli.env, "PULUMI_CONFIG_PASSPHRASE": "not-the-stacks"}
    done = run_release(wrong, "promote", "staging", "--date", RELEASE_DATE)
    assert done.returncode != 0, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Pulumi.staging.yaml: config release-train:token could not be decrypted" in lines[0]
    assert "incorrect passphrase" in lines[0]
    assert lines[0].count("Pulumi.staging.yaml") == 1, lines[0]
    assert "(not set)" not in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert seeded_sandbox.writes() == 0


def test_a_state_sidecar_left_empty_by_a_kill_is_set_aside(harness: Harness, seeded_sandbox):
    """A SIGKILL while the engine's blob store rewrites `<stack>.json.attrs` (truncated in
    place, before the checkpoint is renamed in) leaves it empty, and the engine then refuses
    the stack ("failed to load checkpoint: EOF"). The next command sets it aside, says so,
    and runs; the empty file is kept beside the state."""
    from release.engine.recovery import backend_folder

    cli = CliTrain.start(harness, seeded_sandbox, harness.workdir)
    assert cli.release("promote", "testing").code == 0
    folder = backend_folder(cli.project.backend())
    assert folder is not None
    sidecar = folder / "stacks" / "release-train" / "testing.json.attrs"
    assert sidecar.stat().st_size > 0
    sidecar.write_bytes(b"")
    done = run_release(cli.env, "promote", "testing")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recovered: a crash left the metadata of testing's state cut short" in done.stderr
    assert "failed to load checkpoint" not in done.stdout + done.stderr
    kept = list(sidecar.parent.glob("testing.json.attrs.broken-*"))
    assert [p.stat().st_size for p in kept] == [0]
