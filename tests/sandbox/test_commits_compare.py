"""Commits list/get, compare base...head and the merges API."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import github
import pytest


def _dated_commit(repo, branch, path, text, message, when):
    tip = repo.get_git_ref(f"heads/{branch}")
    parent = repo.get_git_commit(tip.object.sha)
    tree = repo.create_git_tree(
        [github.InputGitTreeElement(path, "100644", "blob", content=text)], parent.tree
    )
    who = github.InputGitAuthor("Dev", "dev@example.com", when)
    commit = repo.create_git_commit(message, tree, [parent], author=who, committer=who)
    tip.edit(commit.sha)
    return commit.sha


def test_commits_list_filters_and_pagination(acme, github_client):
    shas = [
        _dated_commit(
            acme, "master", f"f{i}.txt", f"{i}\n", f"commit {i}", f"2024-01-0{i + 1}T12:00:00Z"
        )
        for i in range(5)
    ]
    repo = github_client(per_page=2).get_repo("acme/service")
    listed = [c.sha for c in repo.get_commits()]
    assert listed[:5] == list(reversed(shas))
    assert len(listed) == 6  # plus the initial commit
    assert repo.get_commits().totalCount == 6
    assert [c.sha for c in repo.get_commits(path="f2.txt")] == [shas[2]]
    since = datetime(2024, 1, 2, tzinfo=UTC)
    until = datetime(2024, 1, 4, tzinfo=UTC)
    assert [c.sha for c in repo.get_commits(since=since, until=until)] == [shas[2], shas[1]]
    assert [c.sha for c in repo.get_commits(sha=shas[1])][:2] == [shas[1], shas[0]]
    with pytest.raises(github.GithubException) as err:
        list(repo.get_commits(sha="no-such-branch"))
    assert err.value.status == 404


def test_commit_get_has_files_and_stats(acme, commit_files):
    sha = commit_files(
        acme, "master", {"a.txt": "one\ntwo\n", "README.md": None}, "Add a, drop README"
    )
    commit = acme.get_commit(sha)
    assert commit.commit.message == "Add a, drop README"
    files = {f.filename: f for f in commit.files}
    assert files["a.txt"].status == "added" and files["a.txt"].additions == 2
    assert files["README.md"].status == "removed"
    assert commit.stats.additions == 2 and commit.stats.deletions == 1
    assert "+one" in files["a.txt"].patch
    with pytest.raises(github.GithubException) as err:
        acme.get_commit("f" * 40)
    assert err.value.status in (404, 422)


def test_compare_ahead_behind_diverged(acme, commit_files):
    base = acme.get_branch("master").commit.sha
    acme.create_git_ref("refs/heads/feature", base)
    f1 = commit_files(acme, "feature", {"f.txt": "1\n"}, "f1")
    f2 = commit_files(acme, "feature", {"f.txt": "2\n"}, "f2")
    cmp = acme.compare("master", "feature")
    assert (cmp.status, cmp.ahead_by, cmp.behind_by, cmp.total_commits) == ("ahead", 2, 0, 2)
    assert [c.sha for c in cmp.commits] == [f1, f2]
    assert cmp.merge_base_commit.sha == base
    assert [f.filename for f in cmp.files] == ["f.txt"]
    assert acme.compare("feature", "master").status == "behind"
    assert acme.compare("master", "master").status == "identical"
    commit_files(acme, "master", {"m.txt": "m\n"}, "m1")
    cmp = acme.compare("master", "feature")
    assert (cmp.status, cmp.ahead_by, cmp.behind_by) == ("diverged", 2, 1)


def test_compare_paginates_commits_at_250(sandbox, acme):
    base = acme.get_branch("master").commit.sha
    # 260 commits written straight into the bare repo with git fast-import (fast to set up)
    stream = ["reset refs/heads/long", f"from {base}"]
    for i in range(260):
        msg = f"c{i}"
        stream += [
            "commit refs/heads/long",
            f"mark :{i + 1}",
            f"committer Dev <dev@example.com> {1704067200 + i} +0000",
            f"data {len(msg)}",
            msg,
        ]
        if i == 0:
            stream.append(f"from {base}")
    subprocess.run(
        [
            "git",
            "--git-dir",
            str(sandbox.data_dir / "repos/acme/service.git"),
            "fast-import",
            "--quiet",
        ],
        input=("\n".join(stream) + "\n").encode(),
        check=True,
    )
    expected = [
        c["sha"]
        for page in (1, 2)
        for c in acme._requester.requestJsonAndCheck(
            "GET", f"{acme.url}/compare/master...long", parameters={"page": page, "per_page": 250}
        )[1]["commits"]
    ]
    chain = subprocess.run(
        [
            "git",
            "--git-dir",
            str(sandbox.data_dir / "repos/acme/service.git"),
            "rev-list",
            "--reverse",
            f"{base}..long",
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split()
    assert expected == chain and len(chain) == 260
    cmp = acme.compare("master", "long")
    assert cmp.total_commits == 260
    assert [c.sha for c in cmp.commits] == chain
    raw = acme._requester.requestJsonAndCheck("GET", f"{acme.url}/compare/master...long")[1]
    assert len(raw["commits"]) == 250
    headers, _ = acme._requester.requestJsonAndCheck(
        "GET", f"{acme.url}/compare/master...long", parameters={"page": 1, "per_page": 250}
    )
    assert 'rel="next"' in headers["link"]


def test_merges_api_201_204_409(acme, commit_files):
    base = acme.get_branch("master").commit.sha
    acme.create_git_ref("refs/heads/topic", base)
    topic = commit_files(acme, "topic", {"t.txt": "t\n"}, "topic")
    master = commit_files(acme, "master", {"m.txt": "m\n"}, "master work")
    merged = acme.merge("master", "topic", "Merge topic")
    assert merged is not None
    assert [p.sha for p in merged.parents] == [master, topic]
    assert merged.commit.message == "Merge topic"
    assert acme.get_branch("master").commit.sha == merged.sha
    assert acme.merge("master", "topic") is None  # 204: already merged
    # a conflict
    acme.create_git_ref("refs/heads/clash", merged.sha)
    commit_files(acme, "clash", {"m.txt": "clash\n"}, "clash")
    commit_files(acme, "master", {"m.txt": "other\n"}, "other")
    with pytest.raises(github.GithubException) as err:
        acme.merge("master", "clash")
    assert err.value.status == 409
    assert err.value.data["message"] == "Merge conflict"
    with pytest.raises(github.GithubException) as err:
        acme.merge("master", "nope")
    assert err.value.status == 404
