"""The git data API: refs, commits, trees and blobs."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

from . import shapes, validate
from .forge import ApiError, Forge, RepoHandle, Request, Response, invalid, not_found, unprocessable
from .gitrepo import GitError, Person, git_date
from .routes import route
from .store import now_iso

SHA_RE = re.compile(r"^[0-9a-f]{4,40}$")
TREE_MODES = {
    "100644": "blob",
    "100755": "blob",
    "040000": "tree",
    "160000": "commit",
    "120000": "blob",
}


def _ref_body(forge: Forge, handle: RepoHandle, ref: str, sha: str, typ: str) -> dict[str, Any]:
    return shapes.git_ref(forge.links, handle.full_name, ref, sha, typ)


def _matching(forge: Forge, handle: RepoHandle, prefix: str) -> list[dict[str, Any]]:
    refs = handle.git.refs("refs/")
    return [
        _ref_body(forge, handle, name, sha, typ)
        for name, (sha, typ) in refs.items()
        if name.startswith(prefix)
    ]


def _exact(handle: RepoHandle, ref: str) -> tuple[str, str] | None:
    return handle.git.refs("refs/").get(ref)


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref+}")
def get_ref(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    handle = forge.open(owner, repo)
    full = ref if ref.startswith("refs/") else f"refs/{ref}"
    found = _exact(handle, full)
    if found is None:
        raise not_found()
    return Response(200, _ref_body(forge, handle, full, *found))


@route("GET", "/repos/{owner}/{repo}/git/refs")
def list_refs(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    from .api_repos import paginate

    handle = forge.open(owner, repo)
    page, headers = paginate(forge, req, _matching(forge, handle, "refs/"))
    return Response(200, page, headers)


@route("GET", "/repos/{owner}/{repo}/git/refs/{ref+}")
def get_refs_legacy(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    """The older form: an exact ref answers with the object, a prefix with a list."""
    handle = forge.open(owner, repo)
    full = ref if ref.startswith("refs/") else f"refs/{ref}"
    found = _exact(handle, full)
    if found is not None:
        return Response(200, _ref_body(forge, handle, full, *found))
    items = _matching(forge, handle, full.rstrip("/") + "/")
    if not items:
        raise not_found()
    return Response(200, items)


@route("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref+}")
def matching_refs(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    from .api_repos import paginate

    handle = forge.open(owner, repo)
    full = ref if ref.startswith("refs/") else f"refs/{ref}"
    page, headers = paginate(forge, req, _matching(forge, handle, full))
    return Response(200, page, headers)


@route("GET", "/repos/{owner}/{repo}/git/matching-refs")
def matching_refs_all(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    return matching_refs(forge, req, owner, repo, "")


def _object_sha(handle: RepoHandle, sha: str | None) -> tuple[str, str] | None:
    if not sha or not SHA_RE.match(sha):
        return None
    full = handle.git.resolve(sha, "object")
    if full is None:
        return None
    return full, handle.git.object_type(full) or "commit"


@route("POST", "/repos/{owner}/{repo}/git/refs")
def create_ref(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    ref = req.string("ref", "Reference", required=True) or ""
    sha = req.string("sha", "Reference", required=True) or ""
    if not ref.startswith("refs/") or ref.count("/") < 2 or not validate.valid_ref_name(ref):
        raise unprocessable(
            "Reference name is not valid: it must start with 'refs/' and have at least two slashes",
            "Reference",
            "ref",
        )
    obj = _object_sha(handle, sha)
    if obj is None:
        raise unprocessable("Object does not exist", "Reference", "sha")
    if _exact(handle, ref) is not None:
        raise unprocessable("Reference already exists", "Reference", "ref")
    try:
        handle.git.update_ref(ref, obj[0], None)
    except GitError as exc:
        raise unprocessable("Reference already exists", "Reference", "ref") from exc
    handle.meta["pushed_at"] = now_iso()
    forge.save(handle)
    sync_pulls(forge, handle)
    body = _ref_body(forge, handle, ref, *obj)
    return Response(201, body, {"Location": body["url"]})


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref+}")
def update_ref(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    handle = forge.open(owner, repo)
    full = ref if ref.startswith("refs/") else f"refs/{ref}"
    sha = req.string("sha", "Reference", required=True) or ""
    force = req.boolean("force", "Reference", default=False)
    current = _exact(handle, full)
    if current is None:
        raise unprocessable("Reference does not exist", "Reference", "ref")
    obj = _object_sha(handle, sha)
    if obj is None:
        raise unprocessable("Object does not exist", "Reference", "sha")
    old = current[0]
    fast_forward = (
        obj[1] == "commit" and current[1] == "commit" and handle.git.is_ancestor(old, obj[0])
    )
    if not fast_forward and old != obj[0] and not force:
        raise unprocessable("Update is not a fast forward", "Reference", "sha")
    try:
        handle.git.update_ref(full, obj[0], old)
    except GitError as exc:
        raise ApiError(409, "Reference update failed: the reference moved; try again") from exc
    if not fast_forward and old != obj[0]:
        handle.meta["forced_updates"].append(
            {"ref": full, "old_sha": old, "new_sha": obj[0], "login": req.login, "at": now_iso()}
        )
    handle.meta["pushed_at"] = now_iso()
    forge.save(handle)
    sync_pulls(forge, handle)
    return Response(200, _ref_body(forge, handle, full, *obj))


@route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref+}")
def delete_ref(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    handle = forge.open(owner, repo)
    full = ref if ref.startswith("refs/") else f"refs/{ref}"
    current = _exact(handle, full)
    if current is None:
        raise unprocessable("Reference does not exist", "Reference", "ref")
    handle.git.delete_ref(full, current[0])
    handle.meta["pushed_at"] = now_iso()
    forge.save(handle)
    sync_pulls(forge, handle)
    return Response(204)


# -- commits --------------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/git/commits/{sha}")
def get_git_commit(forge: Forge, req: Request, owner: str, repo: str, sha: str) -> Response:
    handle = forge.open(owner, repo)
    obj = _object_sha(handle, sha)
    if obj is None or obj[1] != "commit":
        raise not_found()
    return Response(
        200, shapes.git_commit(forge.links, handle.full_name, handle.git.commit_info(obj[0]))
    )


def _person(req: Request, key: str, fallback: Person) -> Person:
    value = req.json_object().get(key)
    if value is None:
        return fallback
    if not isinstance(value, dict):
        raise invalid(f"{key} is not an object", "Commit", key)
    name, email, date = value.get("name"), value.get("email"), value.get("date")
    if not isinstance(name, str) or not isinstance(email, str) or not name or not email:
        raise invalid(f"{key} needs a name and an email", "Commit", key, "missing_field")
    for part, text in (("name", name), ("email", email)):
        if not validate.valid_identity(text):
            raise invalid(
                f"{key}.{part} must hold a letter or digit and no control character or < >",
                "Commit",
                f"{key}.{part}",
            )
    if date is not None and not isinstance(date, str):
        raise invalid(f"{key}.date is not a string", "Commit", f"{key}.date")
    try:
        if date:
            git_year = datetime.fromisoformat(git_date(date)).astimezone(UTC).year
            if not 1970 <= git_year <= 2099:
                raise ValueError(f"year {git_year} is outside 1970-2099")
    except ValueError as exc:
        raise invalid(
            f"{key}.date is not an ISO-8601 date between 1970 and 2099", "Commit", f"{key}.date"
        ) from exc
    return Person(name, email, date or now_iso())


@route("POST", "/repos/{owner}/{repo}/git/commits")
def create_git_commit(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    message = req.string("message", "Commit", required=True)
    tree = req.string("tree", "Commit", required=True) or ""
    parents = req.json_object().get("parents", [])
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise invalid("parents is not an array of strings", "Commit", "parents")
    tree_obj = _object_sha(handle, tree)
    if tree_obj is None or tree_obj[1] != "tree":
        raise unprocessable("Tree SHA does not exist", "Commit", "tree")
    full_parents = []
    for parent in parents:
        obj = _object_sha(handle, parent)
        if obj is None or obj[1] != "commit":
            raise unprocessable(
                "Parent SHA does not exist or is not a commit object", "Commit", "parents"
            )
        full_parents.append(obj[0])
    author = _person(req, "author", forge.identity(req.login))
    committer = _person(req, "committer", author)
    sha = handle.git.commit_tree(tree_obj[0], full_parents, message or "", author, committer)
    body = shapes.git_commit(forge.links, handle.full_name, handle.git.commit_info(sha))
    return Response(201, body, {"Location": body["url"]})


# -- trees ----------------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/git/trees/{sha+}")
def get_tree(forge: Forge, req: Request, owner: str, repo: str, sha: str) -> Response:
    handle = forge.open(owner, repo)
    tree = handle.git.resolve(sha, "tree") if sha and not sha.startswith("-") else None
    if tree is None:
        raise not_found()
    recursive = req.params.get("recursive") not in (None, "", "0", "false")
    entries = handle.git.ls_tree(tree, recursive=recursive)
    return Response(200, shapes.tree(forge.links, handle.full_name, tree, entries))


@route("POST", "/repos/{owner}/{repo}/git/trees")
def create_tree(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    body = req.json_object()
    items = body.get("tree")
    if not isinstance(items, list):
        raise invalid("tree is missing", "Tree", "tree", "missing_field")
    base_tree = body.get("base_tree")
    base = None
    if base_tree is not None:
        base = (
            handle.git.resolve(base_tree, "tree")
            if isinstance(base_tree, str) and SHA_RE.match(base_tree)
            else None
        )
        if base is None:
            raise unprocessable("base_tree is not a valid tree oid", "Tree", "base_tree")
    changes = []
    for i, item in enumerate(items):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("path"), str)
            or not item["path"].strip("/")
        ):
            raise invalid(f"tree.{i}.path is missing", "Tree", f"tree.{i}.path", "missing_field")
        if not validate.valid_repo_path(item["path"].strip("/")):
            raise unprocessable(
                f"tree.{i}.path contains a malformed path component", "Tree", f"tree.{i}.path"
            )
        mode = item.get("mode")
        if mode == "40000":
            mode = "040000"
        if mode not in TREE_MODES:
            raise invalid(
                f"tree.{i}.mode is not one of 100644, 100755, 040000, 160000, 120000",
                "Tree",
                f"tree.{i}.mode",
            )
        typ = item.get("type", TREE_MODES[mode])
        if typ != TREE_MODES[mode]:
            raise invalid(f"tree.{i}.type does not match its mode", "Tree", f"tree.{i}.type")
        if "content" in item and item.get("content") is not None:
            if typ != "blob" or not isinstance(item["content"], str):
                raise invalid(
                    f"tree.{i}.content must be a string for a blob", "Tree", f"tree.{i}.content"
                )
            sha = handle.git.write_blob(item["content"].encode())
        elif "sha" in item:
            sha = item["sha"]
            if sha is not None:
                obj = _object_sha(handle, sha) if isinstance(sha, str) else None
                if obj is None or (typ != "commit" and obj[1] != typ):
                    raise unprocessable(
                        f"tree.sha {sha} is not a valid {typ}", "Tree", f"tree.{i}.sha"
                    )
                sha = obj[0]
        else:
            raise invalid(
                f"tree.{i} needs either sha or content", "Tree", f"tree.{i}.sha", "missing_field"
            )
        changes.append({"path": item["path"], "mode": mode, "type": typ, "sha": sha})
    try:
        tree = handle.git.write_tree(base, changes)
    except GitError as exc:  # every object exists: what git refuses is the tree's shape
        raise unprocessable(
            "tree is invalid: a path is both a file and a directory", "Tree", "tree"
        ) from exc
    body_out = shapes.tree(forge.links, handle.full_name, tree, handle.git.ls_tree(tree))
    return Response(201, body_out, {"Location": body_out["url"]})


# -- blobs ----------------------------------------------------------------------------
@route("POST", "/repos/{owner}/{repo}/git/blobs")
def create_blob(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    content = req.string("content", "Blob", required=True) or ""
    encoding = req.string("encoding", "Blob", default="utf-8")
    if encoding in ("utf-8", "utf8"):
        data = content.encode()
    elif encoding == "base64":
        try:
            data = base64.b64decode("".join(content.split()), validate=True)
        except ValueError as exc:  # binascii.Error, or a character outside ASCII
            raise invalid("content is not valid base64", "Blob", "content") from exc
    else:
        raise invalid("encoding must be utf-8 or base64", "Blob", "encoding")
    sha = handle.git.write_blob(data)
    url = f"{forge.links.repo(handle.full_name)}/git/blobs/{sha}"
    return Response(201, {"sha": sha, "url": url}, {"Location": url})


@route("GET", "/repos/{owner}/{repo}/git/blobs/{sha}")
def get_blob(forge: Forge, req: Request, owner: str, repo: str, sha: str) -> Response:
    handle = forge.open(owner, repo)
    obj = _object_sha(handle, sha)
    if obj is None or obj[1] != "blob":
        raise not_found()
    return Response(
        200, shapes.blob(forge.links, handle.full_name, obj[0], handle.git.read_blob(obj[0]))
    )


def sync_pulls(forge: Forge, handle: RepoHandle) -> None:
    """Let the pull requests notice a ref change (a pushed-in head reads as merged)."""
    from .api_pulls import sync_pulls as sync

    sync(forge, handle)
