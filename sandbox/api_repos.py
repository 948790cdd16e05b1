"""Repository, branches and contents endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from . import shapes
from .forge import ApiError, Forge, RepoHandle, Request, Response, invalid, not_found
from .pagination import link_header, page_params, slice_page
from .routes import route

REPO_SETTINGS = (
    "allow_merge_commit",
    "allow_squash_merge",
    "allow_rebase_merge",
    "delete_branch_on_merge",
    "private",
)


def resolve_commit(handle: RepoHandle, ref: str) -> str:
    """The commit a branch, tag, full ref or SHA names; 404 "No commit found" otherwise."""
    sha = handle.git.resolve(ref) if ref else None
    if sha is None and not ref.startswith("refs/"):
        sha = handle.git.resolve(f"refs/heads/{ref}")
    if sha is None:
        raise ApiError(404 if ref else 422, f"No commit found for the ref {ref}")
    return sha


def paginate(
    forge: Forge, req: Request, items: list[Any], default: int = 30, maximum: int = 100
) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` and the Link header for it."""
    try:
        page, per_page = page_params(req.params, default, maximum)
    except ValueError as exc:
        raise invalid(str(exc), "Pagination", "page") from exc
    link = link_header(f"{forge.links.api}{req.path}", req.params, page, per_page, len(items))
    return slice_page(items, page, per_page), ({"Link": link} if link else {})


def permissions(forge: Forge, login: str, may_write: bool = True) -> dict[str, bool]:
    # A read-only token only ever reads; every known login may push otherwise.
    if not may_write or login in forge.read_only_logins:
        return {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True}
    return {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}


def repo_body(
    forge: Forge, handle: RepoHandle, login: str, may_write: bool = True
) -> dict[str, Any]:
    owner = handle.full_name.split("/")[0]
    open_pulls = sum(1 for p in handle.meta["pulls"].values() if p["state"] == "open")
    handle.meta["default_branch"] = handle.meta.get("default_branch") or handle.git.head_branch()
    return shapes.full_repo(
        forge.links,
        handle.full_name,
        handle.meta,
        forge.owner_kind(owner),
        handle.meta.get("pushed_at") or handle.meta["created_at"],
        open_pulls,
        permissions(forge, login, may_write),
    )


@route("GET", "/repos/{owner}/{repo}")
def get_repo(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    return Response(200, repo_body(forge, handle, req.login, req.may_write))


@route("PATCH", "/repos/{owner}/{repo}")
def update_repo(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    body = req.json_object()
    settings = handle.meta["settings"]
    for key in REPO_SETTINGS:
        if key in body:
            value = req.boolean(key, "Repository")
            settings[key] = value
    for key in ("description", "homepage"):
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise invalid(f"{key} is not a string", "Repository", key)
            settings[key] = value
    if "default_branch" in body:
        branch = req.string("default_branch", "Repository") or ""
        if handle.git.ref_sha(f"refs/heads/{branch}") is None:
            raise invalid(
                f"The branch {branch} was not found.", "Repository", "default_branch", "custom"
            )
        handle.git.set_head_branch(branch)
        handle.meta["default_branch"] = branch
    if not (
        settings["allow_merge_commit"]
        or settings["allow_squash_merge"]
        or settings["allow_rebase_merge"]
    ):
        raise invalid(
            "Sorry, you need to allow at least one merge strategy. (no_merge_method)",
            "Repository",
            "merge_commit_allowed",
            "custom",
        )
    forge.save(handle)
    return Response(200, repo_body(forge, handle, req.login))


@route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    refs = handle.git.refs("refs/heads/")
    items = [
        shapes.short_branch(forge.links, handle.full_name, ref[len("refs/heads/") :], sha)
        for ref, (sha, _) in refs.items()
    ]
    if req.params.get("protected") == "true":
        items = []
    page, headers = paginate(forge, req, items)
    return Response(200, page, headers)


@route("GET", "/repos/{owner}/{repo}/branches/{branch+}")
def get_branch(forge: Forge, req: Request, owner: str, repo: str, branch: str) -> Response:
    handle = forge.open(owner, repo)
    sha = handle.git.ref_sha(f"refs/heads/{branch}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    info = handle.git.commit_info(sha)
    commit = shapes.commit(forge.links, handle.full_name, info, forge.login_for)
    return Response(200, shapes.branch(forge.links, handle.full_name, branch, commit))


def _contents(forge: Forge, req: Request, handle: RepoHandle, path: str) -> Response:
    ref = req.params.get("ref") or handle.meta["default_branch"]
    sha = resolve_commit(handle, ref)
    entry = handle.git.entry_at(sha, path)
    if entry is None:
        raise not_found()
    if entry.type == "tree":
        children = handle.git.ls_tree(f"{entry.sha}")
        items = []
        for child in children:
            full = f"{entry.path}/{child.path}" if entry.path else child.path
            items.append(
                shapes.content_item(
                    forge.links,
                    handle.full_name,
                    ref,
                    type(child)(child.mode, child.type, child.sha, child.size, full),
                )
            )
        return Response(200, items)
    data = handle.git.read_blob(entry.sha) if entry.type == "blob" else b""
    return Response(200, shapes.content_item(forge.links, handle.full_name, ref, entry, data))


@route("GET", "/repos/{owner}/{repo}/contents")
def get_root_contents(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    return _contents(forge, req, forge.open(owner, repo), "")


@route("GET", "/repos/{owner}/{repo}/contents/{path+}")
def get_contents(forge: Forge, req: Request, owner: str, repo: str, path: str) -> Response:
    return _contents(forge, req, forge.open(owner, repo), path)


def ref_url(forge: Forge, full_name: str, ref: str) -> str:
    return f"{forge.links.repo(full_name)}/git/{quote(ref)}"
