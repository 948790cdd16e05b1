"""The seeded acme/service repository: deterministic, and shaped like a real weekly train."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import github
import pytest

from sandbox import Sandbox
from sandbox import seed as seed_module
from sandbox.seed import (
    CHECK_NAME,
    CHERRY_PICKED_RELEASE,
    DEFAULT_BRANCH,
    PRODUCTION,
    RELEASE_BRANCHES,
    REPO,
    STAGING,
    STATUS_CONTEXT,
    seed,
)

PPC_PATTERN = re.compile(
    r'name = "github\.com/acme/ppc"\n(?:  .*\n)*?  revision = "([0-9a-f]{40})"'
)
SDK_PATTERN = re.compile(r"^\s*PULUMI_SDK_VERSION: (v\S+)$", re.MULTILINE)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def refs(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ", 1) for line in out.splitlines())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, seed_cache) -> Path:
    # seed_cache (tests/conftest.py) is shared by the session: the seed is built once.
    path = tmp_path_factory.mktemp("seed")
    seed(path, cache_dir=seed_cache)
    return path


@pytest.fixture(scope="module")
def bare(data_dir) -> Path:
    return data_dir / "repos" / f"{REPO}.git"


@pytest.fixture(scope="module")
def api(data_dir):
    token = secrets.token_hex(20)
    sandbox = Sandbox(data_dir, tokens={token: "release-bot"})
    sandbox.start()
    try:
        client = github.Github(base_url=sandbox.base_url, auth=github.Auth.Token(token), retry=None)
        yield client.get_repo(REPO)
    finally:
        sandbox.stop()


def test_the_same_seed_gives_the_same_shas(bare, tmp_path):
    # Building the history again elsewhere (another clock, another directory) gives the SHAs
    # the seed published; the sandbox's own refs (refs/pull/N/merge test merges) are not
    # part of the history.
    again = seed_module.build_git_history(tmp_path)
    published = {
        ref.removeprefix("refs/heads/"): sha
        for ref, sha in refs(bare).items()
        if ref.startswith("refs/heads/")
    }
    assert published == again
    assert len(published) >= 6


def test_seeding_a_used_data_dir_is_refused(data_dir):
    with pytest.raises(FileExistsError):
        seed(data_dir)


def test_a_cached_seed_is_copied(bare, seed_cache, tmp_path):
    copy = tmp_path / "copy"
    seed(copy, cache_dir=seed_cache)
    assert len(list(seed_cache.iterdir())) == 1
    assert refs(copy / "repos" / f"{REPO}.git") == refs(bare)


def test_branches_and_history_shape(bare):
    heads = {r.removeprefix("refs/heads/") for r in refs(bare)}
    assert {DEFAULT_BRANCH, STAGING, PRODUCTION, *RELEASE_BRANCHES} <= heads
    assert git(bare, "symbolic-ref", "HEAD") == f"refs/heads/{DEFAULT_BRANCH}"
    assert 40 <= int(git(bare, "rev-list", "--count", DEFAULT_BRANCH)) <= 70
    authors = set(git(bare, "log", "--format=%ae", DEFAULT_BRANCH).splitlines())
    assert len(authors) >= 3
    dates = [int(d) for d in git(bare, "log", "--format=%ct", DEFAULT_BRANCH).splitlines()]
    assert (max(dates) - min(dates)) / 86400 >= 35
    tip_date = git(bare, "log", "-1", "--format=%cI", DEFAULT_BRANCH)
    assert tip_date.startswith("2026-11-26T")
    merges = git(bare, "log", "--merges", "--first-parent", "--format=%s", DEFAULT_BRANCH)
    assert len(re.findall(r"^Merge pull request #\d+ from acme/", merges, re.M)) >= 5


def test_release_branches_are_cut_from_master_on_their_day(bare):
    for branch in RELEASE_BRANCHES:
        day = branch.removeprefix("release/")
        base = git(bare, "merge-base", branch, DEFAULT_BRANCH)
        assert git(bare, "log", "-1", "--format=%cs", base) <= day
        # the cut is the newest master commit of or before that day
        newer = git(
            bare,
            "rev-list",
            "--first-parent",
            f"{base}..{DEFAULT_BRANCH}",
            f"--until={day}T00:00:00Z",
        )
        assert newer == ""


@pytest.mark.parametrize(
    ("environment", "release"),
    [(STAGING, RELEASE_BRANCHES[-1]), (PRODUCTION, RELEASE_BRANCHES[-2])],
)
def test_environment_tips_are_merge_commits_of_a_release(bare, environment, release):
    parents = git(bare, "log", "-1", "--format=%P", environment).split()
    assert len(parents) == 2
    assert parents[1] == git(bare, "rev-parse", release)
    # production runs exactly the release's tree
    assert git(bare, "rev-parse", f"{environment}^{{tree}}") == git(
        bare, "rev-parse", f"{release}^{{tree}}"
    )
    message = git(bare, "log", "-1", "--format=%s", environment)
    assert re.match(rf"Merge pull request #\d+ from acme/{re.escape(release)}$", message)


def test_the_release_branch_carries_a_cherry_pick_of_a_later_master_fix(bare):
    log = git(bare, "log", "--format=%H%n%B%x00", f"{DEFAULT_BRANCH}..{CHERRY_PICKED_RELEASE}")
    picks = re.findall(r"\(cherry picked from commit ([0-9a-f]{40})\)", log)
    assert len(picks) == 1
    original = picks[0]
    # the original is on master, after the release was cut
    git(bare, "merge-base", "--is-ancestor", original, DEFAULT_BRANCH)
    cut = git(bare, "merge-base", CHERRY_PICKED_RELEASE, DEFAULT_BRANCH)
    assert (
        subprocess.run(
            ["git", "--git-dir", str(bare), "merge-base", "--is-ancestor", original, cut]
        ).returncode
        == 1
    )


def _pins(bare: Path, ref: str) -> tuple[str, str]:
    lock = git(bare, "show", f"{ref}:Gopkg.lock") + "\n"
    travis = git(bare, "show", f"{ref}:.travis.yml")
    ppc, sdk = PPC_PATTERN.search(lock), SDK_PATTERN.search(travis)
    assert ppc and sdk, ref
    return ppc.group(1), sdk.group(1)


def test_component_pins_differ_between_production_and_master(bare):
    production, staging, master = (_pins(bare, r) for r in (PRODUCTION, STAGING, DEFAULT_BRANCH))
    assert production[0] != master[0] and production[1] != master[1]
    assert staging != production
    # and they changed several times over master's history
    history = git(bare, "log", "--format=%H", "--first-parent", DEFAULT_BRANCH).splitlines()
    assert len({_pins(bare, sha) for sha in history}) >= 4


def test_the_tip_of_master_is_not_green_but_an_older_commit_is(api, bare):
    line = git(bare, "rev-list", "--first-parent", DEFAULT_BRANCH).splitlines()
    tip = api.get_commit(line[0])
    assert tip.get_combined_status().state != "success"
    assert {s.context for s in tip.get_statuses()} == {STATUS_CONTEXT}

    def green(sha: str) -> bool:
        commit = api.get_commit(sha)
        runs = list(commit.get_check_runs(check_name=CHECK_NAME))
        return (
            commit.get_combined_status().state == "success"
            and bool(runs)
            and all(r.conclusion == "success" for r in runs)
        )

    verdicts = [green(sha) for sha in line[:4]]
    assert not verdicts[0] and not verdicts[1]
    assert any(verdicts[2:])
    # the first parent of the tip is green by statuses alone: only its check run is red
    assert api.get_commit(line[1]).get_combined_status().state == "success"


def test_pull_requests_are_numbered_as_in_the_merge_messages(api, bare):
    messages = git(bare, "log", "--merges", "--format=%s", "--branches")
    numbers = {int(n) for n in re.findall(r"^Merge pull request #(\d+) ", messages, re.M)}
    pulls = {p.number: p for p in api.get_pulls(state="all")}
    assert numbers and numbers <= set(pulls)
    release_pr = next(p for p in pulls.values() if p.head.ref == RELEASE_BRANCHES[-1])
    assert release_pr.base.ref == STAGING


def test_the_script_never_goes_back_in_time():
    whens = [s.when for s in seed_module._history() if hasattr(s, "when")]
    assert whens == sorted(whens)
    assert whens[-1].startswith("11-26")


def test_historic_pull_requests_are_merged(api, bare):
    # On GitHub a pull request whose head reaches its base by a push is marked merged; the
    # seed's history arrives that way.
    messages = git(bare, "log", "--merges", "--format=%H %s", "--branches")
    merge_commits = {
        int(m.group(2)): m.group(1)
        for m in re.finditer(r"^([0-9a-f]{40}) Merge pull request #(\d+) ", messages, re.M)
    }
    wrong = []
    for number, merge in sorted(merge_commits.items()):
        pr = api.get_pull(number)
        if not (pr.merged and pr.state == "closed" and pr.merge_commit_sha):
            wrong.append(f"#{number}: state={pr.state} merged={pr.merged}")
            continue
        # the merge commit the forge names holds the pull request's head and is on its base
        head_in = git(bare, "merge-base", pr.head.sha, pr.merge_commit_sha) == pr.head.sha
        on_base = git(bare, "merge-base", pr.merge_commit_sha, merge) == pr.merge_commit_sha
        if not (head_in and on_base):
            wrong.append(
                f"#{number}: merge_commit_sha {pr.merge_commit_sha} is not where it merged"
            )
    assert wrong == [], "\n".join(wrong)
