"""The program's planning: what a promotion will do, decided from reads before any write.

Everything the preview must show (the newest green commit, the commit to cut, the previous
release, whether an ours-merge is needed, lost fixes, the payload, and the day-two changes
the config lists: picks, reverts, a rollback) is computed here with reads only, into a
`PromotionPlan`; release/program/registration.py then registers the resources that do the
writes. Any refusal is raised here, so bad config stops before anything is registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from github import GithubException, UnknownObjectException
from github.Repository import Repository

from release import forge
from release.providers.grafting import find_applied
from release.providers.rollback import rollback_branch
from release.rules.config import ConfigError, Settings
from release.rules.fixes import LostFixError, lost_fixes, patch_fingerprint
from release.rules.gates import check_states
from release.rules.green import GreenResult, newest_green
from release.rules.payload import Payload, payload_commits, pin_changes, read_pin
from release.rules.picks import refusal, revert_refusal


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


@dataclass(frozen=True)
class PlannedRollback:
    """The rollback the stack's config asks for, checked with reads."""

    target: str
    to_sha: str
    env_head: str
    branch: str
    approvals: int


def plan_rollback(settings: Settings, repo: Repository | None) -> PlannedRollback | None:
    """Check the rollback the stack's config asks for (`rollback: {to, date}`) now, with
    reads only; None when none is asked for.

    `rollbackApprovals` (0 or 1), when set, replaces the number of approvals.
    """
    day_two = settings.day_two
    if not day_two.rollback_to or not day_two.rollback_date:
        return None
    assert repo is not None
    target, env = day_two.rollback_to, settings.environment
    to_sha = forge.branch_head(repo, target)
    if to_sha is None:
        raise ConfigError("rollback.to", target, f"no such branch in {settings.repository}")
    env_head = forge.branch_head(repo, env)
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
    """The configured repository, or a ConfigError naming `repository` (before any write)."""
    try:
        repo = session.repo
        repo.full_name  # noqa: B018 - forces the read, so a 404 is reported here
    except UnknownObjectException:
        raise ConfigError(
            "repository",
            settings.repository,
            "no such repository, or the token cannot read it; check owner/name and the token",
        ) from None
    except GithubException as err:
        raise ConfigError("apiUrl", settings.api_url, forge.describe(err)) from None
    return repo


def find_green(settings: Settings, repo: Repository) -> GreenResult:
    """The newest green commit on the source branch (reads only)."""
    if forge.branch_head(repo, settings.source_branch) is None:
        raise ConfigError(
            "sourceBranch", settings.source_branch, "no such branch in " + settings.repository
        )
    return newest_green(
        forge.iter_commits(repo, settings.source_branch),
        lambda sha: checks_of(repo, sha),
        settings.required_checks,
        settings.green_lookback,
    )


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

    def describe(self) -> str:
        lines = [
            f"release {self.release} at {self.commit} into {self.environment}",
            f"previous release in {self.environment}: {self.previous or 'none found'}",
        ]
        if self.needs_ours_merge:
            lines.append(
                f"ours-merge needed: {self.previous} has commits the new release lacks "
                "(all checked: no fix would be lost)"
            )
        if self.already_contained:
            lines.append(f"{self.environment} already contains {self.commit[:12]}")
        lines.append(
            f"payload: {len(self.payload.commits)} commit(s), {len(self.payload.prs)} PR(s)"
        )
        for pin in self.payload.pins:
            mark = "changed" if pin.changed else "unchanged"
            lines.append(f"pin {pin.name}: {pin.before} -> {pin.after} ({mark})")
        return "\n".join(lines)


def plan_promotion(
    settings: Settings, repo: Repository, release: str, commit: str
) -> PromotionPlan:
    """Decide the promotion of `commit` as `release` into the environment (reads only).

    Raises ConfigError for a missing environment branch or a repository that disallows merge
    commits, and LostFixError when the previous release has a fix the new one lacks.
    """
    env_head = forge.branch_head(repo, settings.environment)
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
    try:
        repo.get_git_commit(commit)
    except UnknownObjectException:
        raise ConfigError("commit", commit, "no such commit in " + settings.repository) from None
    current = forge.current_release(repo, env_head, exclude=release)
    previous, previous_head = current if current else (None, None)
    needs_ours = bool(previous_head) and not forge.is_ancestor(repo, previous_head, commit)
    if needs_ours:
        assert previous and previous_head
        check_lost_fixes(repo, previous, previous_head, release, commit, settings.picks)
    base = previous_head or env_head
    # Day-two changes are checked with reads before anything is registered: bad config
    # stops here, with no forge write.
    changes = plan_release_changes(settings, repo, release, commit)
    rollback = plan_rollback(settings, repo)
    return PromotionPlan(
        release=release,
        commit=commit,
        environment=settings.environment,
        env_head=env_head,
        previous=previous,
        previous_head=previous_head,
        needs_ours_merge=needs_ours,
        already_contained=forge.is_ancestor(repo, commit, env_head),
        payload=build_payload(settings, repo, previous, base, release, commit),
        changes=changes,
        rollback=rollback,
    )


def check_lost_fixes(
    repo: Repository,
    previous: str,
    previous_head: str,
    release: str,
    commit: str,
    picks: Sequence[str] = (),
) -> None:
    """Stop with LostFixError when `previous` has a fix that `commit` does not."""
    only_previous = repo.compare(commit, previous_head)
    candidates = forge.listed(only_previous.commits)
    merge_base = only_previous.merge_base_commit.sha

    def new_fingerprints() -> set[str]:
        since = forge.listed(repo.compare(merge_base, commit).commits)
        return {patch_fingerprint(c.get("files") or _files(repo, c["sha"])) for c in since}

    lost = lost_fixes(
        candidates,
        new_has=lambda sha: forge.is_ancestor(repo, sha, commit),
        new_fingerprints=new_fingerprints,
        fingerprint_of=lambda sha: patch_fingerprint(_files(repo, sha)),
        carried=picks,
    )
    if lost:
        raise LostFixError(previous, release, lost)


def _files(repo: Repository, sha: str) -> list[dict[str, Any]]:
    return [f.raw_data for f in repo.get_commit(sha).files]


def build_payload(
    settings: Settings,
    repo: Repository,
    previous: str | None,
    base: str,
    release: str,
    commit: str,
) -> Payload:
    """Commits and PRs from `base` to `commit`, and the pins at both ends (reads only)."""
    comparison = repo.compare(base, commit, comparison_commits_per_page=250)
    commits = payload_commits(forge.listed(comparison.commits))
    before = {p.name: read_pin(p, forge.read_file(repo, p.path, base)) for p in settings.pins}
    after = {p.name: read_pin(p, forge.read_file(repo, p.path, commit)) for p in settings.pins}
    return Payload(
        previous=previous,
        release=release,
        base_sha=base,
        head_sha=commit,
        commits=commits,
        pins=pin_changes(settings.pins, before, after),
        compare_url=comparison.html_url,
    )
