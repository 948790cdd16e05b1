"""The program's planning: what a promotion will do, decided from reads before any write.

Everything the preview must show (the newest green commit, the commit to cut, the previous
release, whether an ours-merge is needed, lost fixes, the payload, and the day-two changes
the config lists: picks, reverts, a rollback) is computed here with reads only, into a
`PromotionPlan`; release/program/registration.py then registers the resources that do the
writes. Any refusal is raised here, so bad config stops before anything is registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pulumi
from github import UnknownObjectException
from github.Repository import Repository

from release import forge
from release.providers.grafting import find_applied
from release.providers.rollback import rollback_branch
from release.rules import clock
from release.rules.config import ConfigError, Pin, Settings, release_date_of
from release.rules.fixes import (
    LostFixError,
    cherry_pick_origins,
    lost_fixes,
    patch_fingerprint,
)
from release.rules.gates import check_states
from release.rules.green import GreenResult, newest_green
from release.rules.memo import (
    Memo,
    digest,
    is_count,
    is_full_sha,
    is_sha_list,
    is_text_or_none,
    memo_key,
)
from release.rules.payload import Payload, PayloadCommit, payload_commits, pin_changes, read_pin
from release.rules.picks import refusal, revert_refusal
from release.rules.rotation import Approvers, approvers
from release.rules.running import StackRecord, check_head, rollback_superseded, running_release


@dataclass(frozen=True)
class ReleaseChanges:
    """The listed picks and reverts, checked: each pick with the commit that already carries
    it (None: it will be applied), and the reverts, in order."""

    picks: tuple[tuple[str, str | None], ...] = ()
    reverts: tuple[str, ...] = ()


def commit_parents(repo: Repository, sha: str, memo: Memo | None = None) -> list[str]:
    """The parents of commit `sha` (one read; kept in `memo`: a commit's parents never
    change). Raises the forge's error for an unknown commit."""

    def read() -> list[str]:
        found = repo.get_git_commit(sha)
        if memo is not None:  # the tree comes with the same read (an ours-merge uses it)
            memo.put(memo_key("tree", sha), found.tree.sha)
        return [p.sha for p in found.parents]

    if memo is None:
        return read()
    return memo.recall(memo_key("parents", sha), read, is_sha_list)


def commit_tree(sha: str, memo: Memo) -> str | None:
    """The tree of commit `sha` when the memo has it (kept with its parents by
    `commit_parents`), else None: never read on its own."""
    found, tree = memo.get(memo_key("tree", sha), is_full_sha)
    return tree if found else None


def plan_pick(
    repo: Repository,
    settings: Settings,
    index: int,
    sha: str,
    branch_head: str,
    memo: Memo | None = None,
) -> str | None:
    """What a listed pick will do: the commit that already has it, or None (it will be
    applied). Raises PickRefused for a merge commit or an off-source commit."""
    try:  # first: an unknown SHA is named as such, not as a failed compare
        parents = commit_parents(repo, sha, memo)
    except forge.GithubException:
        raise ConfigError(
            f"picks[{index}]", sha, f"no such commit in {settings.repository}"
        ) from None
    found = find_applied(repo, sha, branch_head)
    if found:
        return found
    allowed = settings.allow_off_master or sha in settings.off_master
    on_source = allowed or (
        len(parents) == 1 and forge.is_ancestor(repo, sha, settings.source_branch)
    )
    refused = refusal(
        sha,
        parents,
        on_source,
        allowed,
        settings.source_branch,
        key=f"picks[{index}]",
    )
    if refused:
        raise refused
    return None


