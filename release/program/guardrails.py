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
from typing import TYPE_CHECKING

import pulumi

from release.rules.guardrails import TYPE_TOKEN, GuardrailsArgs

if TYPE_CHECKING:
    import pulumi_github as github


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
