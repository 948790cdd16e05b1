"""Which release an environment runs, and every place a fix can sit, on plain data.

A small commit graph stands in for the repository: `master`, two weekly releases merged into
`staging` through pull requests, and a new cut. The environment's running release comes from
its merges (release.rules.running), the lost-fix check compares the new cut against that
release branch's CURRENT head (release.rules.fixes), as the program does, with the compare
API simulated on the graph.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from release.rules.fixes import cherry_pick_origins, lost_fixes, patch_fingerprint
from release.rules.running import (
    Continuation,
    EnvMerge,
    StackRecord,
    check_head,
    continue_choice,
    first_parent_merges,
    in_flight,
    name_merge,
    record_from_state,
    rollback_evidence,
    rollback_superseded,
    running_release,
)

W, X, Y = "release/2026-11-19", "release/2026-11-26", "release/2026-12-03"


def patch(name: str, line: str) -> list[dict[str, Any]]:
    return [{"filename": name, "status": "modified", "patch": f"@@ -1 +1 @@\n-old\n+{line}\n"}]


class Graph:
    """Commits (as the compare and commits APIs list them), their files, branches, PRs."""

    def __init__(self) -> None:
        self.commits: dict[str, dict[str, Any]] = {}
        self.files: dict[str, list[dict[str, Any]]] = {}
        self.order: list[str] = []
        self.branches: dict[str, str] = {}
        self.pulls: dict[str, dict[str, Any]] = {}

    def add(
        self,
        name: str,
        parents: list[str],
        message: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> str:
        sha = f"{len(self.order) + 1:02d}{name}".ljust(40, "0")[:40]
        sha = "".join(c if c in "0123456789abcdef" else "a" for c in sha)
        assert sha not in self.commits
        self.commits[sha] = {
            "sha": sha,
            "parents": [{"sha": p} for p in parents],
            "commit": {"message": message or name, "author": {"name": "Dana Okafor"}},
        }
        self.files[sha] = files if files is not None else patch(f"{name}.py", name)
        self.order.append(sha)
        return sha

    def merge(self, into: str, head: str, title: str, pr: int | None = None) -> str:
        sha = self.add("m", [self.branches[into], head], title, [])
        self.branches[into] = sha
        if pr is not None:
            branch = title.rsplit(" from acme/", 1)[-1]
            self.pulls[sha] = {"number": pr, "head": branch}
        return sha

    def message(self, sha: str) -> str:
        return self.commits[sha]["commit"]["message"]

    def ancestors(self, sha: str) -> set[str]:
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += [p["sha"] for p in self.commits[current]["parents"]]
        return seen

    def listing(self, head: str) -> list[dict[str, Any]]:
        """GET /commits?sha=head: every ancestor, newest first."""
        reachable = self.ancestors(head)
        return [self.commits[s] for s in reversed(self.order) if s in reachable]

    def env_merges(self, env: str, record: StackRecord | None = None) -> list[EnvMerge]:
        heads = {sha: name for name, sha in self.branches.items() if name.startswith("release/")}
        found = []
        for merge in first_parent_merges(self.listing(self.branches[env]), self.branches[env]):
            second = self.commits[merge["parents"][1]["sha"]]
            named = name_merge(merge, second, record, self.pulls, heads)
            if named:
                found.append(named)
        return found

    def lost(self, env: str, cut: str, promoting: str, carried: tuple[str, ...] = ()) -> list[str]:
        """The program's decision: the running release, its current head, the lost fixes."""
        running = running_release(self.env_merges(env), None, promoting)
        assert running.merge is not None
        head, _drift = check_head(running.merge, self.branches.get(running.merge.release))
        new = self.ancestors(cut)
        only = [c for c in self.listing(head) if c["sha"] not in new]
        fixes = lost_fixes(
            only,
            new_has=lambda sha: any(s.startswith(sha) for s in new),
            new_fingerprints=lambda: {patch_fingerprint(self.files[s]) for s in new},
            fingerprint_of=lambda sha: patch_fingerprint(self.files[sha]),
            carried=carried,
            new_picked=lambda: [o for s in new for o in cherry_pick_origins(self.message(s))],
        )
        return [fix.sha for fix in fixes]


