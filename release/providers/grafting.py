"""Grafting: a change applied on top of a release branch through the forge's API.

The shared home of what a cherry-pick (cherry_pick.py) and a revert (revert.py) do on a
release branch, and of the reads the program's planning makes to decide them
(`find_applied`). Without a clone: the API method was chosen over a clone because a
provider then needs no git binary, no credentials on disk, no fetch of a whole history (a
large repository costs minutes to clone and the engine may run a provider in parallel), and
every write is one small, checkable API call. The forge computes the three-way merge itself
(the merges API), in `graft`:

1. a sibling commit S of the release head H: S's tree is H's tree, S's parent is the base of
   the change (the pick's parent P^);
2. a temporary branch `release-train/tmp/...` at S;
3. `POST /merges` of the change into it: the merge base is P^, so the result's tree is H's
   tree plus exactly the change (a 409 is a conflict: the files both sides changed are
   named, and nothing is pushed);
4. a commit of that tree on H, with the message (and author) the caller gives;
5. `land`: a fast-forward of the release branch to it, never forced: a branch that moved
   underneath makes the update fail instead of losing what moved it.

The temporary branch is removed in every case (`finally`), and a leftover of the same change
from a crashed run is removed before starting, so running `up` again converges. Temporary
branches under `release-train/tmp/` are the only refs release-train ever deletes. (On
GitHub, creating the temporary branch may start push-triggered CI jobs; they see a branch
that disappears a second later.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from release import forge
from release.providers.base import call
from release.rules.fixes import patch_fingerprint
from release.rules.picks import PickConflict, applied_by, conflict_files, is_temp_ref, temp_branch

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


def land(
    repo: Repository,
    props: dict[str, Any],
    *,
    kind: str,
    key: str,
    branch: str,
    current: str,
    base: str,
    theirs: Callable[[], str],
    message: str,
    author: InputGitAuthor | None,
    out: str,
) -> dict[str, Any]:
    """The tail a pick and a revert share: check the branch is where the plan chained it,
    graft the change `base..theirs()` on it and fast-forward the branch.

    `theirs` runs only once the branch is known not to have moved. Returns the provider's
    outputs: `head`, `out` (the new commit, or None when the change is already in the
    branch's tree) and `applied`.
    """
    ensure_unmoved(
        branch, current, props.get("expected_head"), "picked" if kind == "pick" else "reverted"
    )
    change = theirs()
    head = call(f"read {branch}", lambda: repo.get_git_commit(current))
    new = graft(
        repo,
        kind=kind,
        key=key,
        branch=branch,
        head=head,
        base=base,
        theirs=change,
        message=message,
        author=author,
    )
    if new is None:  # the change is already in the release's tree
        return {**props, "head": current, out: None, "applied": False}
    fast_forward(repo, branch, current, new.sha)
    return {**props, "head": new.sha, out: new.sha, "applied": True}
