"""The plan with the forge memo, on the seeded sandbox: a second plan of the same promotion
reads only what can change, and what a memo cannot know (a hotfix on the release branch, a
fix landing on the running release) is still read and acted on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from release import forge
from release.program.planning import open_repo, ours_merge_memo, plan_promotion
from release.rules.fixes import LostFixError
from release.rules.memo import Memo, scope_of
from tests.reliability.provider_flow import RELEASE, green_commit, plain_repo, settings_for

# Reads that name a SHA's immutable content: what the memo is for.
KEPT_ROUTES = ("/compare/", "/contents/", "/git/commits/", "/commits?")


def _plan(sb: Any, green: str, memo: Memo | None) -> Any:
    settings = settings_for(sb)
    session = forge.ForgeSession(settings.api_url, settings.repository, sb.token)
    return plan_promotion(settings, open_repo(settings, session), RELEASE, green, memo=memo)


def _fresh(memo: Memo, sb: Any) -> Memo:
    """The memo as the next run reads it back from the state."""
    return Memo.load(memo.dump(), scope_of(sb.base_url, "acme/service"))


def _kept_reads(sb: Any) -> list[str]:
    return [s.path for s in sb.served() if any(r in s.path for r in KEPT_ROUTES)]


@pytest.fixture
def setup(seeded_sandbox):
    forge._clients.clear()  # noqa: SLF001 - one client per test's sandbox
    return seeded_sandbox, green_commit(seeded_sandbox)


def test_a_second_plan_reads_only_refs_and_pull_requests(setup):
    sb, green = setup
    memo = Memo(scope_of(sb.base_url, "acme/service"))
    sb.reset_counters()
    first = _plan(sb, green, memo)
    assert first.needs_ours_merge and first.payload.pins  # compares, lost-fix check, pins
    first_reads = _kept_reads(sb)
    assert len(first_reads) >= 5

    sb.reset_counters()
    again = _plan(sb, green, _fresh(memo, sb))
    assert again == first
    assert _kept_reads(sb) == [], sb.served()
    assert sb.reads() <= 4 and sb.writes() == 0  # the environment's ref, release refs, PRs

    # without the memo, the same plan reads all of it again
    sb.reset_counters()
    assert _plan(sb, green, None) == first
    assert sorted(_kept_reads(sb)) == sorted(first_reads)


def test_a_hotfix_on_the_release_branch_is_read_and_described(setup, commit_files):
    sb, green = setup
    memo = Memo(scope_of(sb.base_url, "acme/service"))
    before = _plan(sb, green, memo)
    repo = plain_repo(sb)
    repo.create_git_ref(f"refs/heads/{RELEASE}", green)
    fix = commit_files(repo, RELEASE, {"app/hotfix.py": "X = 1\n"}, "Hotfix on the release")

    sb.reset_counters()
    after = _plan(sb, green, _fresh(memo, sb))
    reads = _kept_reads(sb)
    assert any(f"...{fix}" in path for path in reads), reads  # the new head is compared
    assert any(f"ref={fix}" in path for path in reads), reads  # and its pins read
    assert after.payload.head_sha == fix != before.payload.head_sha
    # where the plan listed the release branch, for the branch resource (not read again)
    assert (before.listed, before.release_head) == (True, None)
    assert (after.listed, after.release_head) == (True, fix)
    assert fix in [c.sha for c in after.payload.commits]
    assert "Hotfix on the release" in [c.title for c in after.payload.commits]


def test_a_fix_landing_on_the_running_release_stops_the_plan_despite_the_memo(setup, commit_files):
    sb, green = setup
    memo = Memo(scope_of(sb.base_url, "acme/service"))
    first = _plan(sb, green, memo)
    assert first.needs_ours_merge and first.previous
    kept = _fresh(memo, sb)
    assert any(name.startswith("lostfix:") for name in kept._entries)  # noqa: SLF001
    fix = commit_files(
        plain_repo(sb), first.previous, {"app/late_fix.py": "Y = 2\n"}, "Late fix on the release"
    )
    with pytest.raises(LostFixError) as raised:
        _plan(sb, green, kept)
    assert fix[:12] in str(raised.value)


def test_the_merge_walk_is_kept_as_far_as_it_went_and_goes_on_from_the_forge(setup):
    sb, _green = setup
    repo = forge.ForgeSession(sb.base_url, "acme/service", sb.token).repo
    head = forge.branch_head(repo, "staging")
    assert head

    def plain(steps: Any) -> list[tuple[str, list[str], str, bool]]:
        return [
            (
                str(m["sha"]),
                [str(p["sha"]) for p in m["parents"]],
                str(m["commit"]["message"]).split("\n", 1)[0],
                parent is not None,
            )
            for m, parent in steps
        ]

    live = plain(forge.merge_walk(repo, head))
    assert len(live) >= 2, live
    memo = Memo(scope_of(sb.base_url, "acme/service"))
    walk = forge.merge_walk(repo, head, memo=memo)
    assert plain([next(walk)]) == live[:1]
    walk.close()  # the plan stopped after the first merge

    kept = _fresh(memo, sb)
    sb.reset_counters()
    walk = forge.merge_walk(repo, head, memo=kept)
    assert plain([next(walk)]) == live[:1]
    assert sb.reads() == 0  # the kept step costs nothing
    assert plain(walk) == live[1:]  # going further reads the listing again
    assert sb.reads() >= 1
    sb.reset_counters()
    assert plain(forge.merge_walk(repo, head, memo=_fresh(kept, sb))) == live
    assert sb.reads() == 0  # the whole walk is kept now


def test_the_day_two_checks_take_the_heads_the_plan_read(setup):
    sb, green = setup
    base = settings_for(sb)
    master = plain_repo(sb).get_commits(sha="master")
    ahead = []
    for commit in master:  # newest first, down to the cut: single-parent commits not on it
        if commit.sha == green:
            break
        if len(commit.parents) == 1:
            ahead.append(commit.sha)
    assert ahead, "the seed has commits after the green one"
    settings = replace(
        base,
        picks=(ahead[-1],),
        day_two=replace(base.day_two, rollback_to="release/2026-11-19", rollback_date="2026-11-27"),
    )
    session = forge.ForgeSession(settings.api_url, settings.repository, sb.token)
    repo = open_repo(settings, session)
    sb.reset_counters()
    plan = plan_promotion(settings, repo, RELEASE, green)
    ref_reads = [s.path for s in sb.served() if "/git/ref/" in s.path]
    assert ref_reads == ["/api/v3/repos/acme/service/git/ref/heads/staging"], ref_reads
    assert plan.changes.picks and plan.rollback is not None
    assert plan.rollback.env_head == forge.branch_head(repo, "staging")
    assert plan.rollback.to_sha == forge.branch_head(repo, "release/2026-11-19")


def test_what_the_ours_merge_made_answers_the_next_plan_as_the_forge_would(setup):
    """The ours-merge's parents [cut, running head] and the cut's tree make its answers
    known: the next plan (the merging run's) reads nothing about the new head, and plans
    exactly what a plan reading all of it plans."""
    sb, green = setup
    settings = settings_for(sb)
    memo = Memo(scope_of(sb.base_url, "acme/service"))
    sb.reset_counters()
    held = _plan(sb, green, memo)
    served = [s.path for s in sb.served()]
    assert served.count(f"/api/v3/repos/acme/service/git/commits/{green}") == 1
    assert held.needs_ours_merge and held.payload.commits and held.payload.pins
    assert held.commit_tree == plain_repo(sb).get_git_commit(green).tree.sha
    repo = plain_repo(sb)
    repo.create_git_ref(f"refs/heads/{RELEASE}", green)
    merge = repo.create_git_commit(
        "Merge branch 'release/2026-11-19'",
        repo.get_git_tree(held.commit_tree),
        [repo.get_git_commit(green), repo.get_git_commit(held.previous_head)],
    )
    repo.get_git_ref(f"heads/{RELEASE}").edit(merge.sha)
    made = {"parents": [green, held.previous_head], "tree": held.commit_tree}
    facts = ours_merge_memo(held, settings.pins, merge.sha, made)
    assert len(facts) == 2 + len(settings.pins)  # the ancestor, the payload, each pin
    for name, value in facts.items():
        memo.put(name, value)

    sb.reset_counters()
    merging = _plan(sb, green, _fresh(memo, sb))
    assert not [path for path in _kept_reads(sb) if merge.sha in path], sb.served()
    assert merging.payload.head_sha == merge.sha
    assert merging == _plan(sb, green, None)  # what the forge says, read afresh


def test_nothing_is_derived_from_a_merge_not_made_exactly_so(setup):
    sb, green = setup
    settings = settings_for(sb)
    held = _plan(sb, green, Memo(scope_of(sb.base_url, "acme/service")))
    made = {"parents": [green, held.previous_head], "tree": held.commit_tree}
    head = "f" * 40
    assert ours_merge_memo(held, settings.pins, head, made)
    assert ours_merge_memo(held, settings.pins, head, None) == {}  # adopted, not made
    swapped = {**made, "parents": [held.previous_head, green]}
    assert ours_merge_memo(held, settings.pins, head, swapped) == {}
    assert ours_merge_memo(held, settings.pins, head, {**made, "tree": "e" * 40}) == {}
    assert ours_merge_memo(held, settings.pins, None, made) == {}  # not made yet
    assert ours_merge_memo(replace(held, carried=(green,)), settings.pins, head, made) == {}
    moved = replace(held, payload=held.payload.moved_to(head))  # picks moved the head
    assert ours_merge_memo(moved, settings.pins, head, made) == {}


RUNNING = "release/2026-11-19"  # what staging runs in the seed


def _compares_of(sb: Any, head: str) -> list[str]:
    """The compares served whose head is `head`, without their query."""
    paths = [s.path.split("?")[0] for s in sb.served()]
    return [p for p in paths if "/compare/" in p and p.endswith(f"...{head}")]


def test_a_fix_picked_from_master_after_the_running_cut_needs_no_ancestry_read(setup, commit_files):
    """The running release holds a pick (`-x`) of a master commit the new cut has: the
    payload's compare (running head ... cut) lists it among the cut's commits, so the lost-
    fix check asks the forge nothing more about it."""
    sb, _ = setup
    repo = plain_repo(sb)
    fix = commit_files(repo, "master", {"app/login.py": "FIXED = 1\n"}, "Fix the login page")
    message = f"Fix the login page\n\n(cherry picked from commit {fix})"
    commit_files(repo, RUNNING, {"app/login.py": "FIXED = 1\n"}, message)
    cut = commit_files(repo, "master", {"app/next.py": "N = 1\n"}, "Next feature")

    sb.reset_counters()
    plan = _plan(sb, cut, Memo(scope_of(sb.base_url, "acme/service")))
    assert plan.needs_ours_merge and plan.previous == RUNNING
    compares = _compares_of(sb, cut)
    assert compares and not any(f"/compare/{fix}..." in path for path in compares), compares


def test_a_hotfix_matched_by_its_patch_reuses_the_payloads_listing_of_the_cut(setup, commit_files):
    """A hotfix on the running release with no trailer is matched by its patch among the
    cut's own commits since the merge base: the payload's compare already listed those."""
    sb, _ = setup
    repo = plain_repo(sb)
    running_head = commit_files(repo, RUNNING, {"app/auth.py": "token.strip()\n"}, "Strip tokens")
    cut = commit_files(repo, "master", {"app/auth.py": "token.strip()\n"}, "Strip the tokens")

    sb.reset_counters()
    plan = _plan(sb, cut, Memo(scope_of(sb.base_url, "acme/service")))
    assert plan.needs_ours_merge and plan.previous == RUNNING
    # The payload's compare (running head ... cut) and no other listing ending at the cut
    # but the ancestry reads (one commit a page).
    # Compares ending at the cut: the payload's and the ancestry of the seed's older pick
    # (521b…, before the merge base); no second listing of the cut's commits.
    compares = _compares_of(sb, cut)
    assert f"/api/v3/repos/acme/service/compare/{running_head}...{cut}" in compares
    assert len(compares) == 2, compares


def test_the_lost_fix_checks_reads_go_out_beside_the_pins(setup):
    """The seed's running release holds a pick older than its merge base with the cut, so
    the lost-fix check reads that pick's ancestry. It needs the two compares only, not the
    pins: its read starts before the pins' last answer (one sequential step less)."""
    sb, green = setup
    sb.set_latency(150)
    try:
        sb.reset_counters()
        plan = _plan(sb, green, Memo(scope_of(sb.base_url, "acme/service")))
    finally:
        sb.set_latency(0)
    assert plan.needs_ours_merge and plan.payload.pins
    served = sb.served()
    payload_compare = f"/compare/{plan.payload.base_sha}...{green}"
    ancestry = [
        s
        for s in served
        if "/compare/" in s.path
        and s.path.split("?")[0].endswith(f"...{green}")
        and not s.path.split("?")[0].endswith(payload_compare)
    ]
    pins = [s for s in served if "/contents/" in s.path]
    assert len(ancestry) == 1 and len(pins) == 2 * len(plan.payload.pins), served
    assert ancestry[0].started < max(p.finished for p in pins), served
