"""Guardrails: GitHub's own protection of the branches and environments the train promotes.

The release train already refuses to merge without green checks and the oncall partner's
approval, and never deletes or force-pushes a branch. These guardrails make GitHub enforce
the same rules for everybody else, with ``pulumi_github``:

- a branch protection for each environment branch (``staging``, ``production``): the
  required number of approving reviews (stale approvals dismissed when the head moves, and,
  in an organization's repository, only the oncall team may dismiss a review), the required status checks in strict mode
  (the release branch must be up to date with the environment branch, which the ours-merge
  guarantees), enforced for administrators too, no force pushes, no deletions;
- a branch protection for ``release/*``: no force pushes, no deletions, also for admins;
- a repository environment per environment branch, whose required reviewers are the oncall
  team and/or users, so a CI job that declares ``environment: production`` waits for them.

Classic branch protection cannot say *who* must approve, only how many. The program's merge
gate checks that the approvals come from the configured reviewers; to make GitHub insist on
it as well, set ``require_code_owner_reviews`` and name the oncall team in a CODEOWNERS file
on the environment branches.

This component is only used when the stack config sets ``manageProtection`` (GitHub and
GitHub Enterprise only; the sandbox forge has no protection API, so it is off in the sandbox
examples). The token it runs with needs, on the repository, the fine-grained permission
**Administration: write** (branch protection and environments), plus **Members: read** on
the organization to look up the reviewer team's id (a classic token: ``repo`` and
``read:org``).

Every resource here is retained when it leaves the stack (``retain_on_delete``): turning
``manageProtection`` off stops managing the rules but never removes a protection, and never
deletes an environment with its deployment history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

if TYPE_CHECKING:
    import pulumi_github as github

TYPE_TOKEN = "release-train:index:Guardrails"
RELEASE_BRANCH_PATTERN = "release/*"

# GitHub's limits: 0-6 required approving reviews, at most 6 environment reviewers.
MAX_APPROVALS = 6
MAX_ENVIRONMENT_REVIEWERS = 6

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


class GuardrailsError(ValueError):
    """A guardrails setting is invalid; the message names the setting, its value and the fix."""


@dataclass(frozen=True)
class GuardrailsArgs:
    """What to protect and who reviews.

    ``repository`` is ``owner/name``. ``reviewer_team`` is a team slug of the repository's
    organization (without the ``org/`` prefix); ``reviewer_users`` are GitHub logins. At
    least one reviewer is needed when ``required_approvals`` is above zero.

    ``provider`` is a ``pulumi_github.Provider`` configured for the repository's owner; when
    it is None the component makes one from ``owner``, ``base_url`` and ``token`` (the token
    falls back to the ``GITHUB_TOKEN`` environment variable, and is kept secret).
    """

    repository: str
    environment_branches: Sequence[str] = ("staging", "production")
    required_checks: Sequence[str] = ()
    reviewer_team: str | None = None
    reviewer_users: Sequence[str] = ()
    required_approvals: int = 1
    require_code_owner_reviews: bool = False
    release_branch_pattern: str = RELEASE_BRANCH_PATTERN
    base_url: str | None = None
    token: pulumi.Input[str] | None = field(default=None, repr=False)
    provider: pulumi.ProviderResource | None = None

    def __post_init__(self) -> None:
        validate(self)

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]

    def dismissal_actors(self) -> list[str] | None:
        """Who may dismiss a review: the oncall team and users, in GitHub's actor notation.

        None without a team: GitHub accepts dismissal restrictions only on repositories an
        organization owns, and a reviewer team is what tells us that this one is.
        """
        if not self.reviewer_team:
            return None
        return [f"{self.owner}/{self.reviewer_team}"] + [f"/{u}" for u in self.reviewer_users]


def validate(args: GuardrailsArgs) -> None:
    """Check every setting before any resource is registered; raise GuardrailsError if bad."""
    if not _REPOSITORY.match(args.repository or ""):
        raise GuardrailsError(
            f"repository: {args.repository!r} is not 'owner/name'; "
            "set it to the GitHub repository, e.g. 'acme/service'"
        )
    branches = list(args.environment_branches)
    if not branches:
        raise GuardrailsError(
            "environment_branches: empty; name the branches to protect, e.g. staging, production"
        )
    for branch in branches:
        if not branch or branch.startswith("/") or ".." in branch or "*" in branch:
            raise GuardrailsError(
                f"environment_branches: {branch!r} is not a branch name; "
                "use plain names such as 'staging'"
            )
    if len(set(branches)) != len(branches):
        raise GuardrailsError(
            f"environment_branches: {branches!r} names a branch twice; list each branch once"
        )
    if args.release_branch_pattern in branches:
        raise GuardrailsError(
            f"release_branch_pattern: {args.release_branch_pattern!r} is also an environment "
            "branch; use a pattern such as 'release/*'"
        )
    if any(not check for check in args.required_checks):
        raise GuardrailsError(
            f"required_checks: {list(args.required_checks)!r} contains an empty name; "
            "list the check names exactly as the forge reports them"
        )
    if args.reviewer_team is not None and not _SLUG.match(args.reviewer_team):
        raise GuardrailsError(
            f"reviewer_team: {args.reviewer_team!r} is not a team slug; "
            "give the slug without the organization, e.g. 'oncall'"
        )
    for login in args.reviewer_users:
        if not _LOGIN.match(login or ""):
            raise GuardrailsError(
                f"reviewer_users: {login!r} is not a GitHub login; list logins without '@'"
            )
    if (
        isinstance(args.required_approvals, bool)
        or not isinstance(args.required_approvals, int)
        or not 0 <= args.required_approvals <= MAX_APPROVALS
    ):
        raise GuardrailsError(
            f"required_approvals: {args.required_approvals!r} is out of range; "
            f"GitHub accepts a whole number from 0 to {MAX_APPROVALS}"
        )
    reviewers = (1 if args.reviewer_team else 0) + len(args.reviewer_users)
    if args.required_approvals > 0 and reviewers == 0:
        raise GuardrailsError(
            f"reviewer_team/reviewer_users: empty while required_approvals is "
            f"{args.required_approvals}; name the oncall team or users who approve releases"
        )
    if reviewers > MAX_ENVIRONMENT_REVIEWERS:
        raise GuardrailsError(
            f"reviewer_team/reviewer_users: {reviewers} reviewers; GitHub environments accept "
            f"at most {MAX_ENVIRONMENT_REVIEWERS}, so use a team instead of many users"
        )


class Guardrails(pulumi.ComponentResource):
    """Branch protections and deployment environments for the release train's repository."""

    def __init__(
        self, name: str, args: GuardrailsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # Imported here: loading pulumi_github takes a noticeable part of a second, and only
        # stacks with manageProtection register these resources.
        import pulumi_github as github

        super().__init__(TYPE_TOKEN, name, None, opts)
        provider = args.provider or github.Provider(
            f"{name}-github",
            owner=args.owner,
            base_url=args.base_url,
            token=None if args.token is None else pulumi.Output.secret(args.token),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider, retain_on_delete=True)
        invoke = pulumi.InvokeOptions(parent=self, provider=provider)

        self.environment_protections: dict[str, github.BranchProtection] = {}
        for branch in args.environment_branches:
            self.environment_protections[branch] = github.BranchProtection(
                f"{name}-protect-{_resource_suffix(branch)}",
                repository_id=args.name,
                pattern=branch,
                enforce_admins=True,
                allows_force_pushes=False,
                allows_deletions=False,
                required_pull_request_reviews=[
                    github.BranchProtectionRequiredPullRequestReviewArgs(
                        required_approving_review_count=args.required_approvals,
                        dismiss_stale_reviews=True,
                        require_code_owner_reviews=args.require_code_owner_reviews,
                        dismissal_restrictions=args.dismissal_actors(),
                    )
                ],
                required_status_checks=[
                    github.BranchProtectionRequiredStatusCheckArgs(
                        strict=True,
                        contexts=list(args.required_checks),
                    )
                ],
                opts=child,
            )

        self.release_protection: github.BranchProtection = github.BranchProtection(
            f"{name}-protect-{_resource_suffix(args.release_branch_pattern)}",
            repository_id=args.name,
            pattern=args.release_branch_pattern,
            enforce_admins=True,
            allows_force_pushes=False,
            allows_deletions=False,
            opts=child,
        )

        team_ids: list[pulumi.Output[int]] = []
        if args.reviewer_team:
            team = github.get_team_output(slug=args.reviewer_team, summary_only=True, opts=invoke)
            team_ids.append(team.id.apply(int))
        user_ids = [
            github.get_user_output(username=login, opts=invoke).id.apply(int)
            for login in args.reviewer_users
        ]
        reviewers = github.RepositoryEnvironmentReviewerArgs(
            teams=pulumi.Output.all(*team_ids) if team_ids else None,
            users=pulumi.Output.all(*user_ids) if user_ids else None,
        )

        self.environments: dict[str, github.RepositoryEnvironment] = {}
        for branch in args.environment_branches:
            self.environments[branch] = github.RepositoryEnvironment(
                f"{name}-environment-{_resource_suffix(branch)}",
                repository=args.name,
                environment=branch,
                reviewers=[reviewers] if team_ids or user_ids else None,
                prevent_self_review=True,
                can_admins_bypass=False,
                opts=child,
            )

        self.register_outputs(
            {
                "protectedBranches": list(args.environment_branches)
                + [args.release_branch_pattern],
                "environments": list(args.environment_branches),
            }
        )


def _resource_suffix(pattern: str) -> str:
    """A resource-name-safe form of a branch or pattern: 'release/*' -> 'release-all'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", pattern.replace("*", "all")).strip("-")
