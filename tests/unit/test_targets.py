"""What `release plan` and `release promote` would promote, from the source stack's outputs
and the command-line options: plain data, no engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from release.rules.targets import Target, TargetError, resolve_target

TODAY = dt.date(2026, 11, 26)
GREEN = "0a" * 20
HEAD = "1b" * 20
CUT = "2c" * 20
PICKED = "3d" * 20

TESTING_OUTPUTS = {
    "role": "source",
    "sourceBranch": "master",
    "greenCommit": GREEN,
    "checks": {"ci/travis": "success", "test": "success"},
    "skipped": [{"sha": "9" * 40, "reason": "test is pending"}],
}
STAGING_OUTPUTS = {
    "releaseName": "2026-11-19",
    "releaseBranch": "release/2026-11-19",
    "releaseCommit": CUT,
    "releaseHead": HEAD,
    "prNumber": 61,
    "mergeCommit": "4e" * 20,
    "state": "merged",
}


def resolve(
    stack: str = "staging",
    source: str | None = "testing",
    outputs: dict[str, Any] | None = None,
    commit: str | None = None,
    date: str | None = None,
) -> Target:
    return resolve_target(
        stack, source, TESTING_OUTPUTS if outputs is None else outputs, commit, date, TODAY
    )


def refused(**kwargs: Any) -> str:
    with pytest.raises(TargetError) as caught:
        resolve(**kwargs)
    return str(caught.value)


# -- staging from testing --------------------------------------------------------------------------


def test_staging_takes_testings_green_commit_on_the_day_of_the_cut() -> None:
    target = resolve()
    assert target == Target(GREEN, TODAY, "testing's newest green commit")
    assert target.branch == "release/2026-11-26"


def test_commit_option_overrides_the_green_commit() -> None:
    target = resolve(commit=PICKED)
    assert (target.commit, target.reason) == (PICKED, "--commit")
    assert resolve(commit=f"  {PICKED.upper()}\n").commit == PICKED


def test_date_option_overrides_the_day() -> None:
    target = resolve(date="2026-11-27")
    assert target.release_date == dt.date(2026, 11, 27)
    assert target.branch == "release/2026-11-27"
    assert target.commit == GREEN


def test_commit_option_promotes_even_without_a_green_commit() -> None:
    target = resolve(outputs={"greenCommit": None}, commit=PICKED, date="2026-12-03")
    assert target == Target(PICKED, dt.date(2026, 12, 3), "--commit")


# -- production from staging -----------------------------------------------------------------------


def test_production_takes_the_release_staging_runs_under_its_name() -> None:
    target = resolve("production", "staging", STAGING_OUTPUTS)
    assert target.commit == HEAD  # the branch's head: the cut plus its picks and ours-merge
    assert target.release_date == dt.date(2026, 11, 19)
    assert target.branch == "release/2026-11-19"
    assert target.reason == "the release staging runs (release/2026-11-19)"


def test_production_falls_back_to_the_cut_commit() -> None:
    outputs = {**STAGING_OUTPUTS, "releaseHead": None}
    assert resolve("production", "staging", outputs).commit == CUT


def test_production_options_override() -> None:
    target = resolve("production", "staging", STAGING_OUTPUTS, commit=PICKED, date="2026-11-24")
    assert target.commit == PICKED
    assert target.release_date == dt.date(2026, 11, 24)


def test_source_release_without_a_state_is_taken() -> None:
    outputs = {k: v for k, v in STAGING_OUTPUTS.items() if k != "state"}
    assert resolve("production", "staging", outputs).commit == HEAD


@pytest.mark.parametrize("state", ["open", "closed", "gate-closed"])
def test_an_unmerged_source_release_is_refused(state: str) -> None:
    message = refused(
        stack="production", source="staging", outputs={**STAGING_OUTPUTS, "state": state}
    )
    assert f"staging's release release/2026-11-19 is not merged yet (state {state})" in message
    assert "promote staging first" in message


def test_an_unmerged_source_release_can_be_bypassed_only_by_naming_the_commit() -> None:
    outputs = {**STAGING_OUTPUTS, "state": "open"}
    assert resolve("production", "staging", outputs, commit=PICKED).commit == PICKED


# -- nothing to promote ----------------------------------------------------------------------------


@pytest.mark.parametrize("outputs", [{}, {"greenCommit": None}, {"greenCommit": ""}])
def test_no_green_commit_says_what_to_run(outputs: dict[str, Any]) -> None:
    message = refused(outputs=outputs)
    assert "testing" in message
    assert "run `release promote testing` first, or pass --commit SHA" in message


def test_staging_running_nothing_says_what_to_run() -> None:
    message = refused(stack="production", source="staging", outputs={})
    assert "run `release promote staging` first, or pass --commit SHA" in message
    # Staging records releases, not green commits: the message does not send the user looking
    # for one.
    assert "green commit" not in message


def test_a_release_branch_without_a_commit_says_what_to_run() -> None:
    outputs = {"releaseBranch": "release/2026-11-19", "state": "merged"}
    message = refused(stack="production", source="staging", outputs=outputs)
    assert message == "staging runs no release yet; promote it first"


def test_the_source_stack_promotes_nothing() -> None:
    message = refused(stack="testing", source=None, outputs={})
    assert message == "testing tracks its source branch; it promotes nothing"


# -- bad options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "fix"),
    [
        ("--commit", "abc1234", "full 40-character"),
        ("--commit", "z" * 40, "40-character lowercase hex"),
        ("--commit", GREEN + "0", "40-character"),
        ("--date", "2026-13-01", "YYYY-MM-DD"),
        ("--date", "26/11/2026", "YYYY-MM-DD"),
        ("--date", "20261126", "YYYY-MM-DD"),
        ("--date", "thursday", "YYYY-MM-DD"),
    ],
)
def test_bad_options_name_the_option_the_value_and_the_fix(
    option: str, value: str, fix: str
) -> None:
    kwargs = {"commit": value} if option == "--commit" else {"date": value}
    message = refused(**kwargs)
    assert message.startswith(f"option {option} = ")
    assert value.strip().lower() in message.lower()
    assert fix in message
    assert "release-train:" not in message  # an option, not a stack config key


def test_bad_options_are_refused_before_the_source_is_looked_at() -> None:
    message = refused(stack="production", source="staging", outputs={}, date="tomorrow")
    assert message.startswith("option --date = 'tomorrow'")
