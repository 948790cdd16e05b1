"""CherryPick provider against the sandbox, after the engine's own serialization round trip."""

from __future__ import annotations

import pytest

from release.providers.cherry_pick import CherryPickProvider
from release.providers.grafting import BranchMoved
from release.rules.picks import PickConflict, PickRefused, is_temp_ref
from tests.providers.day_two_repo import RELEASE, build, engine_copy, props


@pytest.fixture
def world(sandbox, tmp_path, github_client, monkeypatch):
    shas = build(sandbox, tmp_path)
    repo = github_client(seconds_between_requests=0, seconds_between_writes=0).get_repo(
        "acme/service"
    )
    provider = engine_copy(CherryPickProvider(), sandbox.token)
    return sandbox, shas, repo, provider


def head(repo, branch=RELEASE):
    return repo.get_git_ref(f"heads/{branch}").object.sha


def temp_refs(repo):
    return [r.ref for r in repo.get_git_matching_refs("heads/release-train/") if is_temp_ref(r.ref)]


def pick_props(sandbox, sha, expected, **kw):
    return props(
        sandbox,
        branch=RELEASE,
        pick=sha,
        expected_head=expected,
        source_branch="master",
        allow_off_master=False,
        **kw,
    )


def test_pick_applies_one_commit_with_trailer_and_original_author(world):
    sandbox, shas, repo, provider = world
    before = head(repo)
    result = provider.create(pick_props(sandbox, shas.c3, before))
    after = head(repo)
    assert result.outs["applied"] is True
    assert result.outs["head"] == after == result.outs["picked_sha"]
    commit = repo.get_git_commit(after)
    assert [p.sha for p in commit.parents] == [before]
    assert commit.message == (
        "fix: handle empty input\n\nEmpty input crashed the parser.\n\n"
        f"(cherry picked from commit {shas.c3})"
    )
    assert (commit.author.name, commit.author.email) == ("Chen Wei", "chen@acme.example")
    assert commit.author.date == repo.get_git_commit(shas.c3).author.date
    files = repo.compare(before, after).files
    assert [(f.filename, f.status) for f in files] == [("util.py", "added")]
    assert repo.get_contents("config.txt", ref=after).decoded_content == (
        b"name = service\nlevel = 9\nmode = fast\n"
    )
    assert temp_refs(repo) == []


def test_picking_twice_is_a_no_op(world):
    sandbox, shas, repo, provider = world
    first = provider.create(pick_props(sandbox, shas.c3, head(repo)))
    sandbox.reset_counters()
    again = provider.create(pick_props(sandbox, shas.c3, first.outs["head"]))
    assert again.outs["applied"] is False
    assert again.outs["picked_sha"] == first.outs["head"]
    assert head(repo) == first.outs["head"]
    writes = {k: v for k, v in sandbox.counters().items() if v["writes"]}
    assert writes == {}


def test_same_patch_without_trailer_counts_as_applied(world):
    sandbox, shas, repo, provider = world
    start = repo.get_git_commit(head(repo))
    # a hand-made pick of c3 without -x: the same change, another message
    tree = repo.get_git_commit(
        provider.create(pick_props(sandbox, shas.c3, start.sha)).outs["head"]
    ).tree
    manual = repo.create_git_commit("handle empty input (manual pick)", tree, [start])
    repo.get_git_ref(f"heads/{RELEASE}").edit(manual.sha, force=True)
    result = provider.create(pick_props(sandbox, shas.c3, manual.sha))
    assert result.outs["applied"] is False
    assert result.outs["picked_sha"] == manual.sha
    assert head(repo) == manual.sha


def test_conflict_names_files_and_changes_nothing(world):
    sandbox, shas, repo, provider = world
    before = head(repo)
    refs_before = sorted(r.ref for r in repo.get_git_matching_refs("heads/"))
    with pytest.raises(PickConflict) as caught:
        provider.create(pick_props(sandbox, shas.c4, before))
    assert caught.value.files == ["config.txt"]
    assert "config.txt" in str(caught.value) and "Nothing was pushed" in str(caught.value)
    assert head(repo) == before
    assert sorted(r.ref for r in repo.get_git_matching_refs("heads/")) == refs_before
    assert temp_refs(repo) == []