def plan_release_changes(
    settings: Settings,
    repo: Repository | None,
    release: str,
    commit: str,
    memo: Memo | None = None,
    heads: Mapping[str, str | None] | None = None,
) -> ReleaseChanges:
    """Check the listed picks and reverts now (reads only). `heads`: branch heads this run
    has read already (None: no such branch); another branch's head is read.

    Every refusal (a merge commit, an off-source pick, a revert of a commit not on the
    release) is raised here, before the program registers any resource, so bad config
    stops with no forge write.
    """
    day_two = settings.day_two
    if not settings.picks and not day_two.reverts:
        return ReleaseChanges()
    assert repo is not None
    planned_picks: list[tuple[str, str | None]] = []
    planned_reverts: list[str] = []
    current = _head(repo, release, heads) or commit
    for index, sha in enumerate(settings.picks):
        planned_picks.append((sha, plan_pick(repo, settings, index, sha, current, memo)))
    for index, sha in enumerate(day_two.reverts):
        try:
            parents = commit_parents(repo, sha, memo)
        except forge.GithubException:
            raise ConfigError(
                f"reverts[{index}]", sha, f"no such commit in {settings.repository}"
            ) from None
        refused = revert_refusal(
            sha,
            parents,
            forge.is_ancestor(repo, sha, current, memo),
            release,
            key=f"reverts[{index}]",
        )
        if refused:
            raise refused
        planned_reverts.append(sha)
    return ReleaseChanges(tuple(planned_picks), tuple(planned_reverts))


@dataclass(frozen=True)
class PlannedRollback:
    """The rollback the stack's config asks for, checked with reads."""

    target: str
    to_sha: str
    env_head: str
    branch: str
    approvals: int


def _head(repo: Repository, branch: str, heads: Mapping[str, str | None] | None) -> str | None:
    """`branch`'s head: as this run read it already (`heads`), else read now."""
    if heads is not None and branch in heads:
        return heads[branch]
    return forge.branch_head(repo, branch)


def plan_rollback(
    settings: Settings,
    repo: Repository | None,
    release: str | None = None,
    heads: Mapping[str, str | None] | None = None,
) -> PlannedRollback | None:
    """Check the rollback the stack's config asks for (`rollback: {to, date}`) now, with
    reads only; None when none is asked for, or when it is finished: the stack promotes
    `release`, another release than the one rolled back (`rules.running.rollback_superseded`).
    `heads`: branch heads this run has read already.

    `rollbackApprovals` (0 or 1), when set, replaces the number of approvals.
    """
    day_two = settings.day_two
    if not day_two.rollback_to or not day_two.rollback_date:
        return None
    if release and rollback_superseded(release, day_two.rolled_back, day_two.rollback_to):
        # A finished rollback, and the stack now promotes another release: its commit,
        # branch and PR stay; it is not planned again (as `release promote` clears it).
        pulumi.log.info(f"the rollback to {day_two.rollback_to} is finished; {release} replaces it")
        return None
    assert repo is not None
    target, env = day_two.rollback_to, settings.environment
    to_sha = _head(repo, target, heads)
    if to_sha is None:
        raise ConfigError("rollback.to", target, f"no such branch in {settings.repository}")
    env_head = _head(repo, env, heads)
    if env_head is None:
        raise ConfigError("environment", env, f"no such branch in {settings.repository}")
    branch = rollback_branch(env, day_two.rollback_date)
    pulumi.log.info(f"rollback of {env} to {target} ({to_sha[:12]}) on {branch}")
    approvals = (
        settings.required_approvals
        if day_two.rollback_approvals is None
        else day_two.rollback_approvals
    )
    return PlannedRollback(target, to_sha, env_head, branch, approvals)


def checks_of(repo: Repository, sha: str) -> dict[str, str]:
    """The state of every check seen on `sha` (commit statuses and check runs)."""
    return check_states(*forge.checks_seen(repo, sha))


def open_repo(settings: Settings, session: forge.ForgeSession) -> Repository:
    """The configured repository, or a ConfigError naming apiUrl, token or repository (before
    any write). An `up` of a promotion also needs a token that may write."""
    write = not settings.tracks_source and not pulumi.runtime.is_dry_run()
    return forge.check_repository(session, write=write)


