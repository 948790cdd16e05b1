"""Injected faults, request counters and pausing after N writes, plus auth errors."""

from __future__ import annotations

import threading
import time

import github
import pytest
import requests


@pytest.mark.parametrize(
    ("kind", "status", "exc"),
    [
        ("500", 500, github.GithubException),
        ("502", 502, github.GithubException),
        ("secondary_rate_limit", 403, github.RateLimitExceededException),
        ("429", 429, github.GithubException),
    ],
)
def test_error_faults_seen_by_pygithub(sandbox, acme, github_client, kind, status, exc):
    sandbox.inject("GET", "/repos/acme/service", kind, count=1, retry_after=7)
    gh = github_client()
    with pytest.raises(exc) as err:
        gh.get_repo("acme/service")
    assert err.value.status == status
    if kind in ("secondary_rate_limit", "429"):
        assert err.value.headers.get("retry-after") == "7"
    assert gh.get_repo("acme/service").full_name == "acme/service"  # the fault was used up


def test_fault_pattern_and_count(sandbox, acme):
    sandbox.inject("POST", "/repos/*/statuses/*", "500", count=2)
    sha = acme.get_branch("master").commit.sha
    commit = acme.get_commit(sha)
    for _ in range(2):
        with pytest.raises(github.GithubException):
            commit.create_status("success", context="ci")
    commit.create_status("success", context="ci")
    assert commit.get_combined_status().state == "success"


def test_delay_and_drop(sandbox, acme, github_client):
    sandbox.inject("GET", "/repos/acme/service", "delay", seconds=0.4)
    gh = github_client()
    started = time.monotonic()
    gh.get_repo("acme/service")
    assert time.monotonic() - started >= 0.4
    sandbox.inject("GET", "/repos/acme/service", "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        github_client().get_repo("acme/service")
    sandbox.inject("*", "/repos/acme/service", "500")
    sandbox.clear_faults()
    assert gh.get_repo("acme/service").name == "service"


def test_pygithub_default_retry_rides_over_a_500(sandbox, acme):
    sandbox.inject("GET", "/repos/acme/service", "500", count=1)
    gh = github.Github(
        base_url=sandbox.base_url,
        auth=github.Auth.Token(sandbox.token),
        retry=github.GithubRetry(total=2, backoff_factor=0.01),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    assert gh.get_repo("acme/service").full_name == "acme/service"
    assert sandbox.counters()["GET /repos/{owner}/{repo}"]["reads"] >= 2


def test_counters_read_and_reset(sandbox, acme, github_client):
    sandbox.reset_counters()
    assert sandbox.reads() == 0 and sandbox.writes() == 0
    repo = github_client().get_repo("acme/service")
    repo.get_branch("master")
    repo.create_git_ref("refs/heads/x", repo.get_branch("master").commit.sha)
    counts = sandbox.counters()
    assert counts["GET /repos/{owner}/{repo}"] == {"reads": 1, "writes": 0}
    assert counts["GET /repos/{owner}/{repo}/branches/{branch}"] == {"reads": 2, "writes": 0}
    assert counts["POST /repos/{owner}/{repo}/git/refs"] == {"reads": 0, "writes": 1}
    assert (sandbox.reads(), sandbox.writes()) == (3, 1)
    sandbox.reset_counters()
    assert sandbox.counters() == {}


def test_control_endpoints(sandbox, acme):
    auth = {"Authorization": f"token {sandbox.token}"}
    assert requests.get(f"{sandbox.url}/_sandbox/counters").status_code == 401
    body = requests.get(f"{sandbox.url}/_sandbox/counters", headers=auth).json()
    assert body["writes"] >= 1
    assert requests.delete(f"{sandbox.url}/_sandbox/counters", headers=auth).status_code == 204
    assert sandbox.counters() == {}
    fault = {"method": "GET", "path_pattern": "/repos/acme/service", "kind": "502", "count": 1}
    assert (
        requests.post(f"{sandbox.url}/_sandbox/faults", json=fault, headers=auth).status_code == 201
    )
    assert requests.get(f"{sandbox.base_url}/repos/acme/service", headers=auth).status_code == 502
    requests.post(f"{sandbox.url}/_sandbox/faults", json=fault, headers=auth)
    assert requests.delete(f"{sandbox.url}/_sandbox/faults", headers=auth).status_code == 204
    assert requests.get(f"{sandbox.base_url}/repos/acme/service", headers=auth).status_code == 200
    ro = {"Authorization": f"token {sandbox.read_only_token}"}
    assert requests.post(f"{sandbox.url}/_sandbox/resume", headers=ro).status_code == 403


def test_pause_after_writes_and_resume(sandbox, acme, github_client):
    repo = github_client().get_repo("acme/service")
    master = repo.get_branch("master").commit.sha
    paused = sandbox.pause_after_writes(2)
    repo.create_git_ref("refs/heads/a", master)
    assert not paused.is_set()
    repo.get_branch("a")  # reads do not count
    repo.create_git_ref("refs/heads/b", master)
    assert paused.wait(2)
    done = threading.Event()

    def later() -> None:
        github_client().get_repo("acme/service").create_git_ref("refs/heads/c", master)
        done.set()

    threading.Thread(target=later, daemon=True).start()
    assert not done.wait(0.5)  # blocked while paused
    sandbox.resume()
    assert done.wait(5)
    assert {b.name for b in repo.get_branches()} == {"master", "a", "b", "c"}


def test_pause_through_control_endpoint(sandbox, acme):
    auth = {"Authorization": f"token {sandbox.token}"}
    assert (
        requests.post(
            f"{sandbox.url}/_sandbox/pause", json={"after_writes": 1}, headers=auth
        ).status_code
        == 201
    )
    master = acme.get_branch("master").commit.sha
    acme.create_git_ref("refs/heads/a", master)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{sandbox.base_url}/repos/acme/service", headers=auth, timeout=0.5)
    assert requests.post(f"{sandbox.url}/_sandbox/resume", headers=auth).status_code == 204
    assert (
        requests.get(f"{sandbox.base_url}/repos/acme/service", headers=auth, timeout=30).status_code
        == 200
    )


def test_auth_errors(sandbox, acme, github_client):
    with pytest.raises(github.BadCredentialsException) as err:
        github_client("wrong-token").get_repo("acme/service")
    assert err.value.status == 401 and err.value.data["message"] == "Bad credentials"
    anonymous = requests.get(f"{sandbox.base_url}/repos/acme/service")
    assert anonymous.status_code == 401 and "documentation_url" in anonymous.json()
    reader = github_client(sandbox.read_only_token).get_repo("acme/service")
    assert reader.get_branch("master").name == "master"
    with pytest.raises(github.GithubException) as err:
        reader.create_git_ref("refs/heads/nope", reader.get_branch("master").commit.sha)
    assert err.value.status == 403
    assert set(err.value.data) >= {"message", "documentation_url"}
