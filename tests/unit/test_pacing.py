"""The pacing policy: chosen from the API URL, overridable, and its write spacing."""

from __future__ import annotations

import pytest

from release.rules.errors import ConfigError
from release.rules.pacing import PACING_VARIABLE, Pacing, for_api


def test_github_asks_for_spaced_writes_and_few_reads_in_flight() -> None:
    policy = for_api("https://api.github.com")
    assert policy == Pacing.github()
    assert (policy.write_spacing, policy.reads_in_flight) == (1.0, 4)
    assert for_api("https://ghe.example.com/api/v3") == Pacing.github()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/api/v3", "http://localhost:9/api"])
def test_a_forge_on_this_machine_is_not_spaced(url: str) -> None:
    assert for_api(url) == Pacing.local()
    assert Pacing.local().write_spacing == 0


def test_the_environment_overrides_the_policy_for_benchmarks() -> None:
    local_url = "http://127.0.0.1:8080/api/v3"
    assert for_api(local_url, {PACING_VARIABLE: "github"}) == Pacing.github()
    assert for_api("https://api.github.com", {PACING_VARIABLE: " Local "}) == Pacing.local()


def test_an_unknown_override_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"RELEASE_TRAIN_PACING='fast'.*github, local"):
        for_api("https://api.github.com", {PACING_VARIABLE: "fast"})


def test_write_wait_counts_from_the_last_write() -> None:
    policy = Pacing.github()
    assert policy.write_wait(None, 10.0) == 0
    assert policy.write_wait(10.0, 10.25) == pytest.approx(0.75)
    assert policy.write_wait(10.0, 12.0) == 0
    assert Pacing.local().write_wait(10.0, 10.0) == 0


def test_a_policy_refuses_impossible_values() -> None:
    with pytest.raises(ValueError, match="reads in flight"):
        Pacing("x", 1.0, 0)
