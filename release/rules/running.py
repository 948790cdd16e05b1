"""Which release an environment runs, and which release is in flight: decisions on plain data.

"Look at the most recent merge to staging" (the process document), made exact. The release an
environment runs is the one last merged into it, never a guess from where release branches
point now (one hotfix pushed onto the running branch must not hide it). Two records say it:

- the stack's own record: the merged `merge` (or `rollback-merge`) resource in its state, else
  its outputs after a merged promotion (`record_from_state`);
- the environment branch's merges: walking its first-parent line, each merge commit whose
  second parent was a release (or rollback) branch head when it was merged, named by the
  stack's record, the merged pull request, the branch head, or the merge message
  (`first_parent_merges`, `name_merge`).

`running_release` cross-checks them; the forge wins where they disagree (it is what the
environment branch really holds), with a note saying so. A rollback merge counts as the
release whose tree it restored. `in_flight` and `continue_choice` say which promotion is
waiting at the gate, so that `release promote` without `--date` continues it across midnight
and across operators. Everything here is pure; `release.forge` and the CLI feed it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from release.rules.config import release_date_of

# Per-run override: the stack's own record, handed by the `release` command to the program
# (a plain `pulumi up` goes by the environment branch's merges alone).
RECORD_OVERRIDE = "RELEASE_TRAIN_RUNNING"

_RELEASE = re.compile(r"(?<![\w/-])(release/\d{4}-\d{2}-\d{2})(?![\w-])")
_ROLLBACK_BRANCH = re.compile(r"(?<![\w/-])(rollback/[A-Za-z0-9._-]+)")
_ROLLBACK_COMMIT = re.compile(
    r"^Roll back \S+(?: from (release/\d{4}-\d{2}-\d{2}))? to (release/\d{4}-\d{2}-\d{2})"
)
_RESTORES = re.compile(r"Restores the tree of release/\S+ \(([0-9a-f]{40})\)")


@dataclass(frozen=True)
class EnvMerge:
    """One merge into the environment branch that brought a release (or a rollback) in."""

    merge_commit: str
    head: str  # the merge's second parent: the release (or rollback) head when merged
    release: str  # the release whose tree the environment got
    kind: str = "release"  # or "rollback"
    rolled_back_from: str | None = None
    pr: int | None = None
    named_by: str = "message"  # record, pull request, branch head, message

    def describe(self) -> str:
        via = f"PR #{self.pr}" if self.pr else f"merge {self.merge_commit[:12]}"
        if self.kind == "rollback":
            frm = f" from {self.rolled_back_from}" if self.rolled_back_from else ""
            return f"{self.release} (restored by the rollback{frm}, {via})"
        return f"{self.release} ({via})"


@dataclass(frozen=True)
class StackRecord:
    """What the stack's own state says it merged last, and what it has in flight."""

    merged: EnvMerge | None = None
    in_flight_branch: str | None = None
    in_flight_commit: str | None = None
    in_flight_pr: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> StackRecord | None:
        """The record handed over in RECORD_OVERRIDE; None when absent or unreadable."""
        if not text:
            return None
        try:
            data = json.loads(text)
            merged = data.get("merged")
            return cls(
                merged=EnvMerge(**merged) if merged else None,
                in_flight_branch=data.get("in_flight_branch"),
                in_flight_commit=data.get("in_flight_commit"),
                in_flight_pr=data.get("in_flight_pr"),
            )
        except (ValueError, TypeError, AttributeError):
            return None


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def record_from_state(
    resources: Sequence[Mapping[str, Any]], outputs: Mapping[str, Any]
) -> StackRecord:
    """The stack's record from its state's resources (`urn`, `outputs`, `delete`) and outputs.

    Merged: the rollback merge when it is merged (it came after the release's merge), else
    the merged release merge whose pull request is in the state, else the outputs of the last
    merged promotion (a gate-stopped `up` replaces the pull request in the state but keeps
    the outputs as they were). In flight: the release pull request in the state that is open
    and has no merged merge.
    """
    by_name: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        if resource.get("delete"):
            continue
        name = _name(str(resource.get("urn", "")))
        by_name.setdefault(name, []).append(dict(resource.get("outputs") or {}))
    pulls = {_int(o.get("number")): o for o in by_name.get("pull-request", []) if o.get("head")}
    merged_numbers = {_int(o.get("number")): o for o in by_name.get("merge", []) if o.get("merged")}
    merged: EnvMerge | None = None
    rollback_merge = [o for o in by_name.get("rollback-merge", []) if o.get("merged")]
    rollback_commit = (by_name.get("rollback-commit") or [{}])[-1]
    if (
        rollback_merge
        and rollback_commit.get("to_release")
        and rollback_merge[-1].get("merge_commit")
    ):
        done = rollback_merge[-1]
        merged = EnvMerge(
            merge_commit=str(done["merge_commit"]),
            head=str(rollback_commit.get("to_sha") or rollback_commit.get("head") or ""),
            release=str(rollback_commit["to_release"]),
            kind="rollback",
            rolled_back_from=rollback_commit.get("from_release"),
            pr=_int(done.get("number")),
            named_by="record",
        )
    if merged is None:
        for number, done in merged_numbers.items():
            pull = pulls.get(number)
            if pull and done.get("merge_commit"):
                merged = EnvMerge(
                    merge_commit=str(done["merge_commit"]),
                    head=str(done.get("head_sha") or ""),
                    release=str(pull["head"]),
                    pr=number,
                    named_by="record",
                )
    if merged is None and outputs.get("state") == "merged" and outputs.get("mergeCommit"):
        merged = EnvMerge(
            merge_commit=str(outputs["mergeCommit"]),
            head=str(outputs.get("releaseHead") or ""),
            release=str(outputs.get("releaseBranch")),
            pr=_int(outputs.get("prNumber")),
            named_by="record",
        )
    flight_branch = flight_commit = None
    flight_pr = None
    for number, pull in pulls.items():
        if pull.get("state") == "open" and number not in merged_numbers:
            flight_branch, flight_pr = str(pull["head"]), number
    if flight_branch:
        for branch in by_name.get("release-branch", []):
            if branch.get("branch") == flight_branch:
                flight_commit = branch.get("commit")
    return StackRecord(merged, flight_branch, flight_commit, flight_pr)


