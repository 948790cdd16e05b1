"""What a plain `pulumi up` promotes when nothing is pinned: the source stack's outputs,
decided as the `release` command line decides (release/rules/targets.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pulumi
import pytest

from release.program import entry as program
from release.rules import clock
from release.rules.config import ConfigError
from tests.support.mocks import EchoMocks, install
from tests.unit.test_program import stack_settings

GREEN = "a" * 40
HEAD = "b" * 40
PICKED = "c" * 40
TODAY = dt.date(2026, 11, 26)


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def settings(stack: str, **pins: Any):
    return dataclasses.replace(stack_settings(stack), **pins)


def decide(stack: str, outputs: dict[str, Any], **pins: Any) -> tuple[str, str]:
    install(EchoMocks(), stack)
    return program._from_source(settings(stack, **pins), outputs)


def test_staging_cuts_testing_green_commit_named_after_today():
    assert decide("staging", {"greenCommit": GREEN}) == ("release/2026-11-26", GREEN)


def test_production_takes_the_merged_release_staging_runs():
    outputs = {"releaseBranch": "release/2026-11-19", "releaseHead": HEAD, "state": "merged"}
    assert decide("production", outputs) == ("release/2026-11-19", HEAD)


def test_production_refuses_a_staging_release_not_merged_yet():
    outputs = {"releaseBranch": "release/2026-11-19", "releaseHead": HEAD, "state": "open"}
    with pytest.raises(ConfigError) as err:
        decide("production", outputs)
    assert err.value.key == "promotesFrom"
    assert "release/2026-11-19 is not merged yet" in str(err.value)
    assert "promote staging first" in str(err.value)


def test_no_green_commit_says_to_promote_the_source_or_pin_a_commit():
    with pytest.raises(ConfigError) as err:
        decide("staging", {"greenCommit": None})
    assert "has no green commit recorded" in str(err.value)
    # The program's way to pin is the record's (`release promote --commit`), never a
    # stack-file key, which is refused.
    assert "record a pin with `release promote staging --commit SHA`" in str(err.value)
    assert "release-train:commit" not in str(err.value)


def test_pins_win_over_the_source():
    outputs = {"releaseBranch": "release/2026-11-19", "releaseHead": HEAD, "state": "open"}
    pinned = decide("production", outputs, commit=PICKED, release_date=dt.date(2026, 11, 20))
    assert pinned == ("release/2026-11-20", PICKED)
    # Only the commit pinned: the release keeps the source's name, as `release promote
    # production --commit` names it.
    assert decide("production", outputs, commit=PICKED) == ("release/2026-11-19", PICKED)


def test_unpinned_up_reads_the_source_stack_state_through_a_stack_reference(monkeypatch):
    """The program wires the reference's outputs, `state` included, into the decision."""
    source = {"releaseBranch": "release/2026-11-19", "releaseHead": HEAD, "state": "open"}
    install(EchoMocks({"pulumi:pulumi:StackReference": {"outputs": source}}), "production")
    monkeypatch.setattr(program, "parse_settings", lambda *_a: settings("production"))
    monkeypatch.setenv("GITHUB_TOKEN", "sandbox-token-program-source")  # remembered as a secret
    monkeypatch.setattr(program, "open_repo", lambda *_a: None)
    built: list[tuple[str, str]] = []

    def build(
        _settings,
        _repo,
        release,
        commit,
        _source,
        _token=None,
        _record=None,
        _memo=None,
        _head=None,
    ):
        built.append((release, commit))
        return dict.fromkeys(program.PROMOTION_OUTPUTS, "x")

    monkeypatch.setattr(program, "build_promotion", build)

    @pulumi.runtime.test
    def run_open():
        program._main()

    with pytest.raises(Exception, match="not merged yet"):
        run_open()
    assert built == []

    source["state"] = "merged"
    install(EchoMocks({"pulumi:pulumi:StackReference": {"outputs": source}}), "production")

    @pulumi.runtime.test
    def run_merged():
        program._main()

    run_merged()
    assert built == [("release/2026-11-19", HEAD)]


