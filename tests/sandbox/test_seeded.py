"""The sandbox serves the seeded acme/service like GitHub would (history, branches, PRs)."""

from __future__ import annotations


def test_seeded_repo_is_served(seeded_sandbox, github_client):
    repo = github_client().get_repo("acme/service")
    names = {b.name for b in repo.get_branches()}
    assert {"master", "staging", "production"} <= names
    assert repo.get_commits(sha="master").totalCount >= 40
    staging = repo.get_branch("staging").commit
    assert len(staging.parents) == 2  # a real merge commit
    cmp = repo.compare("production", "staging")
    assert cmp.status in ("ahead", "diverged", "identical")
    master_tip = repo.get_branch("master").commit.sha
    assert repo.get_commit(master_tip).get_combined_status().state in (
        "pending",
        "failure",
        "success",
    )
