"""Cherry-picks and reverts on a release branch: the decisions, over plain data.

The process document: "cherry-pick commits into the release branch" with `git cherry-pick -x`,
then PR the release branch back into the environment. Here each listed pick becomes one
commit carrying git's `(cherry picked from commit SHA)` trailer. What is decided here, with
no I/O (the providers and the program feed it what they read):

- a merge commit is refused (which side would be picked is a guess);
- a commit that is not on the source branch is refused unless explicitly allowed
  ("upstream first": a fix lands on master, then in the release);
- a pick already on the release branch is a no-op: the branch contains the commit itself,
  or a commit whose trailer names it, or a commit with the same patch;
- a revert already on the branch (its "This reverts commit SHA." line) is a no-op;
- a conflict names the files that both the pick and the release branch changed;
- a pick removed from the config is reported "already applied, not reverted": nothing ever
  rewrites a release branch, undoing a change is a revert's or a rollback's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from release.rules.config import ConfigError
from release.rules.fixes import cherry_pick_origins, revert_origins

TEMP_PREFIX = "release-train/tmp/"
TEMP_REF_PREFIX = f"refs/heads/{TEMP_PREFIX}"
_SLUG_BAD = re.compile(r"[^A-Za-z0-9._-]+")


class PickRefused(ConfigError):
    """A listed pick or revert cannot be made; names the config key, the commit and the fix."""


class PickConflict(RuntimeError):
    """The pick does not apply cleanly; nothing was pushed."""

    def __init__(self, kind: str, sha: str, branch: str, files: Sequence[str]) -> None:
        self.files = list(files)
        listing = "\n".join(f"  - {name}" for name in files) or "  (the forge named no file)"
        verb = "cherry-pick of" if kind == "pick" else "revert of"
        super().__init__(
            f"{verb} {sha[:12]} onto {branch} conflicts in:\n{listing}\n"
            "Nothing was pushed and the branch is unchanged. Make a fix on master that applies "
            "to the release (or pick the commits it depends on first), then list that instead."
        )


def pick_message(message: str, sha: str) -> str:
    """The message of a cherry-pick, as `git cherry-pick -x` writes it."""
    return f"{message.rstrip()}\n\n(cherry picked from commit {sha})"


def revert_message(message: str, sha: str) -> str:
    """The message of a revert, as `git revert` writes it."""
    title = (message or "").splitlines()[0] if message else ""
    return f'Revert "{title}"\n\nThis reverts commit {sha}.'


def names(origin: str, sha: str) -> bool:
    """Whether an abbreviated or full SHA from a message names `sha`."""
    return len(origin) >= 7 and sha.startswith(origin)


def refusal(
    sha: str,
    parents: Sequence[str],
    on_source: bool,
    allow_off_source: bool,
    source_branch: str = "master",
    key: str = "picks",
) -> PickRefused | None:
    """Why `sha` may not be picked, or None. Checked at plan time and again by the provider."""
    if len(parents) > 1:
        return PickRefused(
            key,
            sha,
            f"{sha[:12]} is a merge commit ({len(parents)} parents); pick the commits it "
            "merged, one by one, instead",
        )
    if not parents:
        return PickRefused(key, sha, f"{sha[:12]} is a root commit; it has nothing to pick")
    if not on_source and not allow_off_source:
        return PickRefused(
            key,
            sha,
            f"{sha[:12]} is not on {source_branch} (upstream first): land the fix on "
            f"{source_branch} and pick that commit, or pick it anyway with "
            "`release cherry-pick ENV SHA --allow-off-master`",
        )
    return None


def revert_refusal(
    sha: str, parents: Sequence[str], on_branch: bool, branch: str, key: str = "reverts"
) -> PickRefused | None:
    """Why `sha` may not be reverted on `branch`, or None."""
    if len(parents) > 1:
        return PickRefused(
            key,
            sha,
            f"{sha[:12]} is a merge commit; revert the commits it brought in one by one, "
            "or roll the environment back (release rollback)",
        )
    if not parents:
        return PickRefused(key, sha, f"{sha[:12]} is a root commit; it cannot be reverted")
    if not on_branch:
        return PickRefused(
            key, sha, f"{sha[:12]} is not on {branch}; only a commit of the release can be reverted"
        )
    return None


def _message(commit: Mapping[str, Any]) -> str:
    return str((commit.get("commit") or {}).get("message", ""))


def applied_by(
    sha: str,
    branch_only: Iterable[Mapping[str, Any]],
    pick_fingerprint: Callable[[], str],
    fingerprint_of: Callable[[str], str],
) -> str | None:
    """The commit of the release branch that already carries pick `sha`, or None.

    `branch_only` are the branch's commits that the pick's history lacks (the compare API's
    commits of `sha...head`, with sha, parents and commit.message). Trailers settle it first,
    with no extra read; only then are patches compared, one commit at a time, lazily.
    """
    candidates = [c for c in branch_only if len(c.get("parents") or []) <= 1]
    for commit in candidates:
        if any(names(origin, sha) for origin in cherry_pick_origins(_message(commit))):
            return str(commit["sha"])
    if not candidates:
        return None
    wanted = pick_fingerprint()
    for commit in candidates:
        if revert_origins(_message(commit)):
            continue
        if fingerprint_of(str(commit["sha"])) == wanted:
            return str(commit["sha"])
    return None


def reverted_by(sha: str, branch_only: Iterable[Mapping[str, Any]]) -> str | None:
    """The commit of the release branch that already reverts `sha`, or None."""
    for commit in branch_only:
        if any(names(origin, sha) for origin in revert_origins(_message(commit))):
            return str(commit["sha"])
    return None


def conflict_files(pick_files: Iterable[str], target_changes: Iterable[str]) -> list[str]:
    """Files the pick changes that the target also changed since the pick's parent."""
    both = set(pick_files) & set(target_changes)
    return sorted(both) if both else sorted(set(pick_files))


