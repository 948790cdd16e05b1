"""The promotion's dynamic providers against the sandbox forge, as the engine calls them."""

from __future__ import annotations

import pytest
from github import Auth, Github

from release import forge
from release.providers.base import forget_opened
from release.providers.branch import BranchExistsElsewhere, ReleaseBranchProvider
from release.providers.merge import MergeProvider
from release.providers.ours_merge import OursMergeProvider
from release.providers.pull_request import PullRequestProvider
from release.rules.config import parse_settings
from sandbox.seed import REPO
from tests.support.providers import engine_copy

RELEASE = "release/2026-11-26"
CHECKS = ["ci/travis", "test"]


@pytest.fixture
def ctx(seeded_sandbox):
    sb = seeded_sandbox
    gh = Github(base_url=sb.base_url, auth=Auth.Token(sb.token), retry=None)
    repo = gh.get_repo(REPO)
    from release.program.planning import find_green

    settings = parse_settings(
        "testing",
        {
            "repository": REPO,
            "apiUrl": sb.base_url,
            "environment": "master",
            "requiredChecks": CHECKS,
        },
    )
    green = find_green(settings, repo).sha
    assert green
    yield sb, repo, green
    forge.set_token(None)


def count_from_now(sb):
    """Start counting requests once the ones already answered are recorded (the sandbox
    records a request just after answering it)."""
    sb.served()
    sb.reset_counters()


def props(sb, **extra):
    return {"api_url": sb.base_url, "repository": REPO, **extra}


def test_release_branch_created_adopted_and_never_deleted(ctx):
    sb, repo, green = ctx
    provider = engine_copy(ReleaseBranchProvider(), sb.token)
    inputs = props(sb, branch=RELEASE, commit=green)
    sb.reset_counters()
    created = provider.create(inputs)
    # the repository is not read by the provider (the program checked it)
    assert f"/api/v3/repos/{REPO}" not in [s.path for s in sb.served()]
    assert created.id == RELEASE
    assert created.outs["head"] == green and created.outs["created"] is True
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == green

    sb.reset_counters()
    again = provider.create(inputs)
    assert again.outs["created"] is False
    assert sb.writes() == 0

    provider.delete(RELEASE, created.outs)
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == green


def test_release_branch_the_plan_listed_is_not_looked_for_again(ctx):
    sb, repo, green = ctx
    provider = engine_copy(ReleaseBranchProvider(), sb.token)
    absent = props(sb, branch=RELEASE, commit=green, listed=True, listed_head=None)
    count_from_now(sb)
    created = provider.create(absent)
    # not listed: created at once, no lookup first
    assert [s.key for s in sb.served()] == ["POST /repos/{owner}/{repo}/git/refs"]
    assert created.outs["head"] == green and created.outs["created"] is True
    # listed where it is: adopted without a request
    count_from_now(sb)
    listed = provider.create({**absent, "listed_head": green})
    assert sb.served() == [] and listed.outs["head"] == green
    assert listed.outs["created"] is False
    # listed as absent, but created meanwhile (a run killed after its create): the forge's
    # "Reference already exists" makes it read and adopted, nothing written
    count_from_now(sb)
    again = provider.create(absent)
    assert [s.key for s in sb.served()] == [
        "POST /repos/{owner}/{repo}/git/refs",
        "GET /repos/{owner}/{repo}/git/ref/{ref}",
    ]
    assert again.outs["head"] == green and again.outs["created"] is False
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == green


@pytest.mark.parametrize("listed", [False, True], ids=["looked-for", "listed-absent"])
def test_release_branch_existing_elsewhere_is_refused(ctx, listed):
    """Found by its lookup, or created meanwhile where the plan listed none (a run killed
    after its create): a branch that does not hold the cut is refused, and left as it is."""
    sb, repo, green = ctx
    other = repo.get_branch("release/2026-11-19").commit.sha
    repo.create_git_ref(f"refs/heads/{RELEASE}", other)
    provider = engine_copy(ReleaseBranchProvider(), sb.token)
    inputs = props(sb, branch=RELEASE, commit=green)
    if listed:
        inputs.update(listed=True, listed_head=None)
    sb.reset_counters()
    with pytest.raises(BranchExistsElsewhere, match="already exists at") as caught:
        provider.create(inputs)
    # The way forward is the command's options (intent is no stack-file key any more).
    assert f"--commit {other} --date {RELEASE[len('release/') :]}" in str(caught.value)
    assert "release-train:" not in str(caught.value)
    if not listed:
        assert sb.writes() == 0  # looked for first: no create was sent (listed absent, it was)
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == other