def first_parent_merges(
    commits: Iterable[Mapping[str, Any]], head: str, limit: int = 400
) -> Iterator[Mapping[str, Any]]:
    """The merge commits on `head`'s first-parent line, newest first.

    `commits` is the branch's commit listing (sha, parents, commit.message) in the forge's
    order (newest first); it is consumed only as far as the walk needs, so a long history
    costs pages only when the walk gets there. At most `limit` first-parent steps.
    """
    seen: dict[str, Mapping[str, Any]] = {}
    listing = iter(commits)
    current: str | None = head
    for _ in range(limit):
        if current is None:
            return
        while current not in seen:
            item = next(listing, None)
            if item is None:
                return
            seen[str(item["sha"])] = item
        commit = seen[current]
        parents = [str(p["sha"]) for p in commit.get("parents") or []]
        if len(parents) > 1:
            yield commit
        current = parents[0] if parents else None


def rollback_evidence(message: str) -> str:
    """What `name_merge` reads of a merge's second parent's message: the whole message when
    it is a rollback commit's, else nothing (the same answer, in less room: the forge memo
    keeps it)."""
    return message if _ROLLBACK_COMMIT.match(message) else ""


def _message(commit: Mapping[str, Any] | None) -> str:
    if not commit:
        return ""
    return str((commit.get("commit") or {}).get("message") or "")


def name_merge(
    merge: Mapping[str, Any],
    second_parent: Mapping[str, Any] | None,
    record: StackRecord | None,
    pulls: Mapping[str, Mapping[str, Any]],
    release_heads: Mapping[str, str],
) -> EnvMerge | None:
    """What a merge commit on the environment branch brought in, or None (not a release).

    `pulls` maps merge commit SHAs to merged pull requests (`number`, `head`: the head
    branch); `release_heads` maps each release branch head SHA to its branch. The second
    parent's commit (when known) tells a rollback commit's release and where it came from.
    """
    sha = str(merge["sha"])
    parents = [str(p["sha"]) for p in merge.get("parents") or []]
    head = parents[1]
    rollback = _ROLLBACK_COMMIT.match(_message(second_parent))
    if record and record.merged and record.merged.merge_commit == sha:
        return record.merged
    pull = pulls.get(sha)
    branch = str(pull.get("head")) if pull else None
    number = _int(pull.get("number")) if pull else None
    if rollback and (branch is None or branch.startswith("rollback/")):
        restored = _RESTORES.search(_message(second_parent))
        return EnvMerge(
            sha,
            restored.group(1) if restored else head,
            rollback.group(2),
            "rollback",
            rollback.group(1),
            number,
            "pull request" if pull else "message",
        )
    if branch and release_date_of(branch):
        return EnvMerge(sha, head, branch, pr=number, named_by="pull request")
    if head in release_heads:
        return EnvMerge(sha, head, release_heads[head], pr=number, named_by="branch head")
    title = _message(merge).splitlines()[0] if _message(merge) else ""
    found = _RELEASE.search(title)
    if found and not _ROLLBACK_BRANCH.search(title):
        return EnvMerge(sha, head, found.group(1), pr=number, named_by="message")
    return None


@dataclass(frozen=True)
class Running:
    """The release an environment runs, and how that is known."""

    merge: EnvMerge | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def release(self) -> str | None:
        return self.merge.release if self.merge else None


