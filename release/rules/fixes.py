"""The lost-fix check: no fix may exist only on the previous release branch.

When a new release does not contain the previous release's head (fixes were cherry-picked
into the previous release branch after its cut), merging the previous release in with the
"ours" strategy would silently drop any fix that is not also in the new release. A commit
on the previous release is safe when
- it is a merge commit (it carries no change of its own here), or
- its `(cherry picked from commit X)` trailer names a commit X that the new release has, or
- the new release has a commit with the same patch (same changed lines, file by file).
Everything else is a lost fix, and the promotion stops naming it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from release.rules.text import plain

_TRAILER = re.compile(r"\(cherry picked from commit ([0-9a-f]{7,40})\)")
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})\.")


def cherry_pick_origins(message: str) -> list[str]:
    """The commits named by `git cherry-pick -x` trailers in a commit message."""
    return _TRAILER.findall(message or "")


def revert_origins(message: str) -> list[str]:
    """The commits a message says it reverts (`git revert`'s "This reverts commit X.")."""
    return _REVERTS.findall(message or "")


def patch_fingerprint(files: Sequence[Mapping[str, Any]]) -> str:
    """A stable id of a commit's change, like `git patch-id`: changed lines per file.

    Line numbers and context are left out, so the same change applied on another base
    (a cherry-pick) has the same fingerprint.
    """
    digest = hashlib.sha1()
    for item in sorted(files, key=lambda f: str(f.get("filename", ""))):
        digest.update(f"{item.get('filename')}\0{item.get('status')}\0".encode())
        patch = item.get("patch")
        if patch is None:
            # The forge leaves the patch out for binary files and very large diffs: tell
            # such changes apart by the file's new content (its blob), not by name alone.
            digest.update(f"blob {item.get('sha')}\n".encode())
            continue
        # The forge's per-file patch starts at the first hunk; a full `git diff` has
        # ---/+++ file headers before it. Inside hunks every +/- line is a change, even one
        # that reads "--- comment" or "+++i".
        in_hunk = False
        for line in str(patch).splitlines():
            if line.startswith("@@"):
                in_hunk = True
            elif in_hunk and line.startswith(("+", "-")):
                digest.update(line.rstrip().encode() + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class LostFix:
    sha: str
    title: str
    author: str

    def describe(self) -> str:
        """One line: control characters in the title or the author are shown as escapes."""
        return f"{self.sha[:12]} {plain(self.title)} ({plain(self.author)})"


def lost_fixes(
    previous_only: Iterable[Mapping[str, Any]],
    new_has: Callable[[str], bool],
    new_fingerprints: Callable[[], set[str]],
    fingerprint_of: Callable[[str], str],
    carried: Collection[str] = (),
    new_picked: Callable[[], Collection[str]] | None = None,
) -> list[LostFix]:
    """The commits of `previous_only` whose change the new release does not have.

    `previous_only` are the commits on the previous release that the new release lacks,
    as the compare API lists them (sha, commit.message, parents). The callables look up
    whether the new release has a commit, the fingerprints of the new release's own
    commits (asked for at most once, and only when a trailer does not settle it), and one
    commit's fingerprint. `carried` are commits the promotion will cherry-pick onto the new
    release (the stack's picks): neither they nor picks of them are lost. A commit reverted
    on the previous release, and its revert, cancel out. `new_picked` gives the commits the
    new release's own `-x` trailers name (asked for at most once): a fix picked from the
    previous release onto master is not lost, even where the pick had to be adapted.
    """
    commits = list(previous_only)
    shas = [str(c["sha"]) for c in commits]
    cancelled: set[str] = set()
    for commit in commits:
        message = str((commit.get("commit") or {}).get("message", ""))
        for origin in revert_origins(message):
            undone = [sha for sha in shas if len(origin) >= 7 and sha.startswith(origin)]
            if undone:
                cancelled.update(undone)
                cancelled.add(str(commit["sha"]))
    lost: list[LostFix] = []
    known: set[str] | None = None
    picked: list[str] | None = None
    for commit in commits:
        sha = str(commit["sha"])
        if len(commit.get("parents") or []) > 1 or sha in cancelled:
            continue
        message = str((commit.get("commit") or {}).get("message", ""))
        origins = cherry_pick_origins(message)
        if _carried(sha, origins, carried):
            continue
        if origins and all(new_has(origin) for origin in origins):
            continue
        if new_picked is not None:
            if picked is None:
                picked = [str(p) for p in new_picked()]
            if any(len(p) >= 7 and sha.startswith(p) for p in picked):
                continue
        if known is None:
            known = new_fingerprints()
        if fingerprint_of(sha) in known:
            continue
        author = (commit.get("commit") or {}).get("author") or {}
        title = message.splitlines()[0] if message.strip() else ""
        lost.append(LostFix(sha, title, author.get("name", "")))
    return lost


def _carried(sha: str, origins: Sequence[str], carried: Collection[str]) -> bool:
    return any(
        pick.startswith(name) or name.startswith(pick)
        for pick in carried
        for name in (sha, *origins)
        if len(name) >= 7 and len(pick) >= 7
    )


class LostFixError(RuntimeError):
    """The promotion would drop fixes that only the previous release has."""

    def __init__(self, previous: str, new: str, fixes: Sequence[LostFix]) -> None:
        self.fixes = list(fixes)
        listing = "\n".join(f"  - {fix.describe()}" for fix in fixes)
        carry = " ".join(f"--carry {fix.sha}" for fix in fixes)
        super().__init__(
            f"{len(fixes)} fix(es) exist only on {previous} (the release the environment "
            f"runs) and would be lost by promoting {new}:\n{listing}\n"
            "Nothing was written. Either land each fix on master first (then cut again), or "
            "carry it into the new release explicitly, saying why:\n"
            f'  release promote ENV {carry} --reason "..."'
        )
