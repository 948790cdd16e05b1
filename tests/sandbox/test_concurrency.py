"""Concurrent writers to one repository lose nothing and corrupt nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def test_concurrent_statuses_and_refs(sandbox, acme, github_client):
    sha = acme.get_branch("master").commit.sha

    def work(i: int) -> None:
        repo = github_client().get_repo("acme/service")
        repo.get_commit(sha).create_status("success", context=f"ctx-{i}")
        repo.create_git_ref(f"refs/heads/c{i}", sha)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(16)))
    combined = acme.get_commit(sha).get_combined_status()
    assert combined.total_count == 16 and combined.state == "success"
    assert len(list(acme.get_branches())) == 17
    ids = [s.id for s in acme.get_commit(sha).get_statuses()]
    assert len(set(ids)) == 16