@pytest.fixture
def g() -> Graph:
    """master m1..m3; W cut at m1 and merged into staging (PR #5); X cut at m2, ours-merged
    with W, merged into staging (PR #7). The next cut, for Y, is m3."""
    graph = Graph()
    m1 = graph.add("a1", [])
    graph.branches.update(master=m1, staging=graph.add("s0", [m1]), **{W: m1})
    graph.merge("staging", m1, f"Merge pull request #5 from acme/{W}", pr=5)
    m2 = graph.add("a2", [m1])
    ours = graph.add("o1", [m2, m1], f"Merge branch '{W}' into {X}", [])
    graph.branches[X] = ours
    graph.merge("staging", ours, f"Merge pull request #7 from acme/{X}", pr=7)
    graph.branches["master"] = graph.add("a3", [m2])
    return graph


def hotfix(g: Graph, on: str = X, name: str = "hf", files: Any = None, message: str = "") -> str:
    sha = g.add(name, [g.branches[on]], message or f"Hotfix {name}", files)
    g.branches[on] = sha
    return sha


# -- which release the environment runs -------------------------------------------------------


def test_staging_runs_the_release_last_merged_even_after_a_hotfix_moved_its_branch(g):
    hotfix(g)
    running = running_release(g.env_merges("staging"), None, Y)
    assert running.release == X
    assert running.merge.pr == 7 and running.merge.named_by == "pull request"
    head, drift = check_head(running.merge, g.branches[X])
    assert head == g.branches[X] and drift.moved and "moved since its merge" in drift.describe()


def test_the_release_being_promoted_again_keeps_the_release_before_it(g):
    # X re-merged after a pick: re-running X's promotion still finds W before it.
    pick = hotfix(g, name="pk")
    g.merge("staging", pick, f"Merge pull request #9 from acme/{X}", pr=9)
    running = running_release(g.env_merges("staging"), None, X)
    assert running.release == W
    assert any("merged already" in note for note in running.notes)


def test_a_merge_without_pull_request_is_named_by_the_branch_head_or_its_title(g):
    fix = hotfix(g)
    g.merge("staging", fix, "Merge the hotfix into staging")  # no PR: the merges API
    merges = g.env_merges("staging")
    assert (merges[0].release, merges[0].named_by) == (X, "branch head")
    merge = {
        "sha": "f" * 40,
        "parents": [{"sha": "1" * 40}, {"sha": "2" * 40}],
        "commit": {"message": f"Merge branch '{W}' into staging"},
    }
    assert name_merge(merge, None, None, {}, {}).release == W
    merge["commit"]["message"] = "Merge branch 'feature-x' into staging"
    assert name_merge(merge, None, None, {}, {}) is None


def test_the_stack_record_names_its_merge_and_a_later_merge_by_hand_wins_with_a_note(g):
    recorded = EnvMerge(g.branches["staging"], g.branches[X], X, pr=7, named_by="record")
    record = StackRecord(merged=recorded)
    assert g.env_merges("staging", record)[0].named_by == "record"
    # Someone merged another release into staging by hand, outside release-train.
    g.branches["release/2026-11-28"] = g.add("z1", [g.branches["master"]])
    g.merge("staging", g.branches["release/2026-11-28"], "Merge release/2026-11-28 by hand")
    stale = StackRecord(merged=EnvMerge("e" * 40, "d" * 40, X, pr=7, named_by="record"))
    running = running_release(g.env_merges("staging", stale), stale, Y)
    assert running.release == "release/2026-11-28"
    assert any("merged outside release-train" in note for note in running.notes)


def test_no_merge_on_the_branch_falls_back_to_the_stack_record_with_a_note():
    record = StackRecord(merged=EnvMerge("e" * 40, "d" * 40, X, pr=7, named_by="record"))
    running = running_release([], record, Y)
    assert running.release == X and "going by the stack's record" in running.notes[0]
    assert running_release([], None, Y).merge is None


