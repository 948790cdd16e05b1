"""How the command line ends an engine run: gate wait 3, refused 4, failed 1 (no engine)."""

from __future__ import annotations

import pytest
import typer
from pulumi.automation import CommandError
from pulumi.automation._cmd import CommandResult

from release.cli import common
from release.cli.common import (
    FAILED_EXIT_CODE,
    GATE_WAIT_EXIT_CODE,
    REFUSED_EXIT_CODE,
    engine_failed,
    gate_wait,
)
from tests.unit.test_outcomes import ENGINE_TEXT, WAITING


def ended(fn, capsys) -> tuple[int, str]:
    with pytest.raises(typer.Exit) as stopped:
        fn()
    captured = capsys.readouterr()
    return stopped.value.exit_code, captured.out + captured.err


def error(text: str) -> CommandError:
    return CommandError(CommandResult(stdout=text, stderr="", code=255))


def test_the_codes_are_distinct():
    codes = {
        FAILED_EXIT_CODE,
        common.USAGE_EXIT_CODE,
        GATE_WAIT_EXIT_CODE,
        REFUSED_EXIT_CODE,
    }
    assert len(codes) == 4 and GATE_WAIT_EXIT_CODE == 3  # the workflow's RELEASE_GATE_EXIT_CODE


def test_a_waiting_gate_exits_3_with_its_block(capsys):
    code, out = ended(lambda: gate_wait("staging", WAITING), capsys)
    assert code == GATE_WAIT_EXIT_CODE
    assert "waits at the merge gate" in out and "oncall-partner" in out
    gate_wait("staging", {**WAITING, "gate": {"state": "merged", "reasons": []}})  # returns


def test_an_expected_refusal_exits_4_without_a_traceback(capsys):
    code, out = ended(lambda: engine_failed("cherry-pick", "staging", error(ENGINE_TEXT)), capsys)
    assert code == REFUSED_EXIT_CODE
    assert "conflicts in:" in out and "README.md" in out and "next:" in out
    assert "Traceback" not in out and "unexpected" not in out


def test_an_unexpected_error_says_so_and_shows_its_traceback(capsys):
    text = ENGINE_TEXT.replace("release.rules.picks.PickConflict", "KeyError")
    code, out = ended(lambda: engine_failed("up", "staging", error(text)), capsys)
    assert code == FAILED_EXIT_CODE
    assert "unexpected error" in out and "Traceback" in out


def test_the_programs_own_refusal_keeps_its_error_lines(capsys):
    text = "error: Pulumi.staging.yaml: release-train:picks: bad value\nResources:\n"
    code, out = ended(lambda: engine_failed("up", "staging", error(text)), capsys)
    assert code == FAILED_EXIT_CODE
    assert "release-train:picks: bad value" in out and "unexpected" not in out


def test_intent_left_in_a_stack_file_is_refused_as_the_files_fault(tmp_path, capsys):
    """The command line names the file once, then the keys and the commands that move them."""
    from release.engine import automation

    (tmp_path / "Pulumi.yaml").write_text("name: release-train\nruntime: python\n")
    (tmp_path / "Pulumi.staging.yaml").write_text(
        "config:\n  release-train:repository: acme/service\n"
        "  release-train:environment: staging\n  release-train:releaseDate: '2026-11-26'\n"
    )
    proj = automation.Project(tmp_path)
    code, text = ended(lambda: common.check_env(proj, "staging"), capsys)
    text = " ".join(text.split())
    assert code == FAILED_EXIT_CODE
    assert text.startswith(
        "error: Pulumi.staging.yaml: sets release-train:releaseDate: operational intent"
    ), text
    assert text.count("Pulumi.staging.yaml") == 1, text
    assert "'(set)'" not in text and "config release-train:" not in text, text
    assert text.endswith(
        "remove it (pulumi config rm release-train:releaseDate -s staging), then record it "
        "with: release promote staging --commit <sha> --date 2026-11-26"
    ), text
