"""Deployments and deployment statuses, as GitHub serves them.

- `POST /deployments` resolves `ref` (branch, tag or SHA) and checks `required_contexts`
  (omitted: every commit-status context of the commit must be `success`; `[]` skips the
  check), answering 409 when one is not. With `auto_merge` (GitHub's default) a branch
  behind the default branch gets the default branch merged in first: 202 and no
  deployment, as GitHub does, or 409 on a conflict.
- `GET /deployments` filters on `sha`, `ref`, `task` and `environment`, newest first, paged.
- `POST /deployments/{id}/statuses` takes the seven states; `log_url` also sets
  `target_url`; `environment` moves the deployment to another environment. A `success`
  with `auto_inactive` (default true) adds an `inactive` status to every earlier
  non-transient, non-production deployment of the same environment whose latest state is
  `success`, as GitHub documents.
"""

from __future__ import annotations

from typing import Any

from . import shapes, validate
from .api_checks import combined_for
from .api_repos import paginate
from .forge import ApiError, Forge, RepoHandle, Request, Response, invalid, not_found, too_long
from .gitrepo import GitError
from .routes import route
from .store import now_iso

STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
ENVIRONMENT_NAME = 255  # GitHub's limit on an environment's name


def _records(handle: RepoHandle) -> list[dict[str, Any]]:
    return handle.meta.setdefault("deployments", [])


def _find(handle: RepoHandle, deployment_id: str) -> dict[str, Any]:
    for record in _records(handle):
        if str(record["id"]) == deployment_id:
            return record
    raise not_found()


def deployment_body(forge: Forge, handle: RepoHandle, d: dict[str, Any]) -> dict[str, Any]:
    base = forge.links.repo(handle.full_name)
    url = f"{base}/deployments/{d['id']}"
    return {
        "url": url,
        "id": d["id"],
        "node_id": shapes.node_id("DE", d["id"]),
        "sha": d["sha"],
        "ref": d["ref"],
        "task": d["task"],
        "payload": d["payload"],
        "original_environment": d["original_environment"],
        "environment": d["environment"],
        "description": d["description"],
        "creator": shapes.simple_user(forge.links, d["creator"]),
        "created_at": d["created_at"],
        "updated_at": d["updated_at"],
        "statuses_url": f"{url}/statuses",
        "repository_url": base,
        "transient_environment": d["transient_environment"],
        "production_environment": d["production_environment"],
        "performed_via_github_app": None,
    }


def status_body(
    forge: Forge, handle: RepoHandle, d: dict[str, Any], s: dict[str, Any]
) -> dict[str, Any]:
    base = forge.links.repo(handle.full_name)
    deployment_url = f"{base}/deployments/{d['id']}"
    return {
        "url": f"{deployment_url}/statuses/{s['id']}",
        "id": s["id"],
        "node_id": shapes.node_id("DES", s["id"]),
        "state": s["state"],
        "creator": shapes.simple_user(forge.links, s["creator"]),
        "description": s["description"],
        "environment": s["environment"],
        "target_url": s["target_url"],
        "log_url": s["log_url"],
        "environment_url": s["environment_url"],
        "created_at": s["created_at"],
        "updated_at": s["created_at"],
        "deployment_url": deployment_url,
        "repository_url": base,
        "performed_via_github_app": None,
    }


def _text(req: Request, key: str, resource: str, default: str | None = "") -> str | None:
    value = req.json_object().get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise invalid(f"{key} is not a string", resource, key)
    return value


def _environment_name(value: str, resource: str) -> str:
    if not value.strip() or validate.has_control(value):
        raise invalid("environment is not a valid name", resource, "environment")
    if validate.too_long(value, ENVIRONMENT_NAME):
        raise too_long(resource, "environment", ENVIRONMENT_NAME)
    return value