def test_diff_ignores_the_serialized_provider(ctx):
    sb, _, green = ctx
    provider = ReleaseBranchProvider()
    olds = props(sb, branch=RELEASE, commit=green, __provider="old-code")
    news = props(sb, branch=RELEASE, commit=green, __provider="new-code")
    assert provider.diff(RELEASE, olds, news).changes is False
    moved = provider.diff(RELEASE, olds, {**news, "commit": "f" * 40})
    assert moved.changes and moved.replaces == ["commit"]


def test_provider_configured_without_token_uses_github_token(ctx, monkeypatch):
    sb, repo, green = ctx
    monkeypatch.setenv("GITHUB_TOKEN", sb.token)
    provider = engine_copy(ReleaseBranchProvider(), None)
    provider.create(props(sb, branch=RELEASE, commit=green))
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == green
    assert not any(sb.token in repr(v) for v in vars(provider).values())


def cut_with_ours_merge(sb, repo, green):
    engine_copy(ReleaseBranchProvider(), sb.token).create(props(sb, branch=RELEASE, commit=green))
    staging_head = repo.get_branch("staging").commit.sha
    previous, previous_head = forge.current_release(repo, staging_head, exclude=RELEASE)
    provider = engine_copy(OursMergeProvider(), sb.token)
    inputs = props(sb, branch=RELEASE, head=green, previous=previous, previous_head=previous_head)
    return provider, inputs, previous_head


def test_ours_merge_has_the_new_tree_and_both_parents(ctx):
    sb, repo, green = ctx
    provider, inputs, previous_head = cut_with_ours_merge(sb, repo, green)
    assert not forge.is_ancestor(repo, previous_head, green)
    result = provider.create(inputs)
    merge = repo.get_git_commit(result.outs["merge_sha"])
    assert [p.sha for p in merge.parents] == [green, previous_head]
    assert merge.tree.sha == repo.get_git_commit(green).tree.sha
    assert repo.compare(green, merge.sha).files == []
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == merge.sha
    assert sb.forced_updates(REPO) == []

    sb.reset_counters()
    again = provider.create(inputs)
    assert again.outs["merge_sha"] == merge.sha
    assert sb.writes() == 0
    # adopted from the branch: what it holds is not vouched for, nothing is derived from it
    assert result.outs["made"] and again.outs["made"] is None


def test_ours_merge_refuses_a_moved_branch(ctx, commit_files):
    sb, repo, green = ctx
    provider, inputs, _ = cut_with_ours_merge(sb, repo, green)
    moved = commit_files(repo, RELEASE, {"NOTES.md": "moved\n"}, "someone pushed")
    with pytest.raises(forge.ForgeError, match="moved"):
        provider.create(inputs)
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == moved


def test_ours_merge_after_the_branch_reads_neither_the_branch_nor_the_head(ctx):
    # The release branch's output (its head) and the plan's tree of the cut are inputs: the
    # ours-merge is its two writes, nothing read.
    sb, repo, green = ctx
    provider, inputs, previous_head = cut_with_ours_merge(sb, repo, green)
    tree = repo.get_git_commit(green).tree.sha
    known = {**inputs, "branch_head": green, "head_tree": tree}
    count_from_now(sb)
    result = provider.create(known)
    assert [s.key for s in sb.served()] == [
        "POST /repos/{owner}/{repo}/git/commits",
        "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
    ]
    merge = repo.get_git_commit(result.outs["merge_sha"])
    assert [p.sha for p in merge.parents] == [green, previous_head]
    assert merge.tree.sha == tree
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == merge.sha
    # what it made, as the forge answered: the program derives the memo from it
    assert result.outs["made"] == {"parents": [green, previous_head], "tree": tree}

    # killed after the ref update, the next run (the branch's head as its state says)
    # adopts the merge rather than making another
    again = provider.create(known)
    assert again.outs["merge_sha"] == merge.sha
    # adopted (nothing vouched for), or, within the same second, the very same commit made
    # again (same parents, tree, message and time: same SHA) and so vouched for
    assert again.outs["made"] in (None, result.outs["made"])
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == merge.sha
    assert sb.forced_updates(REPO) == []