def find_green(settings: Settings, repo: Repository) -> GreenResult:
    """The newest green commit on the source branch (reads only). The branch's head and its
    first page of commits are read together; after the newest commit, the checks of the next
    few candidates are read together (two reads each, within the reads in flight)."""
    limit = forge.reads_in_flight(repo)
    head, first = forge.together(
        limit,
        [
            lambda: forge.branch_head(repo, settings.source_branch),
            lambda: _first_commits(repo, settings.source_branch, settings.green_lookback),
        ],
    )
    if head is None:
        raise ConfigError(
            "sourceBranch", settings.source_branch, "no such branch in " + settings.repository
        )
    if first and first[0] != head:  # the branch moved between the two reads: list again
        first = None
    commits = first if first is not None else forge.iter_commits(repo, head)
    return newest_green(
        commits,
        lambda sha: checks_of(repo, sha),
        settings.required_checks,
        settings.green_lookback,
        ahead=max(limit // 2, 1),
        checks_of_many=lambda shas: [
            check_states(*seen) for seen in forge.checks_seen_many(repo, shas)
        ],
    )


def _first_commits(repo: Repository, branch: str, wanted: int) -> list[str] | None:
    """The SHAs of `branch`'s first page of commits (newest first) when it holds the
    `wanted` newest or the whole history; None when it does not, or when the branch does
    not exist."""
    try:
        commits = repo.get_commits(sha=branch)
        page = [c.sha for c in commits.get_page(0)]
    except forge.GithubException as err:
        if err.status in (404, 409, 422):
            return None
        raise
    full = len(page) >= repo.requester.per_page
    return page if len(page) >= wanted or not full else None


@dataclass(frozen=True)
class PromotionPlan:
    """What a promotion will do, decided from reads before any write."""

    release: str
    commit: str
    environment: str
    env_head: str
    previous: str | None
    previous_head: str | None
    needs_ours_merge: bool
    already_contained: bool
    payload: Payload
    changes: ReleaseChanges = ReleaseChanges()  # the listed picks and reverts, checked
    rollback: PlannedRollback | None = None  # the rollback the config asks for, checked
    carried: tuple[str, ...] = ()  # fixes of the running release carried (--carry)
    notes: tuple[str, ...] = ()  # how the running release was found
    approvers: Approvers | None = None  # who must approve the merge (plan_approvers)
    # (recorded head, branch head): commits pushed on the release branch since the last run
    # left it at the recorded head; the branch head is what merges (plan_promotion)
    pushed_on: tuple[str, str] | None = None
    commit_tree: str | None = None  # the tree of `commit`, when the plan read or kept it
    # where the release branch was when the plan read it (None: not there); `listed`:
    # the plan did read it (a plan built otherwise, say in a test, did not)
    release_head: str | None = None
    listed: bool = False

    def describe(self) -> str:
        lines = [
            f"release {self.release} at {self.commit} into {self.environment}",
            f"previous release in {self.environment}: {self.previous or 'none found'}",
            *self.notes,
        ]
        if self.needs_ours_merge:
            lines.append(
                f"ours-merge needed: {self.previous} at {(self.previous_head or '')[:12]} has "
                "commits the new release lacks (all checked: no fix would be lost)"
            )
        for sha in self.carried:
            lines.append(
                f"carry {sha[:12]}: cherry-picked from {self.previous} onto {self.release}"
            )
        if self.already_contained:
            lines.append(f"{self.environment} already contains {self.commit[:12]}")
        lines.append(
            f"payload: {len(self.payload.commits)} commit(s), {len(self.payload.prs)} PR(s)"
        )
        for pin in self.payload.pins:
            mark = "changed" if pin.changed else "unchanged"
            lines.append(f"pin {pin.name}: {pin.before} -> {pin.after} ({mark})")
        if self.approvers and self.approvers.note:
            lines.append(f"approval: {self.approvers.note} must approve")
        return "\n".join(lines)


def plan_approvers(settings: Settings, day: dt.date | None = None) -> Approvers:
    """Who must approve this stack's merge on `day` (today): the oncall rotation's partner
    for the week, with the configured reviewers, or the configured reviewers alone when no
    rotation gates (none, the old fixed pair, or `partnerApproves: false`). Pure; a day
    before the rotation's first week is a ConfigError naming oncall.start."""
    return approvers(
        settings.rollout.oncall,
        settings.reviewers,
        settings.required_approvals,
        settings.environment,
        day or clock.today(),
    )


def plan_promotion(
    settings: Settings,
    repo: Repository,
    release: str,
    commit: str,
    record: StackRecord | None = None,
    memo: Memo | None = None,
    recorded_head: str | None = None,
) -> PromotionPlan:
    """Decide the promotion of `commit` as `release` into the environment (reads only).

    `recorded_head`: the head this stack's own resources made for the release (its record's
    `head`). A release branch found on top of it (commits pushed there by hand) is the head
    that merges (`pushed_on`), described by the payload and approved again.

    `record` is what the stack's own state says it merged last (handed over by the
    `release` command; None for a plain `pulumi up`). `memo`: the forge's answers that never
    change, as earlier runs of the stack kept them (release/rules/memo.py); what this plan
    reads of that kind is added to it. The refs, pull requests and listings of branches
    are read every time. Raises ConfigError for a missing
    environment branch, a repository that disallows merge commits or a carried commit that
    is not the running release's, and LostFixError when the running release has a fix the
    new one lacks.
    """
    # The reads that need nothing but the config go out together (at most the pacing
    # policy's reads in flight), then the ones that need their answers, step by step.
    memo = memo if memo is not None else Memo()
    limit = forge.reads_in_flight(repo)
    env_head, commit_found, branches, pulls = forge.together(
        limit,
        [
            lambda: forge.branch_head(repo, settings.environment),
            lambda: _commit_exists(repo, commit, memo),
            lambda: forge.release_branches(repo),
            lambda: forge.merged_pulls(repo, settings.environment),
        ],
    )
    if env_head is None:
        raise ConfigError(
            "environment",
            settings.environment,
            f"{settings.repository} has no such branch; create it from the current "
            "production commit first",
        )
    if not repo.allow_merge_commit:
        raise ConfigError(
            "repository",
            settings.repository,
            "the repository does not allow merge commits; enable 'Allow merge commits' "
            "(releases are never squashed or rebased)",
        )
    if not commit_found:
        raise ConfigError("commit", commit, "no such commit in " + settings.repository)
    previous, previous_head, notes = previous_release(
        settings, repo, env_head, release, record, branches, pulls, memo
    )
    carried = settings.carry
    check_carried(repo, carried, previous, previous_head, memo)
    # Each release branch head from the one listing; a name the listing leaves out (not
    # release/YYYY-MM-DD) is read on its own.
    release_head = (
        dict(branches).get(release)
        if release_date_of(release) is not None
        else forge.branch_head(repo, release)
    )
    base = previous_head or env_head
    picks = (*settings.picks, *carried)
    # The lost-fix check's answer depends on the two SHAs and the picks alone: once it
    # passed, it is kept (a fix landing later on the running release moves its head).
    checked = memo_key("lostfix", commit, previous_head or "", extra=digest(*picks))
    ahead_key = memo_key("ahead", commit, previous_head or "")

    def previous_only() -> Any:
        # The commits of the running release the new one lacks: none means no ours-merge.
        assert previous_head
        found, ahead = memo.get(ahead_key, is_count)
        if found and (ahead == 0 or memo.get(checked, lambda v: v is True)[0]):
            return _Ahead(ahead)  # all the plan needs of the compare
        comparison = repo.compare(commit, previous_head)
        memo.put(ahead_key, comparison.ahead_by)
        return comparison

    def lost_fix_check(only: Any, since: list[dict[str, Any]] | None) -> None:
        # `only`: the compare of the cut with the running release's head; `since`: the
        # payload's compare (previous head ... cut), when read, which lists the cut's commits
        # since its merge base with the running release: the lost-fix check's own.
        assert previous and previous_head
        check_lost_fixes(repo, previous, previous_head, release, commit, picks, only, memo, since)
        memo.put(checked, True)

    # The payload describes the cut when the release branch is not there yet (or is at the
    # cut): then it is read along with the compares, else once its head is placed. The
    # lost-fix check then starts as soon as both compares are in (its reads go out beside the
    # pins'), in the thread of the payload's compare, which waits for the first call's
    # answer: that call is submitted first, so it is running or done by then.
    known = commit if not release_head or release_head == commit else None
    first: Future[Any] = Future()
    checked_early: list[bool] = []

    def first_call() -> Any:
        try:
            answer = previous_only() if previous_head else None
        except BaseException as error:
            first.set_exception(error)
            raise
        first.set_result(answer)
        return answer

    def check_owed(only: Any) -> bool:
        # The running release has commits the cut lacks, and the memo has not kept a pass.
        return only is not None and only.ahead_by > 0 and not isinstance(only, _Ahead)

    def on_compared(since: list[dict[str, Any]]) -> None:
        only = first.result()
        if check_owed(only):
            lost_fix_check(only, since)
            checked_early.append(True)

    only_previous, contained, described, payload = forge.together(
        limit,
        [
            first_call,
            lambda: forge.is_ancestor(repo, commit, env_head, memo),
            lambda: known or payload_head(commit, release_head, repo, memo),
            lambda: (
                known
                and build_payload(
                    settings,
                    repo,
                    previous,
                    base,
                    release,
                    known,
                    memo,
                    on_compared=on_compared if previous_head == base else None,
                )
            ),
        ],
    )
    needs_ours = only_previous is not None and only_previous.ahead_by > 0
    if check_owed(only_previous) and not checked_early:
        lost_fix_check(only_previous, None)
    if not payload:
        payload = build_payload(settings, repo, previous, base, release, described, memo)
    # Day-two changes are checked with reads before anything is registered: bad config
    # stops here, with no forge write.
    # The heads this run read (the listing holds every release/YYYY-MM-DD branch) are not
    # read again by the day-two checks.
    heads: dict[str, str | None] = {
        **dict(branches),
        release: release_head,
        settings.environment: env_head,
    }
    changes = plan_release_changes(settings, repo, release, commit, memo, heads)
    pushed_on = None
    if (
        recorded_head
        and release_head
        and release_head not in (commit, recorded_head)
        and described == release_head  # the payload describes it: it holds the cut
        and forge.is_ancestor(repo, recorded_head, release_head, memo)
    ):
        pushed_on = (recorded_head, release_head)
    rollback = plan_rollback(settings, repo, release, heads)
    return PromotionPlan(
        release=release,
        commit=commit,
        environment=settings.environment,
        env_head=env_head,
        previous=previous,
        previous_head=previous_head,
        needs_ours_merge=needs_ours,
        already_contained=contained,
        payload=payload,
        changes=changes,
        rollback=rollback,
        carried=carried if needs_ours else (),
        notes=tuple(notes),
        approvers=plan_approvers(settings),
        commit_tree=commit_tree(commit, memo) if needs_ours else None,
        release_head=release_head,
        listed=True,
        pushed_on=pushed_on,
    )


@dataclass(frozen=True)
class _Ahead:
    """A compare's `ahead_by` as the memo kept it (the compare itself is not read again)."""

    ahead_by: int


def _commit_exists(repo: Repository, sha: str, memo: Memo | None = None) -> bool:
    try:
        commit_parents(repo, sha, memo)
    except UnknownObjectException:
        return False
    return True


def previous_release(
    settings: Settings,
    repo: Repository,
    env_head: str,
    release: str,
    record: StackRecord | None = None,
    branches: Sequence[tuple[str, str]] | None = None,
    pulls: dict[str, dict[str, Any]] | None = None,
    memo: Memo | None = None,
) -> tuple[str | None, str | None, list[str]]:
    """(the release the environment runs, the head to check against, notes), reads only.

    The release last merged into the environment (release.rules.running: the stack's record
    cross-checked with the environment branch's merges), and that branch's CURRENT head:
    commits pushed straight onto it since its merge (a hotfix), merged into the environment
    or not, are checked like any other. `branches` and `pulls`: the release branches and
    the merged pull requests into the environment, when already read.
    """
    merges = forge.env_release_merges(
        repo, settings.environment, env_head, record, pulls=pulls, branches=branches, memo=memo
    )
    running = running_release(merges, record, promoting=release)
    notes = [f"note: {note}" for note in running.notes]
    if running.merge is None:
        # No release merge on the environment branch (a new environment): the newest
        # release branch it contains, as before.
        found = forge.current_release(repo, env_head, exclude=release, branches=branches, memo=memo)
        if found:
            notes.append(
                f"note: no release merge found on {settings.environment}; {found[0]} "
                "is the newest release branch it contains"
            )
        return (found[0], found[1], notes) if found else (None, None, notes)
    merge = running.merge
    current = (
        dict(branches).get(merge.release)
        if branches is not None
        else forge.branch_head(repo, merge.release)
    )
    head, drift = check_head(merge, current)
    notes.insert(0, f"{settings.environment} runs {merge.describe()}")
    if drift.moved or drift.current_head is None:
        notes.append(drift.describe())
    return merge.release, head, notes


def check_carried(
    repo: Repository,
    carried: Sequence[str],
    previous: str | None,
    previous_head: str | None,
    memo: Memo | None = None,
) -> None:
    """A carried commit must be one of the running release's own commits (reads only)."""
    for index, sha in enumerate(carried):
        if (
            not previous
            or not previous_head
            or not forge.is_ancestor(repo, sha, previous_head, memo)
        ):
            raise ConfigError(
                f"carry[{index}]",
                sha,
                f"not a commit of the running release {previous or '(none)'}; --carry names a "
                "commit of that release that the new one would otherwise lose",
            )


def check_lost_fixes(
    repo: Repository,
    previous: str,
    previous_head: str,
    release: str,
    commit: str,
    picks: Sequence[str] = (),
    only_previous: Any = None,
    memo: Memo | None = None,
    since: list[dict[str, Any]] | None = None,
) -> None:
    """Stop with LostFixError when `previous` has a fix that `commit` does not
    (`only_previous`: the compare of `commit` with `previous_head`, when already read;
    `since`: the commits of `commit` since its merge base with `previous_head`, when already
    listed: a compare `previous_head...commit` lists exactly these, as GitHub's compare
    lists the head's commits since the merge base)."""
    if only_previous is None:
        only_previous = repo.compare(commit, previous_head)
    candidates = forge.listed(only_previous.commits)
    merge_base = only_previous.merge_base_commit.sha

    def new_commits() -> list[dict[str, Any]]:
        nonlocal since
        if since is None:
            since = forge.listed(repo.compare(merge_base, commit).commits)
        return since

    def new_fingerprints() -> set[str]:
        return {patch_fingerprint(c.get("files") or _files(repo, c["sha"])) for c in new_commits()}

    def new_picked() -> list[str]:
        messages = [str((c.get("commit") or {}).get("message", "")) for c in new_commits()]
        return [origin for message in messages for origin in cherry_pick_origins(message)]

    listed = {str(c["sha"]) for c in since or ()}

    def new_has(sha: str) -> bool:
        # A commit among the cut's own since the merge base is in it: no read.
        if any(s.startswith(sha) for s in listed if len(sha) >= 7):
            return True
        return forge.is_ancestor(repo, sha, commit, memo)

    lost = lost_fixes(
        candidates,
        new_has=new_has,
        new_fingerprints=new_fingerprints,
        fingerprint_of=lambda sha: patch_fingerprint(_files(repo, sha)),
        carried=picks,
        new_picked=new_picked,
    )
    if lost:
        raise LostFixError(previous, release, lost)


def _files(repo: Repository, sha: str) -> list[dict[str, Any]]:
    return [f.raw_data for f in repo.get_commit(sha).files]


def payload_head(
    commit: str, branch_head: str | None, repo: Repository, memo: Memo | None = None
) -> str:
    """The head the payload describes: the release branch's current head (its ours-merge,
    picks and reverts included) when it holds the cut, else the cut (not made yet)."""
    if branch_head and (
        branch_head == commit or forge.is_ancestor(repo, commit, branch_head, memo)
    ):
        return branch_head
    return commit


def build_payload(
    settings: Settings,
    repo: Repository,
    previous: str | None,
    base: str,
    release: str,
    commit: str,
    memo: Memo | None = None,
    on_compared: Callable[[list[dict[str, Any]]], None] | None = None,
) -> Payload:
    """Commits and PRs from `base` to `commit`, and the pins at both ends (reads only, sent
    together). With `memo`, each of these (keyed by SHAs) is read only when not kept: the
    payload's lines and compare link, and each pin's value (not the file). `on_compared`:
    called with the compare's commits when they are read (not when kept), in the compare's
    thread, while the pins are read; what it raises, the payload raises."""
    memo = memo if memo is not None else Memo()
    pins = settings.pins
    payload_key = memo_key("payload", base, commit)
    found, kept = memo.get(payload_key, _is_payload)

    def compared() -> tuple[tuple[PayloadCommit, ...], str]:
        comparison = repo.compare(base, commit, comparison_commits_per_page=250)
        commits = forge.listed(comparison.commits)
        lines = payload_commits(commits)
        memo.put(payload_key, {"u": comparison.html_url, "c": [_line(c) for c in lines]})
        if on_compared is not None:
            on_compared(commits)
        return lines, comparison.html_url

    def pin_at(pin: Pin, ref: str) -> Callable[[], str | None]:
        name = memo_key("pin", ref, extra=digest(pin.path, pin.pattern))
        known, value = memo.get(name, is_text_or_none)
        if known:
            return lambda: value

        def read() -> str | None:
            value = read_pin(pin, forge.read_file(repo, pin.path, ref))
            memo.put(name, value)
            return value

        return read

    kept_lines = (tuple(PayloadCommit(*c) for c in kept["c"]), kept["u"]) if found else None
    reads = [pin_at(p, ref) for ref in (base, commit) for p in pins]
    (lines, url), *values = forge.together(
        forge.reads_in_flight(repo), [(lambda: kept_lines) if found else compared, *reads]
    )
    before = {p.name: v for p, v in zip(pins, values[: len(pins)], strict=True)}
    after = {p.name: v for p, v in zip(pins, values[len(pins) :], strict=True)}
    return Payload(
        previous=previous,
        release=release,
        base_sha=base,
        head_sha=commit,
        commits=lines,
        pins=pin_changes(settings.pins, before, after),
        compare_url=url,
    )


def ours_merge_memo(
    plan: PromotionPlan, pins: Sequence[Pin], merge_sha: str | None, made: Any
) -> dict[str, Any]:
    """What the merging run would read about the ours-merge `merge_sha`, known for sure once
    it is made, as memo entries ({key: value}, `Memo.put`'s values); {} when not sure.

    Only when `made` (the `OursMerge` resource's record of a commit it created itself:
    {"parents": [...], "tree": sha} as the forge answered the create) says its parents are
    exactly [the cut, the running release's head] and its tree the cut's, and the plan
    described the cut (nothing carried). Then, as of `merge_sha`:
    - the cut is its ancestor (it is its first parent);
    - the payload from the running release's head (its other parent, so the merge base:
      the compare lists the cut's commits and the merge itself, which the payload leaves
      out as one that only marks history merged: `payload_commits`) is the cut's, moved
      (`Payload.moved_to`); kept only when the cut's listing was not empty and its link
      names the cut, so the derived one is what a read would give;
    - each pin's value is the cut's (same tree, so same files).
    A hotfix pushed onto the release branch later gives it a new head: a new key, read.
    """
    payload, cut, base = plan.payload, plan.commit, plan.previous_head
    if not (
        isinstance(made, Mapping)
        and is_full_sha(merge_sha)
        and base
        and plan.needs_ours_merge
        and not plan.carried
        and payload.head_sha == cut
        and payload.base_sha == base
        and made.get("parents") == [cut, base]
        and is_full_sha(made.get("tree"))
        and (plan.commit_tree is None or made.get("tree") == plan.commit_tree)
    ):
        return {}
    assert merge_sha is not None
    facts: dict[str | None, Any] = {memo_key("ancestor", cut, merge_sha): True}
    moved = payload.moved_to(merge_sha)
    url = payload.compare_url or ""
    if payload.commits and url.endswith(f"/{base}...{cut}"):
        lines = [_line(c) for c in moved.commits]
        facts[memo_key("payload", base, merge_sha)] = {"u": moved.compare_url, "c": lines}
    if [p.name for p in pins] == [p.name for p in payload.pins]:
        for pin, change in zip(pins, payload.pins, strict=True):
            facts[memo_key("pin", merge_sha, extra=digest(pin.path, pin.pattern))] = change.after
    return {key: value for key, value in facts.items() if key}


def _line(commit: PayloadCommit) -> list[Any]:
    return [commit.sha, commit.title, commit.author, commit.pr]


def _is_payload(value: Any) -> bool:
    """The shape `build_payload` keeps: {"u": compare link, "c": [[sha, title, author, pr]]}."""

    def line(item: Any) -> bool:
        return (
            isinstance(item, list)
            and len(item) == 4
            and is_full_sha(item[0])
            and isinstance(item[1], str)
            and is_text_or_none(item[2])
            and (item[3] is None or (isinstance(item[3], int) and not isinstance(item[3], bool)))
        )

    return (
        isinstance(value, dict)
        and is_text_or_none(value.get("u"))
        and isinstance(value.get("c"), list)
        and all(line(item) for item in value["c"])
    )