def _resolve_ref(handle: RepoHandle, ref: str) -> tuple[str | None, str | None]:
    """(commit, branch): the commit `ref` names, and the branch when it names one."""
    if not validate.valid_revision(ref):
        return None, None
    branch = ref.removeprefix("refs/heads/")
    head = (
        handle.git.ref_sha(f"refs/heads/{branch}") if validate.valid_branch_name(branch) else None
    )
    if head is not None:
        return head, branch
    return handle.git.resolve(ref), None


def _failed_contexts(
    handle: RepoHandle, sha: str, required: list[str] | None
) -> list[dict[str, str]]:
    _state, latest = combined_for(handle, sha)
    states = {s["context"]: s["state"] for s in latest}
    wanted = sorted(states) if required is None else required
    return [
        {"context": c, "state": states.get(c, "missing")}
        for c in wanted
        if states.get(c) != "success"
    ]


def _auto_merge(forge: Forge, req: Request, handle: RepoHandle, branch: str, head: str) -> None:
    """Merge the default branch into `branch` when it is behind: 202, or 409 on a conflict."""
    default = handle.meta["default_branch"]
    tip = handle.git.ref_sha(f"refs/heads/{default}")
    if branch == default or tip is None or handle.git.is_ancestor(tip, head):
        return
    tree, _conflicts = handle.git.merge_tree(head, tip)
    if tree is None:
        raise ApiError(409, f"Conflict merging {default} into {branch}.")
    sha = handle.git.commit_tree(
        tree, [head, tip], f"Merge {default} into {branch}", forge.identity(req.login)
    )
    try:
        handle.git.update_ref(f"refs/heads/{branch}", sha, head)
    except GitError as exc:
        raise ApiError(409, f"Conflict merging {default} into {branch}.") from exc
    handle.meta["pushed_at"] = now_iso()
    forge.save(handle)
    raise _Accepted(f"Auto-merged {default} into {branch} on deployment.")


class _Accepted(Exception):
    """The create ended in an auto-merge: 202 with a message, and no deployment."""


@route("POST", "/repos/{owner}/{repo}/deployments")
def create_deployment(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    body = req.json_object()
    ref = req.string("ref", "Deployment", required=True) or ""
    task = _text(req, "task", "Deployment", "deploy") or "deploy"
    environment = _environment_name(
        _text(req, "environment", "Deployment", "production") or "", "Deployment"
    )
    description = _text(req, "description", "Deployment", None)
    if validate.too_long(description, validate.STATUS_DESCRIPTION):
        raise too_long("Deployment", "description", validate.STATUS_DESCRIPTION)
    payload = body.get("payload", {})
    if isinstance(payload, str) and payload == "":
        payload = {}
    if not isinstance(payload, dict | str):
        raise invalid("payload is not an object or a string", "Deployment", "payload")
    required = body.get("required_contexts")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(c, str) for c in required)
    ):
        raise invalid(
            "required_contexts is not an array of strings", "Deployment", "required_contexts"
        )
    auto_merge = req.boolean("auto_merge", "Deployment", True)
    transient = req.boolean("transient_environment", "Deployment", False)
    production = req.boolean("production_environment", "Deployment", environment == "production")
    sha, branch = _resolve_ref(handle, ref)
    if sha is None:
        raise invalid(f"No ref found for: {ref}", "Deployment", "ref", "custom")
    if auto_merge and branch is not None:
        try:
            _auto_merge(forge, req, handle, branch, sha)
        except _Accepted as accepted:
            return Response(202, {"message": str(accepted)})
    failed = _failed_contexts(handle, sha, required)
    if failed:
        raise ApiError(
            409,
            f"Conflict: Commit status checks failed for {ref}.",
            [{"contexts": failed, "resource": "Deployment", "field": "required_contexts"}],
        )
    now = now_iso()
    record = {
        "id": forge.store.new_id(),
        "sha": sha,
        "ref": ref,
        "task": task,
        "payload": payload,
        "original_environment": environment,
        "environment": environment,
        "description": description,
        "creator": req.login,
        "created_at": now,
        "updated_at": now,
        "transient_environment": bool(transient),
        "production_environment": bool(production),
        "statuses": [],
    }
    _records(handle).append(record)
    forge.save(handle)
    answer = deployment_body(forge, handle, record)
    return Response(201, answer, {"Location": answer["url"]})