def test_ours_merge_with_a_known_head_never_overwrites_a_hotfix(ctx, commit_files):
    # The branch moved after the release branch resource saw it: the update is refused by
    # the forge (never forced), the hotfix stays, and the error says it moved.
    sb, repo, green = ctx
    provider, inputs, _ = cut_with_ours_merge(sb, repo, green)
    hotfix = commit_files(repo, RELEASE, {"NOTES.md": "hotfix\n"}, "hotfix")
    tree = repo.get_git_commit(green).tree.sha
    with pytest.raises(forge.ForgeError, match="moved"):
        provider.create({**inputs, "branch_head": green, "head_tree": tree})
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == hotfix
    assert sb.forced_updates(REPO) == []


def pull_provider(sb, green, **extra):
    """The release branch made at `green`; the pull request's provider and its inputs."""
    engine_copy(ReleaseBranchProvider(), sb.token).create(props(sb, branch=RELEASE, commit=green))
    provider = engine_copy(PullRequestProvider(), sb.token)
    inputs = props(
        sb,
        head=RELEASE,
        base="staging",
        head_sha=green,
        title=f"Promote {RELEASE} to staging",
        body="payload",
        reviewers=["oncall-partner"],
        **extra,
    )
    return provider, inputs


def open_pull(sb, repo, green):
    provider, inputs = pull_provider(sb, green)
    return provider, inputs, provider.create(inputs)


def test_pull_request_is_opened_once_with_reviewers(ctx):
    sb, repo, green = ctx
    provider, inputs, created = open_pull(sb, repo, green)
    number = created.outs["number"]
    pull = repo.get_pull(number)
    assert pull.base.ref == "staging" and pull.head.ref == RELEASE
    assert [u.login for u in pull.get_review_requests()[0]] == ["oncall-partner"]

    again = provider.create(inputs)
    assert again.outs["number"] == number
    assert (
        len([p for p in repo.get_pulls(state="all", base="staging") if p.head.ref == RELEASE]) == 1
    )

    updated = provider.update(str(number), created.outs, {**inputs, "body": "new payload"})
    assert updated.outs["number"] == number
    assert repo.get_pull(number).body == "new payload"


def test_pull_request_is_opened_first_and_adopted_on_the_forges_refusal(ctx):
    sb, repo, green = ctx
    # the plan found no release branch: no pull request of it either
    provider, inputs = pull_provider(sb, green, new_branch=True)
    count_from_now(sb)
    created = provider.create(inputs)
    # no lookup before the create: the usual run has nothing to find
    assert [s.key for s in sb.served()] == [
        "POST /repos/{owner}/{repo}/pulls",
        "POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
    ]
    number = created.outs["number"]
    # A re-run after a kill right after the create: the forge's "A pull request already
    # exists" makes it look, and the open pull request is adopted (not opened twice).
    forget_opened()
    count_from_now(sb)
    again = provider.create(inputs)
    keys = [s.key for s in sb.served()]
    assert keys[:2] == ["POST /repos/{owner}/{repo}/pulls", "GET /repos/{owner}/{repo}/pulls"]
    assert again.outs["number"] == number and again.outs["state"] == "open"
    assert [
        p.number for p in repo.get_pulls(state="all", base="staging") if p.head.ref == RELEASE
    ] == [number]
    # Merged meanwhile (a kill after the merge, before the state was written): "No commits
    # between" makes it look, and the pull request merged at the head is adopted.
    repo.get_pull(number).merge(merge_method="merge")
    count_from_now(sb)
    merged = provider.create(inputs)
    assert merged.outs["number"] == number and merged.outs["state"] == "merged"
    keys = [s.key for s in sb.served()]
    assert keys == ["POST /repos/{owner}/{repo}/pulls", "GET /repos/{owner}/{repo}/pulls"]
    # Of a branch that existed before the run (a new head replaces the resource, a later
    # run): looked for first, with no create the forge would refuse.
    count_from_now(sb)
    found = provider.create({**inputs, "new_branch": False})
    assert found.outs["number"] == number
    assert [s.key for s in sb.served()] == ["GET /repos/{owner}/{repo}/pulls"]