def test_merge_commit_is_refused(world):
    sandbox, shas, repo, provider = world
    before = head(repo)
    with pytest.raises(PickRefused, match="merge commit"):
        provider.create(pick_props(sandbox, shas.m5, before))
    assert head(repo) == before


def test_off_master_pick_is_refused_unless_allowed(world):
    sandbox, shas, repo, provider = world
    before = head(repo)
    with pytest.raises(PickRefused, match="upstream first"):
        provider.create(pick_props(sandbox, shas.x1, before))
    assert head(repo) == before
    allowed = provider.create({**pick_props(sandbox, shas.x1, before), "allow_off_master": True})
    assert allowed.outs["applied"] is True
    assert repo.get_contents("x.txt", ref=head(repo)).decoded_content == b"x\n"


def test_moved_branch_fails_safely(world):
    sandbox, shas, repo, provider = world
    stale = head(repo)
    repo.get_git_ref(f"heads/{RELEASE}").edit(
        repo.create_git_commit(
            "someone else", repo.get_git_commit(stale).tree, [repo.get_git_commit(stale)]
        ).sha
    )
    moved = head(repo)
    with pytest.raises(BranchMoved, match="nothing was picked"):
        provider.create(pick_props(sandbox, shas.c3, stale))
    assert head(repo) == moved
    assert temp_refs(repo) == []


def test_leftover_temp_branch_of_a_crashed_run_is_removed(world):
    sandbox, shas, repo, provider = world
    from release.rules.picks import temp_branch

    leftover = temp_branch("pick", RELEASE, shas.c3)
    repo.create_git_ref(f"refs/heads/{leftover}", shas.c1)
    result = provider.create(pick_props(sandbox, shas.c3, head(repo)))
    assert result.outs["applied"] is True
    assert temp_refs(repo) == []


def test_diff_ignores_the_provider_and_replaces_on_a_new_pick(world):
    sandbox, shas, _repo, provider = world
    old = {**pick_props(sandbox, shas.c3, "a" * 40), "__provider": "x"}
    assert provider.diff("id", old, {**old, "__provider": "y"}).changes is False
    assert provider.diff("id", old, {**old, "pick": shas.c6}).replaces == ["pick"]
    changed = provider.diff("id", old, {**old, "expected_head": "b" * 40})
    assert changed.changes is True and changed.replaces == []


def test_delete_forgets(world):
    sandbox, shas, repo, provider = world
    result = provider.create(pick_props(sandbox, shas.c3, head(repo)))
    provider.delete(result.id, result.outs)
    assert head(repo) == result.outs["head"]


def test_fast_forward_is_never_forced(world):
    _sandbox, _shas, repo, _provider = world
    from release.providers.grafting import fast_forward

    start = repo.get_git_commit(head(repo))
    ours = repo.create_git_commit("ours", start.tree, [start])
    theirs = repo.create_git_commit("theirs", start.tree, [start])
    repo.get_git_ref(f"heads/{RELEASE}").edit(theirs.sha)
    with pytest.raises(BranchMoved, match="nothing was forced"):
        fast_forward(repo, RELEASE, theirs.sha, ours.sha)  # not a fast-forward of theirs
    with pytest.raises(BranchMoved, match="nothing was pushed"):
        fast_forward(repo, RELEASE, start.sha, ours.sha)  # moved since it was read
    assert head(repo) == theirs.sha


def test_plan_time_checks_read_only(world):
    sandbox, shas, repo, _provider = world
    from release.program.planning import plan_pick
    from release.rules.config import Settings

    settings = Settings(
        stack="staging",
        repository="acme/service",
        environment="staging",
        api_url=sandbox.base_url,
        promotes_from="testing",
    )
    current = head(repo)
    sandbox.reset_counters()
    assert plan_pick(repo, settings, 0, shas.c3, current) is None
    assert plan_pick(repo, settings, 0, shas.c2, current) == shas.c2  # already in the cut
    with pytest.raises(PickRefused, match="merge commit") as merge:
        plan_pick(repo, settings, 1, shas.m5, current)
    assert merge.value.key == "picks[1]"
    with pytest.raises(PickRefused, match="upstream first"):
        plan_pick(repo, settings, 2, shas.x1, current)
    allowed = Settings(**{**settings.__dict__, "allow_off_master": True})
    assert plan_pick(repo, allowed, 2, shas.x1, current) is None
    assert not any(v["writes"] for v in sandbox.counters().values())
