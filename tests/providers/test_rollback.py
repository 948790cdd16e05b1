"""RollbackCommit provider against the sandbox, after the engine's own serialization round trip."""

from __future__ import annotations

import pytest

from release.providers.grafting import BranchMoved
from release.providers.rollback import RollbackCommitError, RollbackCommitProvider
from tests.providers.day_two_repo import (
    ENV,
    PREVIOUS,
    RELEASE,
    build,
    engine_copy,
    props,
)

BRANCH = "rollback/staging-2026-11-27"


@pytest.fixture
def world(sandbox, tmp_path, github_client, monkeypatch):
    shas = build(sandbox, tmp_path)
    repo = github_client(seconds_between_requests=0, seconds_between_writes=0).get_repo(
        "acme/service"
    )
    # staging runs release/2026-11-19: merge it in, as a promotion would have
    repo.merge(ENV, RELEASE, "Merge pull request #9 from acme/release/2026-11-19")
    return sandbox, shas, repo, engine_copy(RollbackCommitProvider(), sandbox.token)


def head(repo, branch):
    return repo.get_git_ref(f"heads/{branch}").object.sha


def rollback_props(sandbox, repo, env_head=None):
    return props(
        sandbox,
        environment=ENV,
        branch=BRANCH,
        to_release=PREVIOUS,
        to_sha=head(repo, PREVIOUS),
        env_head=env_head or head(repo, ENV),
        from_release=RELEASE,
    )


def test_rollback_commit_has_the_earlier_tree_and_the_env_head_as_parent(world):
    sandbox, shas, repo, provider = world
    env_head = head(repo, ENV)
    result = provider.create(rollback_props(sandbox, repo))
    commit = repo.get_git_commit(result.outs["head"])
    assert head(repo, BRANCH) == commit.sha
    assert commit.tree.sha == repo.get_git_commit(shas.c1).tree.sha == result.outs["tree"]
    assert [p.sha for p in commit.parents] == [env_head]
    assert commit.message.startswith(f"Roll back {ENV} from {RELEASE} to {PREVIOUS}\n")
    assert head(repo, ENV) == env_head  # the environment moves only through the PR's merge
    assert repo.compare(shas.c1, commit.sha).files == []  # c1 is the merge base
    assert {f.filename for f in repo.compare(env_head, commit.sha).files} == {
        "app.py",
        "config.txt",
    }


def test_rollback_again_adopts_the_branch(world):
    sandbox, _shas, repo, provider = world
    first = provider.create(rollback_props(sandbox, repo))
    sandbox.reset_counters()
    again = provider.create(rollback_props(sandbox, repo))
    assert again.outs["head"] == first.outs["head"]
    assert not any(v["writes"] for v in sandbox.counters().values())


def test_rollback_refuses_a_moved_environment_and_a_foreign_branch(world):
    sandbox, shas, repo, provider = world
    stale = head(repo, ENV)
    repo.merge(ENV, "feature-x", "Merge feature-x")
    with pytest.raises(BranchMoved, match="nothing was rolled back"):
        provider.create(rollback_props(sandbox, repo, env_head=stale))
    assert [r.ref for r in repo.get_git_matching_refs("heads/rollback/")] == []
    repo.create_git_ref(f"refs/heads/{BRANCH}", shas.c6)
    with pytest.raises(RollbackCommitError, match="another tree"):
        provider.create(rollback_props(sandbox, repo))
    assert head(repo, BRANCH) == shas.c6


def test_diff_keeps_the_rollback_when_the_environment_moves(world):
    sandbox, _shas, repo, provider = world
    old = {**rollback_props(sandbox, repo), "__provider": "a"}
    assert (
        provider.diff("id", old, {**old, "env_head": "f" * 40, "__provider": "b"}).changes is False
    )
    assert provider.diff("id", old, {**old, "to_sha": "e" * 40}).replaces == ["to_sha"]