def test_the_walk_reads_the_listing_only_as_far_as_it_needs():
    listing = [
        {"sha": "c3", "parents": [{"sha": "c2"}, {"sha": "r1"}], "commit": {"message": "m"}},
        {"sha": "r1", "parents": [{"sha": "c1"}]},
        {"sha": "c2", "parents": [{"sha": "c1"}]},
        {"sha": "c1", "parents": [{"sha": "c0"}, {"sha": "r0"}]},
    ]
    served: list[str] = []

    def lazily():
        for item in listing:
            served.append(item["sha"])
            yield item

    walk = first_parent_merges(lazily(), "c3")
    assert next(walk)["sha"] == "c3" and served == ["c3"]
    assert next(walk)["sha"] == "c1"
    assert next(walk, None) is None  # c0 is not in the listing: the walk ends


# -- every place a fix can sit ----------------------------------------------------------------


def test_a_hotfix_only_on_the_running_branch_would_be_lost(g):
    fix = hotfix(g)
    assert g.lost("staging", g.branches["master"], Y) == [fix]


def test_a_hotfix_merged_into_the_environment_would_be_lost(g):
    fix = hotfix(g)
    g.merge("staging", fix, f"Merge pull request #8 from acme/{X}", pr=8)
    assert g.lost("staging", g.branches["master"], Y) == [fix]


def test_a_fix_picked_with_x_onto_master_is_not_lost(g):
    fix = hotfix(g)
    # Adapted while picking (another patch), but its trailer names the hotfix.
    g.branches["master"] = g.add(
        "p1", [g.branches["master"]], f"Hotfix hf\n\n(cherry picked from commit {fix[:10]})"
    )
    assert g.lost("staging", g.branches["master"], Y) == []


def test_a_pick_from_master_onto_the_running_release_is_not_lost(g):
    on_master = g.branches["master"]
    hotfix(g, name="pk", message=f"Fix\n\n(cherry picked from commit {on_master})")
    assert g.lost("staging", on_master, Y) == []


def test_an_off_master_fix_with_the_same_patch_under_another_sha_is_not_lost(g):
    hotfix(g, files=patch("app/auth.py", "token.strip()"))
    g.branches["master"] = g.add(
        "p2", [g.branches["master"]], "Strip tokens", patch("app/auth.py", "token.strip()")
    )
    assert g.lost("staging", g.branches["master"], Y) == []


def test_a_hotfix_reverted_on_the_running_branch_cancels_out(g):
    fix = hotfix(g)
    hotfix(g, name="rv", message=f'Revert "Hotfix hf"\n\nThis reverts commit {fix}.')
    assert g.lost("staging", g.branches["master"], Y) == []


def test_a_revert_on_the_running_branch_of_a_commit_the_new_cut_still_has_would_be_lost(g):
    bad = g.branches["master"]  # the new cut still has it
    revert = hotfix(g, name="rv", message=f'Revert "a3"\n\nThis reverts commit {bad}.')
    assert g.lost("staging", bad, Y) == [revert]


def test_a_carried_hotfix_is_not_lost(g):
    fix = hotfix(g)
    assert g.lost("staging", g.branches["master"], Y, carried=(fix,)) == []


def test_after_a_rollback_the_restored_release_is_checked_not_the_rolled_back_one(g):
    # staging rolled back from X to W (a rollback commit with W's tree, merged by PR #11).
    back = g.add(
        "rb",
        [g.branches["staging"]],
        f"Roll back staging from {X} to {W}\n\nRestores the tree of {W} ({g.branches[W]}).",
        [],
    )
    g.merge("staging", back, "Merge pull request #11 from acme/rollback/staging-2026-11-27", pr=11)
    merges = g.env_merges("staging")
    assert (merges[0].kind, merges[0].release, merges[0].rolled_back_from) == ("rollback", W, X)
    assert merges[0].head == g.branches[W]  # the restored release's head, not the rollback's
    assert "restored by the rollback from" in merges[0].describe()
    assert running_release(merges, None, Y).release == W
    hotfix(g, on=X, name="xx")  # on the rolled-back release: not what staging runs
    fix = hotfix(g, on=W, name="ww")
    assert g.lost("staging", g.branches["master"], Y) == [fix]
    # The rollback's own re-run (X still pinned) keeps X's previous release.
    assert running_release(merges, None, X).release == W