def running_release(
    merges: Iterable[EnvMerge],
    record: StackRecord | None = None,
    promoting: str | None = None,
) -> Running:
    """The release the environment ran before `promoting` (or runs now, without it).

    `merges` are the environment branch's release and rollback merges, newest first (lazy:
    read only as far as needed). When `promoting` was merged already (a pick's re-merge,
    a re-run after the merge, a rollback out of it), the answer is the release merged
    before it, so that re-running a promotion decides the same previous release. The
    stack's record is cross-checked: a disagreement is noted, and the branch wins.
    """
    notes: list[str] = []
    seen_promoting = False
    chosen: EnvMerge | None = None
    walked: list[EnvMerge] = []
    for merge in merges:
        walked.append(merge)
        if promoting and (
            merge.release == promoting
            or (merge.kind == "rollback" and merge.rolled_back_from == promoting)
        ):
            seen_promoting = True
            continue
        chosen = merge
        break
    recorded = record.merged if record else None
    if recorded and recorded.release != promoting:
        shas = [m.merge_commit for m in walked]
        if chosen is None:
            notes.append(
                f"the stack records {recorded.describe()}, but its merge commit "
                f"{recorded.merge_commit[:12]} is not on the environment branch's recent "
                "first-parent line; going by the stack's record"
            )
            chosen = recorded
        elif recorded.merge_commit != chosen.merge_commit and recorded.merge_commit not in shas:
            notes.append(
                f"the environment branch's last release merge is {chosen.describe()}; the "
                f"stack's record says {recorded.describe()} (merged outside release-train?)"
            )
    if seen_promoting and chosen is not None:
        notes.append(f"{promoting} is merged already; the release before it: {chosen.release}")
    return Running(chosen, tuple(notes))


@dataclass(frozen=True)
class Drift:
    """How the running release's branch moved since it was merged into the environment."""

    release: str
    merged_head: str
    current_head: str | None

    @property
    def moved(self) -> bool:
        return bool(self.current_head) and self.current_head != self.merged_head

    def describe(self) -> str:
        if self.current_head is None:
            return f"{self.release} no longer exists; checking against {self.merged_head[:12]}"
        if self.moved:
            return (
                f"{self.release} moved since its merge: {self.merged_head[:12]} -> "
                f"{self.current_head[:12]} (commits pushed onto it are checked too)"
            )
        return f"{self.release} is where it was merged ({self.merged_head[:12]})"


def check_head(merge: EnvMerge, current_head: str | None) -> tuple[str, Drift]:
    """The head the lost-fix check compares against: the running release branch's CURRENT
    head (hotfixes pushed onto it, picks and reverts in flight), else the merged head."""
    drift = Drift(merge.release, merge.head, current_head)
    return (current_head or merge.head), drift


# --- a waiting promotion keeps its release ---------------------------------------------------


@dataclass(frozen=True)
class Continuation:
    """The promotion waiting at the gate that `release promote` continues."""

    branch: str
    commit: str
    pr: int | None

    @property
    def release_date(self) -> dt.date:
        day = release_date_of(self.branch)
        assert day is not None
        return day


def in_flight(record: StackRecord | None, pr_open: bool | None = True) -> Continuation | None:
    """The stack's promotion in flight (its PR open, not merged), from its own state.

    `pr_open` is what the forge says of that PR now (None: not asked); a PR closed by hand
    (or by `release abandon`) is no longer in flight.
    """
    if record is None or not record.in_flight_branch or not record.in_flight_commit:
        return None
    if pr_open is False or release_date_of(record.in_flight_branch) is None:
        return None
    return Continuation(record.in_flight_branch, record.in_flight_commit, record.in_flight_pr)


def continue_choice(
    waiting: Continuation | None, commit: str | None, date: str | None
) -> tuple[str, str] | None:
    """(commit, date) that `release promote` must use to continue `waiting`, or None when
    nothing waits or the operator chose another release explicitly (--date/--commit)."""
    if waiting is None:
        return None
    same_date = date in (None, waiting.release_date.isoformat())
    same_commit = commit in (None, waiting.commit)
    if date is None and commit is None:
        return waiting.commit, waiting.release_date.isoformat()
    if same_date and same_commit:
        return waiting.commit, waiting.release_date.isoformat()
    return None


# --- after a rollback ------------------------------------------------------------------------


def rollback_superseded(release: str, rolled_back: Sequence[str], rollback_to: str | None) -> bool:
    """Whether a rollback listed in the config belongs to a release that is no longer the one
    promoted: the rollback is finished (or given up) and must not be planned again.

    A rollback is made while the stack still pins the release it rolls back (that release is
    added to `rolledBack`); once the stack promotes another release, the rollback's commit,
    branch and PR stay, but its resources leave the stack, as `release promote` does.
    """
    if not rollback_to or not rolled_back:
        return False  # a rollback written by hand, without rolledBack: it cannot tell
    return release not in rolled_back