def test_a_promotion_and_a_day_two_command_act_as_one_identity(monkeypatch):
    """The program's entry and the command line build their forge session with the same
    rule: the stack's token secret first, then GITHUB_TOKEN."""
    from pulumi.runtime.config import set_config

    from release.cli import common as cli
    from release.engine import automation

    monkeypatch.setenv("GITHUB_TOKEN", "token-of-the-environment")
    install(EchoMocks({}), "staging")
    monkeypatch.setattr(program, "parse_settings", lambda *_a: settings("staging"))
    sessions: list = []

    def open_repo(_settings, session):
        sessions.append(session)
        raise ConfigError("repository", None, "stop here")

    monkeypatch.setattr(program, "open_repo", open_repo)
    set_config("release-train:token", "token-of-the-stack")
    try:
        with pytest.raises(ConfigError, match="stop here"):
            program._main()
    finally:
        set_config("release-train:token", "")
    # The stack file holds the secret (encrypted), so the command line asks the engine for it.
    monkeypatch.setattr(automation.Project, "stack_file", lambda *_a: {"token": {"secure": "x"}})
    monkeypatch.setattr(automation, "secret", lambda *_a: "token-of-the-stack")
    command_line = cli.forge_session(automation.Project(), settings("staging"))
    assert [s.token for s in sessions] == [command_line.token] == ["token-of-the-stack"]
    assert "token-of-the-stack" not in repr(command_line)
    # Without the secret, both fall back to the environment's token.
    monkeypatch.setattr(automation, "secret", lambda *_a: None)
    assert cli.forge_session(automation.Project(), settings("staging")).token == (
        "token-of-the-environment"
    )


def test_the_program_refuses_an_unknown_key_of_its_namespace_before_any_read(monkeypatch):
    """A plain `pulumi up` checks the keys too: `pulumi.Config` alone would skip the typo."""
    from pulumi.runtime.config import set_config

    install(EchoMocks({}), "staging")
    opened: list = []
    monkeypatch.setattr(program, "open_repo", lambda *a: opened.append(a))
    set_config("release-train:requiredApproval", "2")
    set_config("pulumi:tags", "{}")  # another namespace: left alone
    try:
        with pytest.raises(ConfigError, match=r"did you mean release-train:requiredApprovals\?"):
            program._main()
    finally:
        pulumi.runtime.config.CONFIG.get().pop("release-train:requiredApproval", None)
        pulumi.runtime.config.CONFIG.get().pop("pulumi:tags", None)
    assert opened == []


def test_the_run_applies_its_delta_to_the_record_the_engine_stored(monkeypatch):
    from release.providers.train_record import RESOURCE_NAME, TYPE
    from release.rules.intent import ENV_VAR, apply_ops, encode_ops

    stored = apply_ops(
        program.EMPTY, [{"op": "pin", "commit": GREEN, "date": "2026-11-26", "by": "ana"}]
    )
    urn = f"urn:pulumi:staging::release-train::{TYPE}::{RESOURCE_NAME}"
    install(
        EchoMocks(checkpoint={urn: {"type": TYPE, "outputs": {"record": stored.to_dict()}}}),
        "staging",
    )
    env = {ENV_VAR: encode_ops([{"op": "pick", "sha": PICKED, "by": "ben"}])}
    found = []

    @pulumi.runtime.test
    def run():
        found.append(program.read_intent("staging", env))

    run()
    (record,) = found
    assert (record.commit, record.picks) == (GREEN, (PICKED,))
    assert [e["by"] for e in record.log] == ["ana", "ben"]


def test_a_delta_for_the_stack_that_tracks_its_source_is_refused(monkeypatch):
    from release.rules.intent import ENV_VAR, encode_ops

    install(EchoMocks(), "testing")
    monkeypatch.setattr(program, "parse_settings", lambda *_a: settings("testing"))
    monkeypatch.setenv(ENV_VAR, encode_ops([{"op": "pick", "sha": PICKED}]))
    monkeypatch.setattr(program, "open_repo", lambda *_a: pytest.fail("no forge read"))

    @pulumi.runtime.test
    def run():
        program._main()

    with pytest.raises(ConfigError, match="testing tracks its source branch"):
        run()


def test_intent_left_in_the_stack_file_is_refused_before_anything_else(monkeypatch):
    from release.rules.intent import LegacyIntentError

    install(EchoMocks(), "staging")
    monkeypatch.setattr(
        program, "read_pulumi_config", lambda _get: {"repository": "o/r", "picks": [PICKED]}
    )
    monkeypatch.setattr(program, "open_repo", lambda *_a: pytest.fail("no forge read"))

    @pulumi.runtime.test
    def run():
        program._main()

    with pytest.raises(LegacyIntentError, match="pulumi config rm release-train:picks"):
        run()