def merge_inputs(sb, number, head):
    return props(
        sb,
        number=number,
        head_sha=head,
        required_checks=CHECKS,
        reviewers=["oncall-partner"],
        required_approvals=1,
        merge_method="merge",
    )


def test_merge_waits_for_approval_then_merges_with_a_merge_commit(ctx):
    sb, repo, green = ctx
    _, _, created = open_pull(sb, repo, green)
    number = created.outs["number"]
    provider = engine_copy(MergeProvider(), sb.token)

    sb.reset_counters()
    waiting = provider.create(merge_inputs(sb, number, green)).outs
    assert sb.writes() == 0
    assert (waiting["merged"], waiting["merge_commit"], waiting["gate_state"]) == (
        False,
        None,
        "waiting",
    )
    assert any("approval" in r and "oncall-partner" in r for r in waiting["waiting"])
    assert not repo.get_pull(number).merged
    # A waiting merge is a change for the next `up`, which re-reads the gate.
    assert provider.diff(str(number), waiting, merge_inputs(sb, number, green)).changes

    partner = Github(base_url=sb.base_url, auth=Auth.Token(sb.reviewer_token), retry=None)
    partner_pull = partner.get_repo(REPO).get_pull(number)
    partner_pull.create_review(commit=partner.get_repo(REPO).get_commit(green), event="APPROVE")

    staging_before = repo.get_branch("staging").commit.sha
    count_from_now(sb)
    result = provider.update(str(number), waiting, merge_inputs(sb, number, green))
    # the merge's answer names its commit: the pull request is not read after it
    keys = [s.key for s in sb.served()]
    assert keys[-1] == "PUT /repos/{owner}/{repo}/pulls/{number}/merge"
    assert keys.count("GET /repos/{owner}/{repo}/pulls/{number}") == 1  # the gate's
    assert result.outs["merged"] is True and result.outs["gate_state"] == "merged"
    assert result.outs["waiting"] == []
    assert result.outs["merged_run"] is None  # no run id given: never "this run"
    assert not provider.diff(str(number), result.outs, merge_inputs(sb, number, green)).changes
    merged = repo.get_git_commit(result.outs["merge_commit"])
    assert [p.sha for p in merged.parents] == [staging_before, green]
    assert repo.get_branch("staging").commit.sha == merged.sha

    sb.reset_counters()
    adopted = provider.create({**merge_inputs(sb, number, green), "run": "run-2"}).outs
    assert adopted["merged"] is True and adopted["merged_run"] is None  # read, not made
    assert sb.writes() == 0


def test_merge_after_opening_reads_nothing_and_says_what_waits(ctx):
    # The pull request this process just opened needs an approval nobody can have given yet:
    # the gate is closed without a request (not the pull request, its reviews or its head's
    # checks), and the message says so: the approval owed and each configured check to pass.
    sb, repo, green = ctx
    _, _, created = open_pull(sb, repo, green)
    number = created.outs["number"]
    provider = engine_copy(MergeProvider(), sb.token)
    count_from_now(sb)
    waiting = provider.create(merge_inputs(sb, number, green)).outs
    assert [s.key for s in sb.served()] == []
    assert waiting["gate_state"] == "waiting" and waiting["merged"] is False
    short = green[:12]
    assert waiting["waiting"] == [
        f"check ci/travis must pass on {short} (not read yet: the pull request was just opened)",
        f"check test must pass on {short} (not read yet: the pull request was just opened)",
        f"needs 1 more approval(s) of {short} from oncall-partner: the pull request was just "
        "opened by this run, nobody has reviewed it yet",
    ]
    read = merge_inputs(sb, number, green)
    count_from_now(sb)
    again = provider.update(str(number), waiting, read).outs  # a later look reads all
    keys = {s.key for s in sb.served()}
    assert "GET /repos/{owner}/{repo}/pulls/{number}/reviews" in keys
    assert "GET /repos/{owner}/{repo}/commits/{ref}/status" in keys
    # the checks are green: only the approval waits, as it said
    assert again["waiting"] == [f"needs 1 more approval(s) of {short} from oncall-partner"]


