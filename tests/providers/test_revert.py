"""Revert provider against the sandbox, after the engine's own serialization round trip."""

from __future__ import annotations

import pytest

from release.providers.cherry_pick import CherryPickProvider
from release.providers.revert import RevertProvider
from release.rules.picks import PickConflict, PickRefused, is_temp_ref
from tests.providers.day_two_repo import RELEASE, build, engine_copy, props


@pytest.fixture
def world(sandbox, tmp_path, github_client, monkeypatch):
    shas = build(sandbox, tmp_path)
    repo = github_client(seconds_between_requests=0, seconds_between_writes=0).get_repo(
        "acme/service"
    )
    return sandbox, shas, repo, engine_copy(RevertProvider(), sandbox.token)


def head(repo):
    return repo.get_git_ref(f"heads/{RELEASE}").object.sha


def revert_props(sandbox, sha, expected):
    return props(sandbox, branch=RELEASE, revert=sha, expected_head=expected)


def test_revert_undoes_one_commit_and_keeps_the_rest(world):
    sandbox, shas, repo, provider = world
    picker = engine_copy(CherryPickProvider(), sandbox.token)
    picked = picker.create(
        props(sandbox, branch=RELEASE, pick=shas.c3, expected_head=head(repo))
    ).outs["head"]
    before = head(repo)
    result = provider.create(revert_props(sandbox, shas.r1, before))
    after = head(repo)
    assert result.outs["applied"] is True and result.outs["head"] == after
    commit = repo.get_git_commit(after)
    assert [p.sha for p in commit.parents] == [before]
    assert commit.message == f'Revert "release-only: level 9"\n\nThis reverts commit {shas.r1}.'
    assert repo.get_contents("config.txt", ref=after).decoded_content == (
        b"name = service\nlevel = 1\nmode = fast\n"
    )
    assert repo.get_contents("util.py", ref=after).decoded_content  # the pick stays
    assert [f.filename for f in repo.compare(before, after).files] == ["config.txt"]
    assert picked != after
    assert not [r for r in repo.get_git_matching_refs("heads/release-train/") if is_temp_ref(r.ref)]
    again = provider.create(revert_props(sandbox, shas.r1, after))
    assert again.outs["applied"] is False and again.outs["revert_sha"] == after
    assert head(repo) == after


def test_revert_of_a_commit_not_on_the_branch_is_refused(world):
    sandbox, shas, repo, provider = world
    before = head(repo)
    with pytest.raises(PickRefused, match="not on release/2026-11-19"):
        provider.create(revert_props(sandbox, shas.c3, before))
    assert head(repo) == before


def test_revert_conflict_names_the_file(world):
    sandbox, shas, repo, provider = world
    # c2 changed app.py; a later release commit changes the same line again
    start = repo.get_git_commit(head(repo))
    blob = repo.create_git_blob("print('v3')\n", "utf-8")
    from github import InputGitTreeElement

    tree = repo.create_git_tree(
        [InputGitTreeElement("app.py", "100644", "blob", sha=blob.sha)], start.tree
    )
    moved = repo.create_git_commit("app v3", tree, [start])
    repo.get_git_ref(f"heads/{RELEASE}").edit(moved.sha)
    with pytest.raises(PickConflict) as caught:
        provider.create(revert_props(sandbox, shas.c2, moved.sha))
    assert caught.value.files == ["app.py"]
    assert head(repo) == moved.sha
