"""Commit statuses, combined state, check runs, dispatches, users and rate limit."""

from __future__ import annotations

import github
import pytest


def test_statuses_and_combined_state_rules(acme):
    sha = acme.get_branch("master").commit.sha
    commit = acme.get_commit(sha)
    assert commit.get_combined_status().state == "pending"  # no statuses yet
    commit.create_status("pending", context="ci/travis", description="running")
    assert commit.get_combined_status().state == "pending"
    commit.create_status("success", context="ci/travis", target_url="http://ci.invalid/1")
    commit.create_status("success", context="lint")
    combined = acme.get_commit("master").get_combined_status()
    assert combined.state == "success"
    assert combined.total_count == 2
    assert {s.context: s.state for s in combined.statuses} == {
        "ci/travis": "success",
        "lint": "success",
    }
    commit.create_status("error", context="lint")
    assert commit.get_combined_status().state == "failure"
    commit.create_status("success", context="lint")
    commit.create_status("failure", context="ci/travis")
    assert commit.get_combined_status().state == "failure"
    states = [(s.context, s.state) for s in commit.get_statuses()]
    assert states[0] == ("ci/travis", "failure") and len(states) == 6
    assert all(s.creator.login == "release-bot" for s in commit.get_statuses())


def test_status_refusals(acme):
    sha = acme.get_branch("master").commit.sha
    with pytest.raises(github.GithubException) as err:
        acme.get_commit(sha).create_status("sparkly")
    assert err.value.status == 422 and err.value.data["errors"]
    with pytest.raises(github.GithubException) as err:
        acme._requester.requestJsonAndCheck(
            "POST", f"{acme.url}/statuses/{'0' * 40}", input={"state": "success"}
        )
    assert err.value.status == 422


def test_check_runs_create_update_list(acme):
    sha = acme.get_branch("master").commit.sha
    run = acme.create_check_run("test", sha, status="in_progress")
    assert run.status == "in_progress" and run.conclusion is None
    acme.create_check_run(
        "lint", sha, conclusion="failure", output={"title": "lint", "summary": "2 errors"}
    )
    run.edit(conclusion="success")
    runs = acme.get_commit(sha).get_check_runs()
    assert runs.totalCount == 2
    assert {r.name: (r.status, r.conclusion) for r in runs} == {
        "test": ("completed", "success"),
        "lint": ("completed", "failure"),
    }
    assert [r.name for r in acme.get_commit("master").get_check_runs(check_name="test")] == ["test"]
    assert acme.get_check_run(run.id).completed_at is not None
    # a rerun: filter=latest shows only the newest run of a name, filter=all shows both
    acme.create_check_run("lint", sha, conclusion="success")
    latest = {r.name: r.conclusion for r in acme.get_commit(sha).get_check_runs()}
    assert latest == {"test": "success", "lint": "success"}
    assert acme.get_commit(sha).get_check_runs(filter="all").totalCount == 3


def test_checks_and_statuses_make_a_pull_unstable(acme, commit_files):
    acme.create_git_ref("refs/heads/feature", acme.get_branch("master").commit.sha)
    head = commit_files(acme, "feature", {"x.txt": "x\n"}, "x")
    pr = acme.create_pull(title="x", body="", head="feature", base="master")
    assert acme.get_pull(pr.number).mergeable_state == "clean"
    run = acme.create_check_run("test", head, status="in_progress")
    assert acme.get_pull(pr.number).mergeable_state == "unstable"
    run.edit(conclusion="success")
    assert acme.get_pull(pr.number).mergeable_state == "clean"
    acme.get_commit(head).create_status("failure", context="ci/travis")
    assert acme.get_pull(pr.number).mergeable_state == "unstable"


def test_repository_and_workflow_dispatch_recorded(sandbox, acme, commit_files):
    assert acme.create_repository_dispatch("promote", {"stack": "staging"}) is True
    commit_files(
        acme,
        "master",
        {
            ".github/workflows/release.yml": "on:\n  workflow_dispatch:\n"
            "    inputs:\n      stack: {required: true}\njobs: {}\n"
        },
        "Add workflow",
    )
    workflow = acme.get_workflow("release.yml")
    assert workflow.path == ".github/workflows/release.yml"
    assert workflow.create_dispatch("master", {"stack": "production"}) is True
    # As GitHub: an input the workflow does not declare, or a required one missing, is refused.
    for inputs, message in (
        ({"stack": "x", "colour": "blue"}, 'Unexpected inputs provided: ["colour"]'),
        ({}, "Required input 'stack' not provided"),
    ):
        with pytest.raises(github.GithubException) as refused:
            workflow.create_dispatch("master", inputs, throw=True)
        assert (refused.value.status, refused.value.data["message"]) == (422, message)
    with pytest.raises(github.GithubException) as err:
        acme.get_workflow(workflow.id).create_dispatch("no-such-ref", throw=True)
    assert err.value.status == 422
    records = sandbox.dispatches("acme/service")
    assert [(r["kind"], r.get("event_type"), r.get("ref")) for r in records] == [
        ("repository_dispatch", "promote", None),
        ("workflow_dispatch", None, "master"),
    ]
    assert records[0]["client_payload"] == {"stack": "staging"}
    assert records[1]["inputs"] == {"stack": "production"}


def test_users_and_rate_limit(acme, github_client, sandbox):
    gh = github_client()
    assert gh.get_user().login == "release-bot"
    assert github_client(sandbox.reviewer_token).get_user().login == "oncall-partner"
    assert gh.get_user("oncall-partner").login == "oncall-partner"
    assert gh.get_user("acme").type == "Organization"
    with pytest.raises(github.UnknownObjectException):
        gh.get_user("nobody-at-all")
    assert gh.get_rate_limit().resources.core.limit == 5000