def test_merge_after_opening_names_the_partner_owed(ctx):
    sb, repo, green = ctx
    _, _, created = open_pull(sb, repo, green)
    provider = engine_copy(MergeProvider(), sb.token)
    inputs = {**merge_inputs(sb, created.outs["number"], green), "must_approve": ["oncall-partner"]}
    count_from_now(sb)
    reasons = provider.create(inputs).outs["waiting"]
    assert sb.served() == []
    assert any(
        r.startswith(f"needs the approval of {green[:12]} by oncall-partner, the oncall partner")
        and "just opened" in r
        for r in reasons
    )


def test_merge_after_opening_without_an_approval_required_reads_the_checks_and_merges(ctx):
    # With no approval required the gate of a pull request just opened can be open: its
    # head's checks are read (green here), and it merges in the same `up`.
    sb, repo, green = ctx
    _, _, created = open_pull(sb, repo, green)
    number = created.outs["number"]
    provider = engine_copy(MergeProvider(), sb.token)
    inputs = {**merge_inputs(sb, number, green), "reviewers": [], "required_approvals": 0}
    count_from_now(sb)
    outs = provider.create({**inputs, "run": "run-1"}).outs
    keys = [s.key for s in sb.served()]
    assert "GET /repos/{owner}/{repo}/commits/{ref}/check-runs" in keys
    assert "GET /repos/{owner}/{repo}/commits/{ref}/status" in keys
    assert keys[-1] == "PUT /repos/{owner}/{repo}/pulls/{number}/merge"
    assert outs["merged"] is True and repo.get_pull(number).merged
    assert outs["merged_run"] == "run-1"  # this run's PUT made the merge commit


def test_merge_refuses_red_checks_and_names_them(ctx, commit_files):
    sb, repo, green = ctx
    engine_copy(ReleaseBranchProvider(), sb.token).create(props(sb, branch=RELEASE, commit=green))
    red = commit_files(repo, RELEASE, {"app/fix.py": "x = 1\n"}, "a fix without CI yet")
    _, _, created = open_pull(sb, repo, green)
    number = created.outs["number"]
    repo.get_commit(red).create_status("failure", context="ci/travis")
    partner = Github(base_url=sb.base_url, auth=Auth.Token(sb.reviewer_token), retry=None)
    partner.get_repo(REPO).get_pull(number).create_review(
        commit=partner.get_repo(REPO).get_commit(red), event="APPROVE"
    )
    forget_opened()  # approved after the `up` that opened it: a later `up` reads the gate
    provider = engine_copy(MergeProvider(), sb.token)
    reasons = " ".join(provider.create(merge_inputs(sb, number, red)).outs["waiting"])
    assert "ci/travis is failure" in reasons
    assert "test is missing" in reasons
    assert not repo.get_pull(number).merged


def test_merge_refuses_when_the_head_moved(ctx, commit_files):
    sb, repo, green = ctx
    _, _, created = open_pull(sb, repo, green)
    number = created.outs["number"]
    # pushed after the `up` that opened it: a later `up` (another provider process, which
    # did not open it) reads the pull request
    forget_opened()
    commit_files(repo, RELEASE, {"app/late.py": "y = 2\n"}, "pushed after review")
    provider = engine_copy(MergeProvider(), sb.token)
    outs = provider.create(merge_inputs(sb, number, green)).outs
    assert outs["gate_state"] == "waiting" and "head moved" in " ".join(outs["waiting"])
    assert not repo.get_pull(number).merged


def test_merge_check_refuses_squash(ctx):
    sb, _, green = ctx
    result = MergeProvider().check({}, {**merge_inputs(sb, 1, green), "merge_method": "squash"})
    assert [f.property for f in result.failures] == ["merge_method"]


def test_merge_update_of_gate_settings_keeps_the_merge_outputs(ctx):
    sb, _, green = ctx
    provider = engine_copy(MergeProvider(), sb.token)
    olds = {**merge_inputs(sb, 5, green), "merged": True, "merge_commit": "c" * 40}
    news = {**merge_inputs(sb, 5, green), "reviewers": ["oncall-partner", "second"]}
    diff = provider.diff("5", olds, news)
    assert diff.changes and not diff.replaces
    sb.reset_counters()
    result = provider.update("5", olds, news)
    assert result.outs["merge_commit"] == "c" * 40 and result.outs["merged"] is True
    assert result.outs["reviewers"] == ["oncall-partner", "second"]
    assert sb.reads() + sb.writes() == 0
