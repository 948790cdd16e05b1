"""Commits list/get, compare base...head and the merges API."""

from __future__ import annotations

from typing import Any

from . import shapes, validate
from .api_repos import paginate, resolve_commit
from .forge import ApiError, Forge, RepoHandle, Request, Response, invalid, not_found
from .gitrepo import GitError, git_date
from .routes import route
from .store import now_iso

COMPARE_PAGE = 250
COMPARE_MAX_PAGE = 1000
MAX_FILES = 300


def commit_with_files(forge: Forge, handle: RepoHandle, sha: str) -> dict[str, Any]:
    info = handle.git.commit_info(sha)
    parent = info.parents[0] if info.parents else None
    files = handle.git.diff_files(parent, sha)[:MAX_FILES]
    return shapes.commit(forge.links, handle.full_name, info, forge.login_for, files)


def _date_arg(req: Request, key: str) -> str | None:
    value = req.params.get(key)
    if not value:
        return None
    try:
        return git_date(value)
    except ValueError as exc:
        raise invalid(f"{key} is not a valid ISO-8601 timestamp", "Commit", key) from exc


@route("GET", "/repos/{owner}/{repo}/commits")
def list_commits(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    if not handle.git.refs("refs/heads/"):
        raise ApiError(409, "Git Repository is empty.")
    ref = req.params.get("sha") or handle.meta["default_branch"]
    sha = handle.git.resolve(ref) or handle.git.resolve(f"refs/heads/{ref}")
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {ref}")
    args = [sha]
    since, until = _date_arg(req, "since"), _date_arg(req, "until")
    if since:
        args.append(f"--since={since}")
    if until:
        args.append(f"--until={until}")
    author = req.params.get("author")
    if author:
        args += ["--fixed-strings", f"--author={author}"]  # a login or e-mail, not a pattern
    path = (req.params.get("path") or "").strip("/")
    if path and not validate.valid_repo_path(path):
        return Response(200, [])  # no commit can touch a path that cannot exist
    if path:
        args += ["--", path]
    shas = handle.git.rev_list(*args)
    page, headers = paginate(forge, req, shas)
    infos = handle.git.commit_infos(page)
    return Response(
        200,
        [shapes.commit(forge.links, handle.full_name, c, forge.login_for) for c in infos],
        headers,
    )


@route("GET", "/repos/{owner}/{repo}/commits/{ref+}")
def get_commit(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    handle = forge.open(owner, repo)
    sha = resolve_commit(handle, ref)
    return Response(200, commit_with_files(forge, handle, sha))


@route("GET", "/repos/{owner}/{repo}/compare/{basehead+}")
def compare(forge: Forge, req: Request, owner: str, repo: str, basehead: str) -> Response:
    handle = forge.open(owner, repo)
    if "..." in basehead:
        base_ref, head_ref = basehead.split("...", 1)
    elif ".." in basehead:
        base_ref, head_ref = basehead.split("..", 1)
    else:
        raise not_found()
    base_ref, head_ref = base_ref.split(":", 1)[-1], head_ref.split(":", 1)[-1]
    base = handle.git.resolve(base_ref) or handle.git.resolve(f"refs/heads/{base_ref}")
    head = handle.git.resolve(head_ref) or handle.git.resolve(f"refs/heads/{head_ref}")
    if base is None or head is None:
        raise not_found()
    merge_base = handle.git.merge_base(base, head)
    if merge_base is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    ahead = handle.git.rev_list("--reverse", "--topo-order", f"{base}..{head}")
    behind_by = handle.git.count(f"{head}..{base}")
    if not ahead and not behind_by:
        status = "identical"
    elif not behind_by:
        status = "ahead"
    elif not ahead:
        status = "behind"
    else:
        status = "diverged"
    page, headers = paginate(forge, req, ahead, COMPARE_PAGE, COMPARE_MAX_PAGE)
    infos = handle.git.commit_infos(page)
    files = handle.git.diff_files(merge_base, head)[:MAX_FILES]
    links = forge.links
    web = links.html(handle.full_name)
    body = {
        "url": f"{links.repo(handle.full_name)}/compare/{basehead}",
        "html_url": f"{web}/compare/{basehead}",
        "permalink_url": f"{web}/compare/{base}...{head}",
        "diff_url": f"{web}/compare/{basehead}.diff",
        "patch_url": f"{web}/compare/{basehead}.patch",
        "base_commit": shapes.commit(
            links, handle.full_name, handle.git.commit_info(base), forge.login_for
        ),
        "merge_base_commit": shapes.commit(
            links, handle.full_name, handle.git.commit_info(merge_base), forge.login_for
        ),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": behind_by,
        "total_commits": len(ahead),
        "commits": [shapes.commit(links, handle.full_name, c, forge.login_for) for c in infos],
        "files": [shapes.diff_entry(links, handle.full_name, head, f) for f in files],
    }
    return Response(200, body, headers)


@route("POST", "/repos/{owner}/{repo}/merges")
def merge(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    """A real three-way merge of `head` into branch `base`: 201, 204 (nothing to do) or 409."""
    handle = forge.open(owner, repo)
    base_name = req.string("base", "Merge", required=True) or ""
    head_ref = req.string("head", "Merge", required=True) or ""
    message = req.string("commit_message", "Merge")
    valid_base = validate.valid_branch_name(base_name)
    base = handle.git.ref_sha(f"refs/heads/{base_name}") if valid_base else None
    if base is None:
        raise ApiError(404, "Base does not exist")
    head = (
        handle.git.resolve(f"refs/heads/{head_ref}") or handle.git.resolve(head_ref)
        if validate.valid_revision(head_ref)
        else None
    )
    if head is None:
        raise ApiError(404, "Head does not exist")
    if handle.git.is_ancestor(head, base):
        return Response(204)
    tree, conflicts = handle.git.merge_tree(base, head)
    if tree is None:
        raise ApiError(409, "Merge conflict")
    author = forge.identity(req.login)
    sha = handle.git.commit_tree(
        tree, [base, head], message or f"Merge {head_ref} into {base_name}", author
    )
    try:
        handle.git.update_ref(f"refs/heads/{base_name}", sha, base)
    except GitError as exc:
        raise ApiError(409, "Base branch moved during the merge; try again") from exc
    handle.meta["pushed_at"] = now_iso()
    forge.save(handle)
    sync_pulls(forge, handle)
    body = shapes.commit(
        forge.links, handle.full_name, handle.git.commit_info(sha), forge.login_for
    )
    return Response(201, body, {"Location": body["url"]})


def sync_pulls(forge: Forge, handle: RepoHandle) -> None:
    """Let the pull requests notice a ref change (a pushed-in head reads as merged)."""
    from .api_pulls import sync_pulls as sync

    sync(forge, handle)