def test_what_the_forge_memo_keeps_of_a_second_parent_names_the_same_merge():
    sha = "c" * 40
    rollback = f"Roll back staging from {X} to {W}\n\nRestores the tree of {W} ({sha})."
    assert rollback_evidence(rollback) == rollback
    assert rollback_evidence("Fix the login page\n\nA long body " * 50) == ""
    merge = {
        "sha": "m" * 40,
        "parents": [{"sha": "p" * 40}, {"sha": "q" * 40}],
        "commit": {"message": "Merge pull request #11 from acme/rollback/staging-2026-11-27"},
    }
    pulls = {"m" * 40: {"number": 11, "head": "rollback/staging-2026-11-27"}}
    for message in (rollback, "Fix the login page"):
        full = {"sha": "q" * 40, "commit": {"message": message}}
        kept = {"sha": "q" * 40, "commit": {"message": rollback_evidence(message)}}
        assert name_merge(merge, kept, None, pulls, {}) == name_merge(merge, full, None, pulls, {})


# -- the stack's own record -------------------------------------------------------------------


def res(name: str, **outputs: Any) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:staging::release-train::git:T::{name}", "outputs": outputs}


def test_record_from_state_merged_and_in_flight():
    state = [
        res("release-branch", branch=Y, commit="c" * 40),
        res("pull-request", head=Y, number=12, state="open"),
        res("merge", number=7, merged=True, merge_commit="a" * 40, head_sha="b" * 40),
    ]
    outputs = {
        "state": "merged",
        "releaseBranch": X,
        "releaseHead": "b" * 40,
        "mergeCommit": "a" * 40,
        "prNumber": 7,
    }
    record = record_from_state(state, outputs)
    # The merged merge's PR left the state (replaced by Y's): the outputs tell X.
    assert (record.merged.release, record.merged.pr, record.merged.merge_commit) == (X, 7, "a" * 40)
    assert (record.in_flight_branch, record.in_flight_commit, record.in_flight_pr) == (
        Y,
        "c" * 40,
        12,
    )
    assert StackRecord.from_json(record.to_json()) == record
    assert StackRecord.from_json("not json") is None and StackRecord.from_json("") is None


def test_record_from_state_a_merged_rollback_is_what_runs():
    state = [
        res("pull-request", head=X, number=7, state="merged"),
        res("merge", number=7, merged=True, merge_commit="a" * 40, head_sha="b" * 40),
        res("rollback-commit", to_release=W, from_release=X, head="e" * 40, to_sha="d" * 40),
        res("rollback-merge", number=11, merged=True, merge_commit="f" * 40),
    ]
    record = record_from_state(state, {})
    assert (record.merged.kind, record.merged.release, record.merged.rolled_back_from) == (
        "rollback",
        W,
        X,
    )
    assert record.in_flight_branch is None and record.merged.head == "d" * 40


def test_a_finished_rollback_is_not_planned_again():
    assert not rollback_superseded(X, [X], W)  # the rollback's own runs
    assert rollback_superseded(Y, [X], W)  # next week's release
    assert not rollback_superseded(Y, [X], None)
    assert not rollback_superseded(Y, [], W)  # written by hand: cannot tell


# -- a waiting promotion keeps its release, across midnight -----------------------------------


def waiting_record() -> StackRecord:
    return StackRecord(None, "release/2026-11-26", "c" * 40, 12)


def test_a_waiting_promotion_is_continued_whatever_the_day():
    waiting = in_flight(waiting_record())
    assert waiting == Continuation("release/2026-11-26", "c" * 40, 12)
    assert waiting.release_date == dt.date(2026, 11, 26)
    assert continue_choice(waiting, None, None) == ("c" * 40, "2026-11-26")
    assert continue_choice(waiting, None, "2026-11-26") == ("c" * 40, "2026-11-26")
    assert continue_choice(waiting, None, "2026-11-27") is None  # explicit: another release
    assert continue_choice(waiting, "d" * 40, None) is None
    assert continue_choice(None, None, None) is None


def test_a_closed_pull_request_is_not_in_flight():
    assert in_flight(waiting_record(), pr_open=False) is None
    assert in_flight(waiting_record(), pr_open=None) is not None  # forge not asked
    assert in_flight(StackRecord()) is None
