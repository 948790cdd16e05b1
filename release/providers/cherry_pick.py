"""A cherry-pick of one commit onto a release branch, made through the forge's API.

`git cherry-pick -x SHA` on the release branch, as the process document does by hand, but
without a clone: the API method was chosen over a clone because a provider then needs no git
binary, no credentials on disk, no fetch of a whole history (a large repository costs minutes
to clone and the engine may run a provider in parallel), and every write is one small,
checkable API call. The forge computes the three-way merge itself (the merges API):

1. a sibling commit S of the release head H: S's tree is H's tree, S's parent is the pick's
   parent P^;
2. a temporary branch `release-train/tmp/...` at S;
3. `POST /merges` of the pick into it: the merge base is P^, so the result's tree is H's tree
   plus exactly the pick's change (a 409 is a conflict: the files both sides changed are
   named, and nothing is pushed);
4. a commit of that tree on H, with the original message plus git's `(cherry picked from
   commit SHA)` trailer and the original author;
5. a fast-forward of the release branch to it, never forced: a branch that moved underneath
   makes the update fail instead of losing what moved it.

The temporary branch is removed in every case (`finally`), and a leftover of the same pick
from a crashed run is removed before starting, so running `up` again converges. Temporary
branches under `release-train/tmp/` are the only refs release-train ever deletes. (On
GitHub, creating the temporary branch may start push-triggered CI jobs; they see a branch
that disappears a second later.) A pick already on the branch (the commit itself, its trailer
or the same patch) is a no-op; a merge commit or, unless allowed, a commit off the source
branch is refused. Removing a pick from the config only forgets it: the branch keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    ReadResult,
    UpdateResult,
)

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call
from release.rules.config import ConfigError, Settings
from release.rules.fixes import patch_fingerprint
from release.rules.picks import (
    PickConflict,
    applied_by,
    conflict_files,
    is_temp_ref,
    pick_message,
    refusal,
    temp_branch,
)

if TYPE_CHECKING:
    from github import InputGitAuthor
    from github.GitCommit import GitCommit
    from github.Repository import Repository

TEMP_MESSAGE = "release-train temporary commit (removed right after use)"


class BranchMoved(RuntimeError):
    """The release branch is not where this step expected it; nothing was pushed."""


def ensure_unmoved(branch: str, current: str, expected: str | None, what: str) -> None:
    """Raise BranchMoved unless `branch` is still at `expected` (the head the plan chained)."""
    expected = expected or current
    if current != expected:
        raise BranchMoved(
            f"{branch} is at {current[:12]}, not at {expected[:12]} as planned; nothing "
            f"was {what}. Run up again."
        )


def full_sha_ok(value: object) -> bool:
    text = str(value or "")
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def files_of(repo: Repository, sha: str) -> list[dict[str, Any]]:
    """The files a commit changes (filename, status, patch), as the commit API lists them."""
    return [f.raw_data for f in call(f"read commit {sha[:12]}", lambda: repo.get_commit(sha)).files]


def branch_only(repo: Repository, sha: str, head: str) -> tuple[bool, list[dict[str, Any]]]:
    """(whether `sha` is an ancestor of `head`, the commits of `head` that `sha` lacks)."""
    if sha == head:
        return True, []
    comparison = call("compare", lambda: repo.compare(sha, head))
    if comparison.status in ("ahead", "identical"):
        return True, []
    return False, forge.listed(comparison.commits)


def first_parent_line(head: str, commits: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The commits of `commits` on `head`'s first-parent line, newest first.

    Picks land on that line; a commit reached only through an ours-merge's second parent
    was merged "ours": its change is not in the tree, so its trailer proves nothing.
    """
    by_sha = {str(c["sha"]): c for c in commits}
    line, current = [], head
    while current in by_sha:
        commit = by_sha[current]
        line.append(commit)
        parents = commit.get("parents") or []
        current = str(parents[0]["sha"]) if parents else ""
    return line


def find_applied(repo: Repository, sha: str, head: str) -> str | None:
    """The commit on `head` that already carries pick `sha` (itself, trailer or patch)."""
    contained, only = branch_only(repo, sha, head)
    if contained:
        return sha
    return applied_by(
        sha,
        first_parent_line(head, only),
        lambda: patch_fingerprint(files_of(repo, sha)),
        lambda other: patch_fingerprint(files_of(repo, other)),
    )


def remove_temp(repo: Repository, name: str) -> None:
    """Delete the temporary branch `name` if it exists (and only a temporary branch)."""
    if not is_temp_ref(name):
        raise ValueError(f"refusing to delete {name}: only {name!r} under release-train/tmp/")
    for ref in repo.get_git_matching_refs(f"heads/{name}"):
        if ref.ref == f"refs/heads/{name}" and is_temp_ref(ref.ref):
            try:
                ref.delete()
            except forge.GithubException as err:
                if err.status not in (404, 422):  # already gone
                    raise forge.ForgeError(
                        f"removing the temporary branch {name} failed: {forge.describe(err)}"
                    ) from None


