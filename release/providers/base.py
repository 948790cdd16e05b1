"""What every release-train dynamic provider shares.

- `configure` and `repo` are the provider process's edge: `configure` hands the stack's
  token secret to `release.forge`, which keeps it in the provider process, and `repo`
  decides the token with the one rule (`release.rules.config.token_from`: the stack's secret,
  else GITHUB_TOKEN). The provider object itself holds nothing but code, so nothing secret
  is serialized.
- `diff` compares only the declared inputs, never the serialized provider, so editing
  provider code does not update every resource.
- `delete` forgets: branches, pull requests and merges stay on the forge when a resource
  leaves the stack (the resources are also registered with `retain_on_delete`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pulumi
from pulumi.dynamic import ConfigureRequest, DiffResult, Resource, ResourceProvider, UpdateResult

from release import forge
from release.rules.config import token_from
from release.rules.pacing import for_api

if TYPE_CHECKING:
    from github.PullRequest import PullRequest as GhPull
    from github.Repository import Repository

T = TypeVar("T")


class ForgeResource(Resource):
    """A forge object as a resource: always retained when it leaves the stack (the branch,
    pull request or merge stays on the forge; the provider's `delete` only forgets), with
    its output properties unknown until the provider fills them."""

    def __init__(
        self,
        provider: ResourceProvider,
        name: str,
        inputs: dict[str, Any],
        outputs: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        retained = pulumi.ResourceOptions(retain_on_delete=True)
        props = {**inputs, **dict.fromkeys(outputs)}
        super().__init__(provider, name, props, pulumi.ResourceOptions.merge(opts, retained))


class ForgeProvider(ResourceProvider):
    """Base of the providers; subclasses list which inputs replace and which update."""

    replace_on: Sequence[str] = ()
    update_on: Sequence[str] = ()

    def configure(self, req: ConfigureRequest) -> None:
        forge.set_token(forge.configured_token(req.config))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in self.replace_on if olds.get(k) != news.get(k)]
        updates = [k for k in self.update_on if olds.get(k) != news.get(k)]
        return DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """An input that only updates (no forge call): keep the outputs, take the new inputs."""
        return UpdateResult({**olds, **news})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Forget the resource; the forge object stays where it is."""

    @staticmethod
    def repo(props: dict[str, Any]) -> Repository:
        # The one rule: the stack's secret (from `configure`), else GITHUB_TOKEN.
        token = token_from(forge.provider_token(), os.environ)
        timeout = forge.timeout_from(os.environ)
        pacing = for_api(props["api_url"], os.environ)
        # Built once per provider process without reading it (the program checked it),
        # then reused by every resource of the `up`.
        return forge.repository(
            props["api_url"], token, props["repository"], timeout, pacing, os.environ
        )


# The pull requests this provider process opened, as the forge answered the create: within
# one `up` the merge that follows looks at its gate without reading it again.
_opened: dict[tuple[str, str, int], GhPull] = {}


def remember_opened(props: dict[str, Any], pull: GhPull) -> None:
    """Remember `pull` as opened by this process (in this `up`) for `props`' repository."""
    _opened[(props["api_url"], props["repository"].lower(), int(pull.number))] = pull


def forget_opened() -> None:
    """Forget the pull requests this process opened (as a new provider process would)."""
    _opened.clear()


def take_opened(props: dict[str, Any], number: int) -> GhPull | None:
    """Pull request `number` of `props`' repository as this process opened it, if it did,
    and only once (the merge that follows in the same `up`; any later look reads it): it is
    open and nobody has reviewed it yet, so the merge gate need not read it or its reviews
    again. None otherwise, or when it was opened at another head than `props["head_sha"]`."""
    pull = _opened.pop((props["api_url"], props["repository"].lower(), int(number)), None)
    if pull is None or pull.head.sha != props.get("head_sha"):
        return None
    return pull


def provider_session(api_url: str, repository: str) -> forge.ForgeSession:
    """The forge session of this provider process for `repository` at `api_url`, with the
    token, HTTP timeout and pacing policy `repo` uses (for an executor that talks to the
    forge on its own, such as the GitHub Actions PPC executor)."""
    token = token_from(forge.provider_token(), os.environ)
    return forge.ForgeSession(
        api_url, repository, token, forge.timeout_from(os.environ), for_api(api_url, os.environ)
    )


def call(what: str, fn: Callable[[], T]) -> T:
    """Run one forge call; a failure becomes an error naming the call, free of secrets."""
    try:
        return fn()
    except forge.GithubException as err:
        raise forge.ForgeError.from_error(what, err) from None
