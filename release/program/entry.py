"""The Pulumi program: one program, three stacks (testing, staging, production).

The stack's config says which role it plays. A stack without `promotesFrom` tracks the
source branch and exports its newest green commit (testing). A stack with `promotesFrom`
promotes what the stack it names runs: staging cuts `release/YYYY-MM-DD` at testing's green
commit, production takes the release staging runs. Everything the preview must show (the
commit to cut, the previous release, whether an ours-merge is needed, lost fixes, the
payload) is computed here with reads only; the resources then do the writes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from github import GithubException, UnknownObjectException
from github.Commit import Commit
from github.Repository import Repository

from release import forge
from release.program.rollout import promote_with_rollout
from release.providers.branch import ReleaseBranch
from release.providers.cherry_pick import (
    ReleaseChanges,
    plan_release_changes,
    register_release_changes,
)
from release.providers.merge import Merge
from release.providers.ours_merge import OursMerge
from release.providers.pull_request import PullRequest
from release.providers.rollback import PlannedRollback, plan_rollback, register_rollback
from release.rules.config import (
    NAMESPACE,
    ConfigError,
    Settings,
    parse_settings,
    read_pulumi_config,
)
from release.rules.fixes import LostFixError, lost_fixes, patch_fingerprint
from release.rules.gates import check_states
from release.rules.green import GreenResult, newest_green
from release.rules.payload import Payload, payload_commits, pin_changes, read_pin, render_markdown
from release.rules.targets import TargetError, resolve_target


def checks_of(repo: Repository, sha: str) -> dict[str, str]:
    """The state of every check seen on `sha` (commit statuses and check runs)."""
    # A lazy commit: its statuses and check runs are read without reading the commit first.
    commit = Commit(repo.requester.withLazy(True), url=f"{repo.url}/commits/{sha}")
    statuses = [s.raw_data for s in commit.get_combined_status().statuses]
    runs = forge.listed(commit.get_check_runs())
    return check_states(statuses, runs)


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


def today() -> dt.date:
    """The date of the cut (UTC)."""
    return dt.datetime.now(dt.UTC).date()


def build_testing(settings: Settings, repo: Repository) -> None:
    """testing: export the newest green commit of the source branch."""
    result = find_green(settings, repo)
    for line in result.describe().splitlines():
        pulumi.log.info(line)
    if result.sha is None:
        pulumi.log.warn(
            f"no green commit in the newest {settings.green_lookback} of "
            f"{settings.source_branch}; staging has nothing new to cut"
        )
    pulumi.export("role", "source")
    pulumi.export("sourceBranch", settings.source_branch)
    pulumi.export("greenCommit", result.sha)
    pulumi.export(
        "greenCommitUrl",
        f"{repo.html_url}/commit/{result.sha}" if result.sha else None,
    )
    pulumi.export("checks", dict(result.checks))
    pulumi.export("skipped", [{"sha": s.sha, "reason": s.reason} for s in result.skipped])


def build_promotion(
    settings: Settings,
    repo: Repository,
    release: str,
    commit: str,
    source: dict[str, Any],
    token: str | None = None,
) -> dict[str, Any]:
    """staging/production: decide the promotion (reads), then register its resources."""
    plan = plan_promotion(settings, repo, release, commit)
    for line in plan.describe().splitlines():
        pulumi.log.info(line)
    return promote_with_rollout(settings, plan, source, register_promotion, token)  # PPCs etc.


def register_promotion(
    settings: Settings, plan: PromotionPlan, source: dict[str, Any]
) -> dict[str, Any]:
    """The resources of a promotion, in order: branch, ours-merge, pull request, merge."""
    release, commit = plan.release, plan.commit
    common = {"api_url": settings.api_url, "repository": settings.repository}
    branch = ReleaseBranch("release-branch", branch=release, commit=commit, **common)
    head: pulumi.Output[str] = branch.commit
    if plan.needs_ours_merge:
        assert plan.previous and plan.previous_head
        ours = OursMerge(
            "ours-merge",
            branch=release,
            head=branch.commit,
            previous=plan.previous,
            previous_head=plan.previous_head,
            opts=pulumi.ResourceOptions(depends_on=[branch]),
            **common,
        )
        head = ours.merge_sha
    head, day_two = register_release_changes(settings, release, plan.changes, head)
    day_two.update(register_rollback(settings, release, plan.rollback))
    title = f"Promote {release} to {settings.environment}"
    body = render_markdown(plan.payload)
    pull = PullRequest(
        "pull-request",
        head=release,
        base=settings.environment,
        head_sha=head,
        title=title,
        body=body,
        reviewers=list(settings.reviewers),
        **common,
    )
    merge = Merge(
        "merge",
        number=pull.number,
        head_sha=head,
        required_checks=list(settings.required_checks),
        reviewers=list(settings.reviewers),
        required_approvals=settings.required_approvals,
        **common,
    )
    return {
        "role": "promotion",
        "environment": settings.environment,
        "releaseName": release.removeprefix("release/"),
        "releaseBranch": release,
        "releaseCommit": commit,
        "releaseHead": head,
        "previousRelease": plan.previous,
        "oursMerge": plan.needs_ours_merge,
        "prNumber": pull.number,
        "prUrl": pull.url,
        "mergeCommit": merge.merge_commit,
        "state": merge.merged.apply(lambda merged: "merged" if merged else "open"),
        "payload": plan.payload.to_dict(),
        "dayTwo": day_two,
        "source": source,
    }


def _source_reference(settings: Settings) -> pulumi.StackReference:
    org = pulumi.get_organization()
    return pulumi.StackReference(
        f"{org}/{pulumi.get_project()}/{settings.promotes_from}",
        opts=pulumi.ResourceOptions(),
    )


def _from_source(settings: Settings, outputs: dict[str, Any]) -> tuple[str, str]:
    """(release branch, commit) to promote, from the pins or the source stack's outputs.

    The same decision as `release plan/promote` (release/targets.py): a plain `pulumi up`
    promotes what the command line would, and refuses what it refuses (e.g. a source
    release whose pull request is not merged yet).
    """
    try:
        target = resolve_target(
            pulumi.get_stack(),
            settings.promotes_from,
            outputs,
            settings.commit,
            settings.release_date.isoformat() if settings.release_date else None,
            today(),
            how_to_pin=f"pin {NAMESPACE}:commit",
        )
    except TargetError as err:
        raise ConfigError("promotesFrom", settings.promotes_from, str(err)) from None
    return target.branch, target.commit


PROMOTION_OUTPUTS = (
    "role",
    "environment",
    "releaseName",
    "releaseBranch",
    "releaseCommit",
    "releaseHead",
    "previousRelease",
    "oursMerge",
    "prNumber",
    "prUrl",
    "mergeCommit",
    "state",
    "payload",
    "source",
    "dayTwo",
    "rollout",
)
_SOURCE_KEYS = ("greenCommit", "releaseBranch", "releaseHead", "releaseCommit", "state")
_USER_ERRORS = (ConfigError, LostFixError)


def main() -> None:
    """Entry point of `__main__.py`. A user error stops the run with its message only."""
    try:
        _main()
    except _USER_ERRORS as err:
        raise pulumi.RunError(str(err)) from None


def _main() -> None:
    config = pulumi.Config(NAMESPACE)
    raw = read_pulumi_config(config.get)
    secret = None
    if raw.get("notifyWebhook"):
        secret = pulumi.runtime.is_config_secret(f"{NAMESPACE}:notifyWebhook")
    settings = parse_settings(pulumi.get_stack(), raw, os.environ, secret)  # the one parse
    session = forge.session(settings.api_url, settings.repository, config.get("token"), os.environ)
    repo = open_repo(settings, session)
    token = session.token
    if settings.tracks_source:
        build_testing(settings, repo)
        return
    source = {"stack": settings.promotes_from}
    if settings.commit and settings.release_date:
        # Pinned by `release promote` / `release plan`: the source stack's outputs are not
        # needed, so they are not read (reading another stack costs a secrets-manager load).
        release, commit = _from_source(settings, {})
        outputs: Any = build_promotion(settings, repo, release, commit, source, token)
    else:
        reference = _source_reference(settings)

        def build(values: list[Any]) -> dict[str, Any]:
            try:
                release, commit = _from_source(
                    settings, dict(zip(_SOURCE_KEYS, values, strict=True))
                )
                return build_promotion(settings, repo, release, commit, source, token)
            except _USER_ERRORS as err:
                raise pulumi.RunError(str(err)) from None

        outputs = pulumi.Output.all(*(reference.get_output(k) for k in _SOURCE_KEYS)).apply(build)
    for key in PROMOTION_OUTPUTS:
        value = outputs[key] if isinstance(outputs, dict) else outputs.apply(lambda d, k=key: d[k])
        pulumi.export(key, value)
