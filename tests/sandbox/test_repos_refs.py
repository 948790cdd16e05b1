"""Repository, branches, refs, contents and the git data API, through PyGithub."""

from __future__ import annotations

import github
import pytest


def test_repo_get_and_settings(acme, github_client):
    gh = github_client()
    repo = gh.get_repo("acme/service")
    assert repo.full_name == "acme/service"
    assert repo.default_branch == "master"
    assert repo.owner.login == "acme"
    assert repo.allow_squash_merge is True
    repo.edit(allow_squash_merge=False, allow_rebase_merge=False)
    again = gh.get_repo("acme/service")
    assert (again.allow_merge_commit, again.allow_squash_merge, again.allow_rebase_merge) == (
        True,
        False,
        False,
    )


def test_unknown_repo_is_404_in_github_shape(sandbox, github_client):
    with pytest.raises(github.UnknownObjectException) as err:
        github_client().get_repo("acme/nothing")
    assert err.value.status == 404
    assert err.value.data["message"] == "Not Found"
    assert "documentation_url" in err.value.data


def test_branches_list_and_get(acme, commit_files, github_client):
    sha = commit_files(acme, "release/2024-01-04", {"a.txt": "a\n"}, "Add a")
    repo = github_client().get_repo("acme/service")
    names = [b.name for b in repo.get_branches()]
    assert names == ["master", "release/2024-01-04"]
    branch = repo.get_branch("release/2024-01-04")
    assert branch.commit.sha == sha
    assert branch.commit.commit.message == "Add a"
    with pytest.raises(github.GithubException) as err:
        repo.get_branch("nope")
    assert err.value.status == 404


def test_branches_paginate_with_link_headers(acme, github_client):
    master = acme.get_branch("master").commit.sha
    for i in range(5):
        acme.create_git_ref(f"refs/heads/b{i}", master)
    gh = github_client(per_page=2)
    repo = gh.get_repo("acme/service")
    branches = repo.get_branches()
    assert branches.totalCount == 6
    assert [b.name for b in branches] == ["b0", "b1", "b2", "b3", "b4", "master"]


def test_refs_create_get_list_delete(acme, github_client):
    repo = github_client().get_repo("acme/service")
    master = repo.get_git_ref("heads/master").object.sha
    ref = repo.create_git_ref("refs/heads/feature/x", master)
    assert ref.ref == "refs/heads/feature/x"
    assert ref.object.sha == master and ref.object.type == "commit"
    assert [r.ref for r in repo.get_git_matching_refs("heads/feature/")] == ["refs/heads/feature/x"]
    assert {r.ref for r in repo.get_git_refs()} >= {"refs/heads/master", "refs/heads/feature/x"}
    with pytest.raises(github.GithubException) as err:
        repo.create_git_ref("refs/heads/feature/x", master)
    assert err.value.status == 422
    assert err.value.data["message"] == "Reference already exists"
    assert isinstance(err.value.data["errors"], list)
    with pytest.raises(github.GithubException) as err:
        repo.create_git_ref("refs/heads/bad", "0" * 40)
    assert err.value.status == 422
    repo.get_git_ref("heads/feature/x").delete()
    with pytest.raises(github.UnknownObjectException):
        repo.get_git_ref("heads/feature/x")


def test_non_fast_forward_refused_unless_forced_and_logged(sandbox, acme, commit_files):
    first = acme.get_branch("master").commit.sha
    second = commit_files(acme, "master", {"b.txt": "b\n"}, "Add b")
    ref = acme.get_git_ref("heads/master")
    with pytest.raises(github.GithubException) as err:
        ref.edit(first)
    assert err.value.status == 422
    assert err.value.data["message"] == "Update is not a fast forward"
    assert acme.get_git_ref("heads/master").object.sha == second
    assert sandbox.forced_updates("acme/service") == []
    ref.edit(first, force=True)
    assert acme.get_git_ref("heads/master").object.sha == first
    log = sandbox.forced_updates("acme/service")
    assert [(e["ref"], e["old_sha"], e["new_sha"], e["login"]) for e in log] == [
        ("refs/heads/master", second, first, "release-bot")
    ]
    # a fast-forward needs no force and is not logged
    acme.get_git_ref("heads/master").edit(second)
    assert len(sandbox.forced_updates("acme/service")) == 1


def test_git_data_api_commit_tree_blob(acme):
    blob = acme.create_git_blob("aGVsbG8K", "base64")
    assert acme.get_git_blob(blob.sha).content.replace("\n", "") == "aGVsbG8K"
    master = acme.get_git_commit(acme.get_branch("master").commit.sha)
    tree = acme.create_git_tree(
        [
            github.InputGitTreeElement("src/app.py", "100644", "blob", content="print('hi')\n"),
            github.InputGitTreeElement("hello.txt", "100644", "blob", sha=blob.sha),
        ],
        master.tree,
    )
    paths = {e.path for e in acme.get_git_tree(tree.sha, recursive=True).tree}
    assert paths == {"README.md", "src", "src/app.py", "hello.txt"}
    author = github.InputGitAuthor("Dev One", "dev1@example.com", "2024-01-02T03:04:05Z")
    commit = acme.create_git_commit("Add app", tree, [master], author=author)
    got = acme.get_git_commit(commit.sha)
    assert got.author.name == "Dev One"
    assert got.author.date.isoformat() == "2024-01-02T03:04:05+00:00"
    assert [p.sha for p in got.parents] == [master.sha]
    assert got.tree.sha == tree.sha
    # removing a file with sha=None
    smaller = acme.create_git_tree(
        [github.InputGitTreeElement("hello.txt", "100644", "blob", sha=None)], tree
    )
    assert {e.path for e in smaller.tree} == {"README.md", "src"}


def test_contents_at_ref(acme, commit_files):
    sha = commit_files(acme, "master", {"dir/f.txt": "v1\n"}, "v1")
    commit_files(acme, "master", {"dir/f.txt": "v2\n"}, "v2")
    assert acme.get_contents("dir/f.txt").decoded_content == b"v2\n"
    assert acme.get_contents("dir/f.txt", ref=sha).decoded_content == b"v1\n"
    listing = acme.get_contents("dir")
    assert [c.path for c in listing] == ["dir/f.txt"]
    with pytest.raises(github.UnknownObjectException):
        acme.get_contents("missing.txt")


def test_invalid_input_is_422_with_errors(acme):
    with pytest.raises(github.GithubException) as err:
        acme._requester.requestJsonAndCheck("POST", f"{acme.url}/git/refs", input={"sha": "abc"})
    assert err.value.status == 422
    assert err.value.data["message"] == "Validation Failed"
    assert err.value.data["errors"][0]["field"] == "ref"
