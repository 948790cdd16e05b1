"""Guardrails, the rules: what GitHub's own protection covers for a stack
(`GuardrailsArgs`) and its validation, checked with the rest of the stack's config before
anything is registered. release/program/guardrails.py registers them with pulumi_github.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from release.rules.errors import ConfigProblem

if TYPE_CHECKING:
    import pulumi

TYPE_TOKEN = "release-train:index:Guardrails"
RELEASE_BRANCH_PATTERN = "release/*"

# GitHub's limits: 0-6 required approving reviews, at most 6 environment reviewers.
MAX_APPROVALS = 6
MAX_ENVIRONMENT_REVIEWERS = 6

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


class GuardrailsError(ConfigProblem):
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
