"""The pull request of a release branch into an environment branch.

Creating is idempotent: an open pull request for the same head and base (or one merged at
the head) is adopted rather than duplicated, so a run that stopped after the create
converges. The create is sent first; the forge's 422 for an existing one makes it look. Leaving the stack only
forgets it; closing one is `release abandon`'s job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from release import forge
from release.providers.base import ForgeProvider, ForgeResource, call, remember_opened

if TYPE_CHECKING:
    from github.PullRequest import PullRequest as GhPull

BODY_LIMIT = 65536


class PullRequestProvider(ForgeProvider):
    replace_on = ("api_url", "repository", "head", "base", "head_sha")
    update_on = ("title", "body", "reviewers", "payload")

    def create(self, props: dict[str, Any]) -> CreateResult:
        repo = self.repo(props)
        head, base = props["head"], props["base"]

        def find() -> GhPull | None:
            return forge.find_pull(
                repo, props["repository"].split("/")[0], head, base, props["head_sha"]
            )

        opened: list[GhPull] = []

        def open_it() -> GhPull:
            try:
                pull = repo.create_pull(
                    base=base, head=head, title=props["title"], body=props["body"][:BODY_LIMIT]
                )
            except forge.GithubException as err:
                # 422: "A pull request already exists for ..." (a run killed after opening
                # it), or "No commits between ..." (it merged): adopt it as a lookup would.
                found = call("look for the pull request", find) if err.status == 422 else None
                if found is None:
                    raise
                return found
            opened.append(pull)
            return pull

        # With `new_branch` (the branch did not exist when this run's plan listed the
        # branches, so neither can a pull request of it): opened first, looked for only when
        # the forge refuses (a run killed after opening it) or a create was uncertain.
        # Otherwise (a new head of an existing branch: this resource is being replaced, or
        # a later run) it is looked for first, as the forge would refuse the create.
        pull = forge.create_once(find, open_it, looked=bool(props.get("new_branch")))
        if pull.state == "open":
            body = props["body"][:BODY_LIMIT]
            if pull.title != props["title"] or (pull.body or "") != body:
                # Adopted after a killed run: bring it to what this run describes, so the
                # body the reviewers read describes the head that merges.
                call(
                    "edit the pull request",
                    lambda: pull.edit(title=props["title"], body=body),
                )
            # Just opened by this call: nobody is asked or has reviewed yet (not read).
            fresh = bool(opened) and pull is opened[-1]
            self._request_reviews(pull, props, fresh=fresh)
            if fresh:
                remember_opened(props, pull)
        return CreateResult(str(pull.number), self._outs(props, pull))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        repo = self.repo(news)
        pull = call("read the pull request", lambda: repo.get_pull(int(id_)))
        if pull.state == "open":
            call(
                "edit the pull request",
                lambda: pull.edit(title=news["title"], body=news["body"][:BODY_LIMIT]),
            )
            self._request_reviews(pull, news)
        return UpdateResult(self._outs(news, pull))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        pull = self.repo(props).get_pull(int(id_))
        return ReadResult(id_, self._outs(props, pull))

    @staticmethod
    def _request_reviews(pull: GhPull, props: dict[str, Any], fresh: bool = False) -> None:
        """Ask the reviewers not yet asked and not yet reviewing (`fresh`: a pull request
        this call opened, so all of them, without reading who is)."""
        reviewers = list(props.get("reviewers") or [])
        if not reviewers:
            return
        missing = reviewers
        if not fresh:
            asked, reviewed = forge.together(
                forge.reads_in_flight(pull),
                [
                    lambda: {u.login for u in pull.get_review_requests()[0]},
                    lambda: {
                        str((r.get("user") or {}).get("login"))
                        for r in forge.listed(pull.get_reviews())
                    },
                ],
            )
            missing = [r for r in reviewers if r not in asked and r not in reviewed]
        if missing:
            call(
                "request reviewers",
                lambda: forge.repeatable(lambda: pull.create_review_request(reviewers=missing)),
            )

    @staticmethod
    def _outs(props: dict[str, Any], pull: GhPull) -> dict[str, Any]:
        return {
            **props,
            "number": pull.number,
            "url": pull.html_url,
            "state": "merged" if pull.merged_at is not None else pull.state,
            "pr_head_sha": pull.head.sha,
        }


class PullRequest(ForgeResource, module="github", name="PullRequest"):
    """An open pull request of `head` into `base` with the reviewers requested."""

    number: pulumi.Output[int]
    url: pulumi.Output[str]
    state: pulumi.Output[str]
    pr_head_sha: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        api_url: pulumi.Input[str],
        repository: pulumi.Input[str],
        head: pulumi.Input[str],
        base: pulumi.Input[str],
        head_sha: pulumi.Input[str],
        title: pulumi.Input[str],
        body: pulumi.Input[str],
        reviewers: pulumi.Input[list[str]],
        payload: pulumi.Input[dict[str, Any]] | None = None,
        new_branch: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # `payload`: the release's whole payload as data, kept in this resource's state
        # (read by `release payload`) rather than in every run's stack outputs.
        # `new_branch`: this run's plan found no `head` branch (not compared by `diff`).
        props = {
            "api_url": api_url,
            "repository": repository,
            "head": head,
            "base": base,
            "head_sha": head_sha,
            "title": title,
            "body": body,
            "reviewers": reviewers,
            "new_branch": new_branch,
        }
        if payload is not None:
            props["payload"] = payload
        super().__init__(
            PullRequestProvider(), name, props, ("number", "url", "state", "pr_head_sha"), opts
        )
