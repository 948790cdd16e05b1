"""The `release` command prints forge text as typed: no rich markup, no emoji code, no
escape sequence from a commit title, a branch or a reason reaches the terminal, and a line
is never wrapped when the output is a log (not a terminal). The stacks are replaced by
plain data; no engine, no forge."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from release.cli import app, common
from release.cli import day_two as cli_dayto
from release.cli import ops as cli_ops
from release.cli import promotion as cli
from release.cli.console import LOG_WIDTH
from release.engine import automation
from release.engine import day_two as dayto
from release.rules.history import Row

TITLES = [
    "[/bold] closes nothing",
    "[api] speed up",
    "[bold red]alarm[/]",
    "\x1b[2J\x1b[31mred screen",
    ":tada: shipped",
    "back\\[slash",
    "<!-- @everyone",
]
SHOWN = [
    "[/bold] closes nothing",
    "[api] speed up",
    "[bold red]alarm[/]",
    "\\x1b[2J\\x1b[31mred screen",
    ":tada: shipped",
    "back\\[slash",
    "<!-- @everyone",
]


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture
def stacks(monkeypatch):
    """`project()` and the stack files of the CLI, replaced by plain data."""
    monkeypatch.setattr(cli, "project", lambda: None)
    monkeypatch.setattr(cli, "check_env", lambda proj, env: {})
    return monkeypatch


def test_release_payload_prints_commit_titles_as_typed(stacks) -> None:
    commits = [
        {"sha": f"{i:040x}", "title": title, "author": "[i]dana[/i]", "pr": None}
        for i, title in enumerate(TITLES)
    ]
    payload = {
        "previous": "release/2026-11-19",
        "release": "release/2026-11-26",
        "base_sha": "0" * 40,
        "head_sha": "1" * 40,
        "commits": commits,
        "pins": [],
        "compare_url": None,
    }
    stacks.setattr(automation, "outputs", lambda proj, env: {"payload": payload})
    result = run("payload", "staging")
    assert result.exit_code == 0, result.output
    for shown in SHOWN:
        assert f"`{shown}`" in result.output
    assert "`[i]dana[/i]`" in result.output
    assert "\x1b" not in result.output


def test_release_status_prints_releases_and_reasons_as_typed(stacks) -> None:
    rows = [
        {
            "environment": "staging",
            "release": "release/[bold]x",
            "commit": "[/bold]" + "a" * 40,
            "pr": 7,
            "state": "open",
            "mergeCommit": None,
            "dayTwo": [f"pick: {t}" for t in TITLES],
            "waiting": "#7 waits: check [ci/test] is red; " + "needs an approval " * 10,
            "intent": ["queued pick bbbbbbbbbbbb", f"last recorded: pick by {TITLES[2]}"],
        }
    ]
    stacks.setattr(cli, "collect_status", lambda proj: rows)
    stacks.setattr(cli_ops, "print_schedule", lambda proj, day=None: None)
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "release/[bold]x" in result.output and "[/bold]aaaaa" in result.output
    for shown in SHOWN:
        assert f"staging: pick: {shown}" in result.output
    assert "staging: queued pick bbbbbbbbbbbb" in result.output
    assert f"staging: last recorded: pick by {SHOWN[2]}" in result.output
    # A long reason stays on one line in a log.
    assert f"  staging: {rows[0]['waiting']}\n" in result.output


def test_release_history_prints_rows_as_typed(stacks) -> None:
    found = [
        Row(1, "2026-11-26T10:00:00", "[b]mallory[/b]", "pick", "release/x", "a" * 40, 3, t, "ok")
        for t in TITLES
    ]
    stacks.setattr(dayto, "history", lambda proj, env, everything: found)
    stacks.setattr(cli_dayto, "project", lambda: None)
    result = run("history", "staging")
    assert result.exit_code == 0, result.output
    assert "[b]mallory[/b]" in result.output
    for shown in SHOWN:
        assert shown in result.output


def test_an_error_naming_forge_text_prints_it_as_typed(capsys) -> None:
    with pytest.raises(typer.Exit):
        common.fail("would lose fix 1234567 [/bold] closes nothing (dana)\nand [api] speed up")
    err = capsys.readouterr().err
    assert "error: would lose fix 1234567 [/bold] closes nothing (dana)\nand [api] speed up" in err


def test_the_command_line_does_not_wrap_in_a_log() -> None:
    # Under pytest, as in CI, the output is not a terminal.
    for console in (common.console, common.err_console):
        assert not console.is_terminal
        assert console.width == LOG_WIDTH and console.soft_wrap


def test_a_failed_ppc_wave_prints_the_job_output_as_typed(capsys) -> None:
    from tests.unit.test_cli_ops import ROLLOUT, WAVE, error_event, urn, watch, wave_error

    w = watch(cuts=False, posted=[])
    w.post = None
    message = wave_error(3, {"hooli": "[/bold] \x1b[2J boom"})
    w.on_event(error_event(urn("ppc-wave-3", WAVE, ROLLOUT), message))
    w.finish(ok=False)
    err = capsys.readouterr().err
    assert "hooli: [/bold] \\x1b[2J boom" in err


def test_the_schedule_lines_print_as_typed(capsys, monkeypatch) -> None:
    monkeypatch.setattr(
        cli_ops, "schedule_lines", lambda proj, day=None: ["oncall: [/bold] [api] dana"]
    )
    cli_ops.print_schedule(None)
    assert capsys.readouterr().out == "oncall: [/bold] [api] dana\n"


def test_the_engine_stream_is_printed_without_escape_sequences(capsys) -> None:
    automation.printer("  ")("error: lost fix \x1b[31m[api] speed up\x1b[0m\x07\n")
    assert capsys.readouterr().out == "  error: lost fix [api] speed up\\x07\n"


def test_release_ppc_status_shows_control_characters_from_the_state_folder(stacks) -> None:
    report = {
        "environment": "production",
        "release": "release/2026-11-26",
        "commit": "a" * 40,
        "stateDir": ".state/ppcs",
        "ppcs": [
            {
                "name": "globex",
                "wave": 2,
                "release": "release/\x1b[31mx",
                "commit": "b" * 40,
                "deployedAt": None,
                "lags": True,
                "status": "behind",
                "detail": "runs release/\x1b[31mx\rrelease/2026-11-26",
            }
        ],
    }
    stacks.setattr(cli_ops, "project", lambda: None)
    stacks.setattr(cli_ops, "_ppc_env", lambda proj, env: "production")
    stacks.setattr(cli_ops, "ppc_report", lambda proj, env: report)
    result = run("ppc", "status")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\r" not in result.output
    assert "runs release/\\x1b[31mx\\rrelease/2026-11-26" in result.output