@route("GET", "/repos/{owner}/{repo}/deployments")
def list_deployments(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    wanted = {k: req.params[k] for k in ("sha", "ref", "task", "environment") if k in req.params}
    items = [
        deployment_body(forge, handle, d)
        for d in reversed(_records(handle))
        if all(str(d[k]) == v for k, v in wanted.items())
    ]
    page, headers = paginate(forge, req, items)
    return Response(200, page, headers)


@route("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}")
def get_deployment(
    forge: Forge, req: Request, owner: str, repo: str, deployment_id: str
) -> Response:
    handle = forge.open(owner, repo)
    return Response(200, deployment_body(forge, handle, _find(handle, deployment_id)))


def _add_status(
    forge: Forge, handle: RepoHandle, d: dict[str, Any], login: str, fields: dict[str, Any]
) -> dict[str, Any]:
    now = now_iso()
    status = {"id": forge.store.new_id(), "creator": login, "created_at": now, **fields}
    d["statuses"].append(status)
    d["updated_at"] = now
    return status


def _latest_state(d: dict[str, Any]) -> str | None:
    return d["statuses"][-1]["state"] if d["statuses"] else None


@route("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
def create_status(
    forge: Forge, req: Request, owner: str, repo: str, deployment_id: str
) -> Response:
    handle = forge.open(owner, repo)
    d = _find(handle, deployment_id)
    state = req.string("state", "DeploymentStatus", required=True)
    if state not in STATES:
        raise invalid("state is not included in the list", "DeploymentStatus", "state")
    description = _text(req, "description", "DeploymentStatus") or ""
    if validate.too_long(description, validate.STATUS_DESCRIPTION):
        raise too_long("DeploymentStatus", "description", validate.STATUS_DESCRIPTION)
    log_url = _text(req, "log_url", "DeploymentStatus") or ""
    target_url = log_url or _text(req, "target_url", "DeploymentStatus") or ""
    environment_url = _text(req, "environment_url", "DeploymentStatus") or ""
    environment = _text(req, "environment", "DeploymentStatus", None)
    if environment is not None:
        d["environment"] = _environment_name(environment, "DeploymentStatus")
    auto_inactive = req.boolean("auto_inactive", "DeploymentStatus", True)
    status = _add_status(
        forge,
        handle,
        d,
        req.login,
        {
            "state": state,
            "description": description,
            "environment": d["environment"],
            "target_url": target_url,
            "log_url": log_url,
            "environment_url": environment_url,
        },
    )
    if state == "success" and auto_inactive:
        for earlier in _records(handle):
            if (
                earlier["id"] < d["id"]
                and earlier["environment"] == d["environment"]
                and not earlier["transient_environment"]
                and not earlier["production_environment"]
                and _latest_state(earlier) == "success"
            ):
                _add_status(
                    forge,
                    handle,
                    earlier,
                    req.login,
                    {
                        "state": "inactive",
                        "description": "",
                        "environment": earlier["environment"],
                        "target_url": "",
                        "log_url": "",
                        "environment_url": "",
                    },
                )
    forge.save(handle)
    answer = status_body(forge, handle, d, status)
    return Response(201, answer, {"Location": answer["url"]})


@route("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
def list_statuses(
    forge: Forge, req: Request, owner: str, repo: str, deployment_id: str
) -> Response:
    handle = forge.open(owner, repo)
    d = _find(handle, deployment_id)
    items = [status_body(forge, handle, d, s) for s in reversed(d["statuses"])]
    page, headers = paginate(forge, req, items)
    return Response(200, page, headers)


@route("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses/{status_id}")
def get_status(
    forge: Forge, req: Request, owner: str, repo: str, deployment_id: str, status_id: str
) -> Response:
    handle = forge.open(owner, repo)
    d = _find(handle, deployment_id)
    for s in d["statuses"]:
        if str(s["id"]) == status_id:
            return Response(200, status_body(forge, handle, d, s))
    raise not_found()