def temp_branch(kind: str, branch: str, sha: str) -> str:
    """The temporary branch of one pick or revert onto `branch` (deterministic, so a
    crashed run's leftover is found and removed by the next one)."""
    slug = _SLUG_BAD.sub("-", branch).strip("-")
    return f"{TEMP_PREFIX}{kind}-{slug}-{sha}"


def is_temp_ref(ref: str) -> bool:
    """Only refs under `release-train/tmp/` may ever be deleted by release-train."""
    name = ref.removeprefix("refs/").removeprefix("heads/")
    return name.startswith(TEMP_PREFIX) and ".." not in name and len(name) > len(TEMP_PREFIX)


@dataclass(frozen=True)
class Removed:
    """A pick or revert that left the config but stays on the release branch."""

    kind: str
    sha: str
    commit: str | None

    def describe(self) -> str:
        where = f" as {self.commit[:12]}" if self.commit else ""
        what = "cherry-pick" if self.kind == "pick" else "revert"
        return (
            f"{what} {self.sha[:12]} removed from config: already applied{where}, not reverted "
            "(the release branch is never rewritten; use release revert or release rollback)"
        )


def removed(
    kind: str, previous: Iterable[Mapping[str, Any]], current: Iterable[str]
) -> list[Removed]:
    """The entries of the last run (dicts with sha and head/commit) no longer listed."""
    listed = set(current)
    out = []
    for entry in previous:
        sha = str(entry.get("sha", ""))
        if sha and sha not in listed:
            out.append(Removed(kind, sha, entry.get("commit")))
    return out


def merge_picks(existing: Sequence[str], new: Sequence[str]) -> list[str]:
    """The config list after `release cherry-pick`: existing order kept, new ones appended."""
    out = list(existing)
    for sha in new:
        if sha not in out:
            out.append(sha)
    return out