def graft(
    repo: Repository,
    *,
    kind: str,
    key: str,
    branch: str,
    head: GitCommit,
    base: str,
    theirs: str,
    message: str,
    author: InputGitAuthor | None,
) -> GitCommit | None:
    """Apply the change `base..theirs` on top of `head` (not yet on the branch).

    Returns the new commit, or None when the change is already in `head`'s tree.
    Raises PickConflict naming the files both sides changed.
    """
    temp = temp_branch(kind, branch, key)
    remove_temp(repo, temp)
    try:
        base_commit = call("read the base", lambda: repo.get_git_commit(base))
        sibling = call(
            "create the temporary commit",
            lambda: repo.create_git_commit(TEMP_MESSAGE, head.tree, [base_commit]),
        )
        forge.create_once(
            lambda: sibling.sha if forge.branch_head(repo, temp) == sibling.sha else None,
            lambda: call(
                f"create {temp}",
                lambda: repo.create_git_ref(f"refs/heads/{temp}", sibling.sha).object.sha,
            ),
        )
        try:
            merged = repo.merge(temp, theirs, f"release-train temporary merge of {theirs[:12]}")
        except forge.GithubException as err:
            if err.status != 409:
                raise forge.ForgeError(
                    f"merging {theirs[:12]} failed: {forge.describe(err)}"
                ) from None
            change = call("compare", lambda: repo.compare(base, theirs)).files
            target = call("compare", lambda: repo.compare(base, sibling.sha)).files
            files = conflict_files([f.filename for f in change], [f.filename for f in target])
            raise PickConflict(kind, key, branch, files) from None
        if merged is None or merged.commit.tree.sha == head.tree.sha:
            return None
        tree = merged.commit.tree
        args: dict[str, Any] = {"author": author} if author else {}
        return call(
            f"create the {kind} commit",
            lambda: repo.create_git_commit(message, tree, [head], **args),
        )
    finally:
        remove_temp(repo, temp)


def fast_forward(repo: Repository, branch: str, expected: str, new: str) -> None:
    """Move `branch` from `expected` to `new`, never forced."""
    ref = call(f"read {branch}", lambda: repo.get_git_ref(f"heads/{branch}"))
    current = call(f"read {branch}", lambda: ref.object.sha)
    if current != expected:
        raise BranchMoved(
            f"{branch} moved to {current[:12]} (expected {expected[:12]}); nothing was pushed. "
            "Run up again to pick onto the new head."
        )
    try:
        ref.edit(new, force=False)
    except forge.GithubException as err:
        raise BranchMoved(
            f"{branch} could not be fast-forwarded to {new[:12]} ({forge.describe(err)}); "
            "it moved underneath, nothing was forced. Run up again."
        ) from None


def original_author(commit: GitCommit) -> InputGitAuthor:
    who = commit.author
    return forge.InputGitAuthor(who.name, who.email, who.date.isoformat())


class CherryPickProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "branch", "pick")
    update_on = ("expected_head",)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not full_sha_ok(news.get("pick")):
            failures.append(CheckFailure("pick", "must be a full 40-character lowercase SHA"))
        if not str(news.get("branch") or ""):
            failures.append(CheckFailure("branch", "name the release branch"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(f"{props['branch']}:{props['pick']}", outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        repo = self.repo(props)
        branch, sha = props["branch"], props["pick"]
        current = forge.branch_head(repo, branch)
        if current is None:
            raise forge.ForgeError(f"{branch} does not exist; nothing was picked")
        found = find_applied(repo, sha, current)
        if found:
            return {**props, "head": current, "picked_sha": found, "applied": False}
        pick = call(f"read commit {sha[:12]}", lambda: repo.get_git_commit(sha))
        parents = [p.sha for p in pick.parents]
        source = props.get("source_branch") or "master"
        allowed = bool(props.get("allow_off_master"))
        on_source = allowed or (len(parents) == 1 and forge.is_ancestor(repo, sha, source))
        refused = refusal(sha, parents, on_source, allowed, source)
        if refused:
            raise refused
        ensure_unmoved(branch, current, props.get("expected_head"), "picked")
        head = call(f"read {branch}", lambda: repo.get_git_commit(current))
        new = graft(
            repo,
            kind="pick",
            key=sha,
            branch=branch,
            head=head,
            base=parents[0],
            theirs=sha,
            message=pick_message(pick.message, sha),
            author=original_author(pick),
        )
        if new is None:  # the change is already in the release's tree
            return {**props, "head": current, "picked_sha": None, "applied": False}
        fast_forward(repo, branch, current, new.sha)
        return {**props, "head": new.sha, "picked_sha": new.sha, "applied": True}


class CherryPick(ForgeResource, module="git", name="CherryPick"):
    """One `cherry-pick -x` onto the release branch; `head` is the branch after it."""

    head: pulumi.Output[str]
    picked_sha: pulumi.Output[str]
    applied: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        branch: pulumi.Input[str],
        pick: pulumi.Input[str],
        expected_head: pulumi.Input[str],
        source_branch: pulumi.Input[str] = "master",
        allow_off_master: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "repository": repository,
            "branch": branch,
            "pick": pick,
            "expected_head": expected_head,
            "source_branch": source_branch,
            "allow_off_master": allow_off_master,
        }
        super().__init__(CherryPickProvider(), name, props, ("head", "picked_sha", "applied"), opts)


# The program's side: plan-time checks (reads only, so `preview` shows them) and the chain
# of resources between the ours-merge and the pull request.


@dataclass(frozen=True)
class ReleaseChanges:
    """The listed picks and reverts, checked: each pick with the commit that already carries
    it (None: it will be applied), and the reverts, in order."""

    picks: tuple[tuple[str, str | None], ...] = ()
    reverts: tuple[str, ...] = ()


def plan_pick(
    repo: Repository, settings: Settings, index: int, sha: str, branch_head: str
) -> str | None:
    """What a listed pick will do: the commit that already has it, or None (it will be
    applied). Raises PickRefused for a merge commit or an off-source commit."""
    found = find_applied(repo, sha, branch_head)
    if found:
        return found
    try:
        commit = repo.get_git_commit(sha)
    except forge.GithubException:
        raise ConfigError(
            f"picks[{index}]", sha, f"no such commit in {settings.repository}"
        ) from None
    parents = [p.sha for p in commit.parents]
    on_source = settings.allow_off_master or (
        len(parents) == 1 and forge.is_ancestor(repo, sha, settings.source_branch)
    )
    refused = refusal(
        sha,
        parents,
        on_source,
        settings.allow_off_master,
        settings.source_branch,
        key=f"picks[{index}]",
    )
    if refused:
        raise refused
    return None


def plan_release_changes(
    settings: Settings, repo: Repository | None, release: str, commit: str
) -> ReleaseChanges:
    """Check the listed picks and reverts now (reads only).

    Every refusal (a merge commit, an off-source pick, a revert of a commit not on the
    release) is raised here, before the program registers any resource, so bad config
    stops with no forge write.
    """
    from release.rules.picks import revert_refusal

    day_two = settings.day_two
    if not settings.picks and not day_two.reverts:
        return ReleaseChanges()
    assert repo is not None
    planned_picks: list[tuple[str, str | None]] = []
    planned_reverts: list[str] = []
    current = forge.branch_head(repo, release) or commit
    for index, sha in enumerate(settings.picks):
        planned_picks.append((sha, plan_pick(repo, settings, index, sha, current)))
    for index, sha in enumerate(day_two.reverts):
        try:
            found = repo.get_git_commit(sha)
        except forge.GithubException:
            raise ConfigError(
                f"reverts[{index}]", sha, f"no such commit in {settings.repository}"
            ) from None
        refused = revert_refusal(
            sha,
            [p.sha for p in found.parents],
            forge.is_ancestor(repo, sha, current),
            release,
            key=f"reverts[{index}]",
        )
        if refused:
            raise refused
        planned_reverts.append(sha)
    return ReleaseChanges(tuple(planned_picks), tuple(planned_reverts))


def register_release_changes(
    settings: Settings, release: str, changes: ReleaseChanges, head: pulumi.Output[str]
) -> tuple[pulumi.Output[str], dict[str, Any]]:
    """Chain the picks, then the reverts, on the release branch's head; return the head
    after them and what to export."""
    from release.providers.revert import Revert

    common = {"api_url": settings.api_url, "repository": settings.repository}
    picks: list[dict[str, Any]] = []
    for sha, found in changes.picks:
        pulumi.log.info(
            f"pick {sha[:12]}: already on {release} as {found[:12]} (no-op)"
            if found
            else f"pick {sha[:12]}: will be cherry-picked onto {release}"
        )
        pick = CherryPick(
            f"pick-{sha[:12]}",
            branch=release,
            pick=sha,
            expected_head=head,
            source_branch=settings.source_branch,
            allow_off_master=settings.allow_off_master,
            **common,
        )
        head = pick.head
        picks.append({"sha": sha, "commit": pick.picked_sha, "applied": pick.applied})
    reverts: list[dict[str, Any]] = []
    for sha in changes.reverts:
        pulumi.log.info(f"revert {sha[:12]}: reverted on {release} unless it already is")
        revert = Revert(
            f"revert-{sha[:12]}",
            branch=release,
            revert=sha,
            expected_head=head,
            **common,
        )
        head = revert.head
        reverts.append({"sha": sha, "commit": revert.revert_sha, "applied": revert.applied})
    return head, {"picks": picks, "reverts": reverts}
