"""The most recent green build: newest first, skipped commits with reasons, and the number
of commits whose checks are read (1 + k for k red or pending commits at the tip)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from release.rules.gates import FAILURE, PENDING, SUCCESS, check_states
from release.rules.green import GreenResult, Skipped, newest_green

REQUIRED = ("ci/travis", "test")


def sha(n: int) -> str:
    return f"{n:040x}"


class History:
    """A source branch, newest first, that counts what the caller reads from it."""

    def __init__(self, states: list[Mapping[str, str]]) -> None:
        self.states = {sha(len(states) - i): dict(s) for i, s in enumerate(states)}
        self.order = list(self.states)
        self.yielded = 0
        self.asked: list[str] = []

    def commits(self) -> Iterator[str]:
        for commit in self.order:
            self.yielded += 1
            yield commit

    def checks_of(self, commit: str) -> Mapping[str, str]:
        self.asked.append(commit)
        return self.states[commit]


GREEN = {"ci/travis": SUCCESS, "test": SUCCESS}
RED = {"ci/travis": SUCCESS, "test": FAILURE}
PENDING_TEST = {"ci/travis": SUCCESS, "test": PENDING}
NO_TEST = {"ci/travis": SUCCESS}


def test_the_tip_is_green() -> None:
    history = History([GREEN, GREEN, RED])
    result = newest_green(history.commits(), history.checks_of, REQUIRED)
    assert result.sha == history.order[0]
    assert result.skipped == ()
    assert result.checks == GREEN
    assert history.asked == history.order[:1]


def test_first_green_newest_first_with_skipped_reasons() -> None:
    history = History([RED, PENDING_TEST, NO_TEST, GREEN, GREEN])
    result = newest_green(history.commits(), history.checks_of, REQUIRED)
    first, second, third, green = history.order[:4]
    assert result.sha == green
    assert result.skipped == (
        Skipped(first, "test is failure"),
        Skipped(second, "test is pending"),
        Skipped(third, "test is missing"),
    )
    assert history.asked == [first, second, third, green]


def test_every_failing_check_is_in_the_reason() -> None:
    history = History([{"ci/travis": FAILURE, "test": PENDING}, GREEN])
    result = newest_green(history.commits(), history.checks_of, REQUIRED)
    assert result.skipped[0].reason == "ci/travis is failure; test is pending"


@pytest.mark.parametrize("k", [0, 1, 2, 5, 12])
def test_reads_the_checks_of_one_plus_k_commits(k: int) -> None:
    reds = [RED if i % 2 else PENDING_TEST for i in range(k)]
    history = History(reds + [GREEN] + [RED] * 500 + [GREEN] * 500)
    result = newest_green(history.commits(), history.checks_of, REQUIRED, lookback=30)
    assert result.sha == history.order[k]
    assert len(history.asked) == 1 + k
    assert len(result.skipped) == k
    assert history.yielded == 1 + k  # the history is not walked past the green commit


def test_lookback_bounds_the_search() -> None:
    history = History([RED] * 10 + [GREEN])
    result = newest_green(history.commits(), history.checks_of, REQUIRED, lookback=4)
    assert result.sha is None
    assert len(history.asked) == 4
    assert [s.sha for s in result.skipped] == history.order[:4]
    # Not one commit more is pulled from the history (a further page of the forge's list).
    assert history.yielded == 4


def test_green_just_inside_the_lookback() -> None:
    history = History([RED] * 3 + [GREEN])
    assert newest_green(history.commits(), history.checks_of, REQUIRED, 4).sha == history.order[3]
    history = History([RED] * 4 + [GREEN])
    assert newest_green(history.commits(), history.checks_of, REQUIRED, 4).sha is None


def test_a_history_shorter_than_the_lookback() -> None:
    history = History([RED, PENDING_TEST])
    result = newest_green(history.commits(), history.checks_of, REQUIRED, lookback=30)
    assert result == GreenResult(None, {}, tuple(result.skipped))
    assert len(result.skipped) == 2 and len(history.asked) == 2


def test_an_empty_history() -> None:
    result = newest_green(iter(()), lambda _: GREEN, REQUIRED)
    assert result.sha is None and result.skipped == ()
    assert result.describe() == "no green commit found"


def test_no_required_checks_means_every_check_seen_must_pass() -> None:
    history = History([{}, {"lint": FAILURE, "test": SUCCESS}, {"lint": SUCCESS}])
    result = newest_green(history.commits(), history.checks_of, ())
    assert result.sha == history.order[2]
    assert [s.reason for s in result.skipped] == ["no checks reported", "lint is failure"]
    assert result.checks == {"lint": SUCCESS}


def test_checks_not_required_do_not_stop_a_commit() -> None:
    history = History([{**GREEN, "lint": FAILURE}])
    result = newest_green(history.commits(), history.checks_of, REQUIRED)
    assert result.sha == history.order[0]
    assert result.checks == GREEN  # the required ones, as exported


def test_from_forge_shaped_statuses_and_check_runs() -> None:
    """checks_of as the program builds it: check_states over the forge's lists."""
    forge = {
        sha(3): (
            [{"id": 1, "context": "ci/travis", "state": "success", "created_at": "T1"}],
            [{"id": 2, "name": "test", "status": "in_progress", "conclusion": None}],
        ),
        sha(2): (
            [
                {"id": 3, "context": "ci/travis", "state": "failure", "created_at": "T1"},
                {"id": 4, "context": "ci/travis", "state": "success", "created_at": "T2"},
            ],
            [{"id": 5, "name": "test", "status": "completed", "conclusion": "neutral"}],
        ),
    }
    result = newest_green([sha(3), sha(2)], lambda commit: check_states(*forge[commit]), REQUIRED)
    assert result.sha == sha(2)
    assert result.skipped == (Skipped(sha(3), "test is pending"),)


def test_describe_names_the_skipped_and_the_green_commit() -> None:
    history = History([RED, GREEN])
    text = newest_green(history.commits(), history.checks_of, REQUIRED).describe()
    assert text.splitlines() == [
        f"skipped {history.order[0][:12]}: test is failure",
        f"newest green commit: {history.order[1]}",
    ]
