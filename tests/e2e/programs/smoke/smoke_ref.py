"""A git ref in a GitHub-compatible forge, managed by a dynamic provider through PyGithub.

The forge token is stack configuration (`smoke:forgeToken`, a secret). The provider reads it in
`configure`, inside the provider process, into a module-level table: it is never an input, an
output, or an attribute of the pickled provider. Leaving the stack forgets the ref; it stays.
"""

from __future__ import annotations

from typing import Any

import github
import pulumi
from pulumi.dynamic import (
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

_CREDENTIALS: dict[str, str] = {}
_INPUTS = ("base_url", "repo", "ref", "sha")
_REPLACING = ("base_url", "repo", "ref")


def _repo(props: dict[str, Any]) -> Any:
    client = github.Github(
        base_url=props["base_url"], auth=github.Auth.Token(_CREDENTIALS["token"]), retry=None
    )
    return client.get_repo(props["repo"])


class RefProvider(ResourceProvider):
    def configure(self, req: ConfigureRequest) -> None:
        _CREDENTIALS["token"] = req.config.require("smoke:forgeToken")

    def create(self, props: dict[str, Any]) -> CreateResult:
        _repo(props).create_git_ref(props["ref"], props["sha"])
        outs = {k: props[k] for k in _INPUTS}
        return CreateResult(id_=f"{props['repo']}:{props['ref']}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in _INPUTS if olds.get(k) != news.get(k)]
        return DiffResult(
            changes=bool(changed),
            replaces=[k for k in changed if k in _REPLACING],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _repo(news).get_git_ref(news["ref"].removeprefix("refs/")).edit(news["sha"], force=False)
        return UpdateResult(outs={k: news[k] for k in _INPUTS})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        current = _repo(props).get_git_ref(props["ref"].removeprefix("refs/")).object.sha
        return ReadResult(id_=id_, outs={**{k: props[k] for k in _INPUTS}, "sha": current})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Forget the ref: the stack lets go of it, the forge keeps it."""


class SmokeRef(Resource, module="smoke", name="Ref"):
    ref: pulumi.Output[str]
    sha: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        base_url: pulumi.Input[str],
        repo: pulumi.Input[str],
        ref: pulumi.Input[str],
        sha: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            RefProvider(),
            name,
            {"base_url": base_url, "repo": repo, "ref": ref, "sha": sha},
            opts,
        )
