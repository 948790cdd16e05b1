"""Repository dispatches and workflow dispatches, recorded for the Python API to list."""

from __future__ import annotations

import json
import zlib
from typing import Any

from . import shapes, validate
from .forge import Forge, RepoHandle, Request, Response, invalid, not_found, too_long, unprocessable
from .routes import route
from .store import now_iso

WORKFLOW_DIR = ".github/workflows"


def _workflows(handle: RepoHandle) -> list[dict[str, Any]]:
    branch = handle.meta["default_branch"]
    sha = handle.git.ref_sha(f"refs/heads/{branch}")
    if sha is None or handle.git.entry_at(sha, WORKFLOW_DIR) is None:
        return []
    found = []
    for entry in handle.git.ls_tree(sha, path=f"{WORKFLOW_DIR}/"):
        if entry.type == "blob" and entry.path.endswith((".yml", ".yaml")):
            found.append(
                {"id": 100000 + zlib.crc32(entry.path.encode()) % 900000, "path": entry.path}
            )
    return found


def _workflow_body(forge: Forge, handle: RepoHandle, wf: dict[str, Any]) -> dict[str, Any]:
    base = forge.links.repo(handle.full_name)
    name = wf["path"].rsplit("/", 1)[-1]
    return {
        "id": wf["id"],
        "node_id": shapes.node_id("W", wf["id"]),
        "name": name.rsplit(".", 1)[0],
        "path": wf["path"],
        "state": "active",
        "created_at": handle.meta["created_at"],
        "updated_at": handle.meta["created_at"],
        "url": f"{base}/actions/workflows/{wf['id']}",
        "html_url": f"{forge.links.html(handle.full_name)}/blob/{handle.meta['default_branch']}/{wf['path']}",
        "badge_url": f"{forge.links.html(handle.full_name)}/workflows/{name}/badge.svg",
    }


def _find_workflow(handle: RepoHandle, workflow_id: str) -> dict[str, Any]:
    for wf in _workflows(handle):
        if str(wf["id"]) == workflow_id or wf["path"].rsplit("/", 1)[-1] == workflow_id:
            return wf
    raise not_found()


@route("GET", "/repos/{owner}/{repo}/actions/workflows")
def list_workflows(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    items = [_workflow_body(forge, handle, wf) for wf in _workflows(handle)]
    return Response(200, {"total_count": len(items), "workflows": items})


@route("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}")
def get_workflow(forge: Forge, req: Request, owner: str, repo: str, workflow_id: str) -> Response:
    handle = forge.open(owner, repo)
    return Response(200, _workflow_body(forge, handle, _find_workflow(handle, workflow_id)))


@route("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches")
def workflow_dispatch(
    forge: Forge, req: Request, owner: str, repo: str, workflow_id: str
) -> Response:
    handle = forge.open(owner, repo)
    wf = _find_workflow(handle, workflow_id)
    ref = req.string("ref", "WorkflowDispatch", required=True) or ""
    inputs = req.json_object().get("inputs", {})
    if inputs is not None and not isinstance(inputs, dict):
        raise invalid("inputs is not an object", "WorkflowDispatch", "inputs")
    if inputs and len(inputs) > validate.WORKFLOW_INPUTS:
        raise invalid(
            f"inputs has {len(inputs)} properties; the maximum is {validate.WORKFLOW_INPUTS}",
            "WorkflowDispatch",
            "inputs",
            "custom",
        )
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
    sha = handle.git.ref_sha(f"refs/heads/{branch}") or handle.git.ref_sha(f"refs/tags/{branch}")
    if sha is None:
        raise unprocessable(f"No ref found for: {ref}", "WorkflowDispatch", "ref")
    entry = handle.git.entry_at(sha, wf["path"])
    text = handle.git.read_blob(entry.sha).decode(errors="replace") if entry else ""
    if "workflow_dispatch" not in text:
        raise unprocessable(
            "Workflow does not have 'workflow_dispatch' trigger", "WorkflowDispatch", "workflow_id"
        )
    handle.meta["dispatches"].append(
        {
            "kind": "workflow_dispatch",
            "workflow_id": wf["id"],
            "workflow": wf["path"],
            "ref": ref,
            "sha": sha,
            "inputs": inputs or {},
            "login": req.login,
            "at": now_iso(),
        }
    )
    forge.save(handle)
    return Response(204)


@route("POST", "/repos/{owner}/{repo}/dispatches")
def repository_dispatch(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    event_type = req.string("event_type", "RepositoryDispatch", required=True)
    if not event_type:
        raise invalid("event_type is missing", "RepositoryDispatch", "event_type", "missing_field")
    if validate.too_long(event_type, validate.DISPATCH_EVENT_TYPE):
        raise too_long("RepositoryDispatch", "event_type", validate.DISPATCH_EVENT_TYPE)
    payload = req.json_object().get("client_payload", {})
    if payload is not None and not isinstance(payload, dict):
        raise invalid("client_payload is not an object", "RepositoryDispatch", "client_payload")
    if payload and len(payload) > validate.DISPATCH_PAYLOAD_KEYS:
        raise invalid(
            f"client_payload has {len(payload)} top-level properties; the maximum is "
            f"{validate.DISPATCH_PAYLOAD_KEYS}",
            "RepositoryDispatch",
            "client_payload",
            "custom",
        )
    if payload and len(json.dumps(payload).encode()) >= validate.DISPATCH_PAYLOAD_BYTES:
        raise invalid(
            f"client_payload must be smaller than {validate.DISPATCH_PAYLOAD_BYTES} bytes",
            "RepositoryDispatch",
            "client_payload",
            "custom",
        )
    handle.meta["dispatches"].append(
        {
            "kind": "repository_dispatch",
            "event_type": event_type,
            "client_payload": payload or {},
            "login": req.login,
            "at": now_iso(),
        }
    )
    forge.save(handle)
    return Response(204)
