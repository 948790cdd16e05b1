"""Deployments and deployment statuses in the sandbox, through PyGithub (GitHub's rules)."""

from __future__ import annotations

import github
import pytest


def _deploy(repo, ref: str, environment: str, **kwargs):
    return repo.create_deployment(
        ref, environment=environment, required_contexts=[], auto_merge=False, **kwargs
    )


def test_create_get_list_with_filters_and_pages(acme, commit_files):
    first = acme.get_branch("master").commit.sha
    second = commit_files(acme, "master", {"a.txt": "a\n"}, "Add a")
    d1 = _deploy(acme, first, "staging", payload={"release": "release/2026-11-19"})
    d2 = _deploy(acme, "master", "staging", task="deploy:verify")
    d3 = _deploy(acme, second, "production", description="Promote")
    assert (d1.sha, d1.ref, d1.task, d1.environment) == (first, first, "deploy", "staging")
    assert d1.payload == {"release": "release/2026-11-19"}
    assert d2.sha == second and d2.ref == "master"
    assert d3.production_environment is True and d1.production_environment is False
    assert acme.get_deployment(d1.id).payload == {"release": "release/2026-11-19"}
    assert [d.id for d in acme.get_deployments()] == [d3.id, d2.id, d1.id]  # newest first
    assert [d.id for d in acme.get_deployments(environment="staging")] == [d2.id, d1.id]
    assert [d.id for d in acme.get_deployments(sha=second)] == [d3.id, d2.id]
    assert [d.id for d in acme.get_deployments(task="deploy:verify")] == [d2.id]
    assert [d.id for d in acme.get_deployments(ref="master")] == [d2.id]
    assert [d.id for d in acme.get_deployments(environment="qa")] == []
    raw = acme._requester.requestJsonAndCheck(  # noqa: SLF001
        "GET", f"{acme.url}/deployments", parameters={"per_page": 2, "page": 2}
    )
    assert [d["id"] for d in raw[1]] == [d1.id] and 'rel="prev"' in raw[0]["link"]


def test_refusals(acme):
    sha = acme.get_branch("master").commit.sha
    with pytest.raises(github.GithubException) as err:
        _deploy(acme, "no-such-branch", "staging")
    assert err.value.status == 422
    acme.get_commit(sha).create_status("failure", context="ci")
    with pytest.raises(github.GithubException) as err:  # every context must be green
        acme.create_deployment(sha, environment="staging", auto_merge=False)
    assert err.value.status == 409 and "status checks failed" in err.value.data["message"]
    with pytest.raises(github.GithubException) as err:
        acme.create_deployment(
            sha, environment="staging", auto_merge=False, required_contexts=["ci"]
        )
    assert err.value.status == 409
    acme.get_commit(sha).create_status("success", context="ci")
    assert acme.create_deployment(sha, environment="staging", auto_merge=False).sha == sha
    with pytest.raises(github.GithubException) as err:
        acme.get_deployment(999999).create_status("success")
    assert err.value.status == 404


def test_auto_merge_merges_the_default_branch_into_a_branch_behind_it(acme, commit_files):
    base = acme.get_branch("master").commit.sha
    commit_files(acme, "topic", {"t.txt": "t\n"}, "Topic", parents=[base])
    tip = commit_files(acme, "master", {"m.txt": "m\n"}, "Master moves")
    status, _headers, body = acme._requester.requestJson(  # noqa: SLF001
        "POST", f"{acme.url}/deployments", input={"ref": "topic", "required_contexts": []}
    )
    assert status == 202 and "Auto-merged master into topic" in body
    head = acme.get_branch("topic").commit
    assert [p.sha for p in head.parents][1] == tip
    assert acme.get_deployments().totalCount == 0  # 202: merged, nothing deployed yet
    assert acme.create_deployment("topic", required_contexts=[]).sha == head.sha
    commit_files(acme, "clash", {"m.txt": "other\n"}, "Clash", parents=[base])
    with pytest.raises(github.GithubException) as err:
        acme.create_deployment("clash", required_contexts=[])
    assert err.value.status == 409 and "Conflict merging master into clash" in str(err.value)


def test_statuses_log_url_environment_and_auto_inactive(acme):
    sha = acme.get_branch("master").commit.sha
    old = _deploy(acme, sha, "staging")
    old.create_status("success")
    kept = _deploy(acme, sha, "staging", transient_environment=True)
    kept.create_status("success")
    failed = _deploy(acme, sha, "staging")
    failed.create_status("failure")
    prod = _deploy(acme, sha, "production")
    prod.create_status("success")
    new = _deploy(acme, sha, "staging")
    acme._requester.requestJsonAndCheck(  # noqa: SLF001 - PyGithub has no log_url
        "POST",
        f"{new.url}/statuses",
        input={"state": "in_progress", "log_url": "https://ci.example/run/7"},
    )
    status = new.create_status(
        "success", environment_url="https://staging.example", description="verified"
    )
    assert (status.state, status.environment_url, status.description) == (
        "success",
        "https://staging.example",
        "verified",
    )
    states = [s.state for s in new.get_statuses()]
    assert states == ["success", "in_progress"]
    progress = new.get_status(new.get_statuses()[1].id)
    assert progress.raw_data["log_url"] == progress.target_url == "https://ci.example/run/7"

    def latest(d):
        return next(iter(d.get_statuses())).state

    # auto_inactive: earlier successful, non-transient, non-production deployments only
    assert latest(old) == "inactive"
    assert (latest(kept), latest(failed), latest(prod)) == ("success", "failure", "success")
    again = _deploy(acme, sha, "staging")
    again.create_status("success", auto_inactive=False)
    assert latest(new) == "success"
    moved = _deploy(acme, sha, "staging")
    moved.create_status("queued", environment="qa")
    assert acme.get_deployment(moved.id).environment == "qa"
    assert acme.get_deployment(moved.id).original_environment == "staging"
    with pytest.raises(github.GithubException) as err:
        new.create_status("sideways")
    assert err.value.status == 422
