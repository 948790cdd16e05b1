"""GitHub Actions: workflows, workflow dispatches and the runs they create, and repository
dispatches (recorded for the Python API to list).

A workflow is a file under `.github/workflows/` on the default branch; its `name`,
`run-name` and `workflow_dispatch` inputs are read from it. A dispatch checks the inputs as
GitHub does (no undeclared input, every required one given), records the dispatch, and
creates a run whose `display_title` is the rendered `run-name`; the sandbox's runner
(`workflow_runs.Runner`) decides how long it runs and how it ends.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

import yaml

from . import pagination, shapes, validate, workflow_runs
from .forge import (
    ApiError,
    Forge,
    RepoHandle,
    Request,
    Response,
    invalid,
    not_found,
    too_long,
    unprocessable,
)
from .routes import route
from .store import now_iso

WORKFLOW_DIR = ".github/workflows"
FIRST_RUN_ID = 7_000_000_001


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


def _definition(handle: RepoHandle, path: str, sha: str | None = None) -> dict[str, Any]:
    """The parts of a workflow file the API shows: name, run-name, dispatch inputs (and
    whether it can be dispatched). A file that is not YAML has none of them."""
    if sha is None:
        sha = handle.git.ref_sha(f"refs/heads/{handle.meta['default_branch']}")
    entry = handle.git.entry_at(sha, path) if sha else None
    text = handle.git.read_blob(entry.sha).decode(errors="replace") if entry else ""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    if not isinstance(doc, dict):
        doc = {}
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    dispatch: Any = None
    dispatchable = False
    if isinstance(triggers, dict):
        dispatchable = "workflow_dispatch" in triggers
        dispatch = triggers.get("workflow_dispatch")
    elif isinstance(triggers, list):
        dispatchable = "workflow_dispatch" in triggers
    elif isinstance(triggers, str):
        dispatchable = triggers == "workflow_dispatch"
    inputs = dispatch.get("inputs") if isinstance(dispatch, dict) else None
    name = doc.get("name")
    run_name = doc.get("run-name")
    return {
        "name": name if isinstance(name, str) and name else path,
        "run_name": run_name if isinstance(run_name, str) else None,
        "dispatchable": dispatchable,
        "inputs": inputs if isinstance(inputs, dict) else {},
    }


def _workflow_body(forge: Forge, handle: RepoHandle, wf: dict[str, Any]) -> dict[str, Any]:
    base = forge.links.repo(handle.full_name)
    name = wf["path"].rsplit("/", 1)[-1]
    return {
        "id": wf["id"],
        "node_id": shapes.node_id("W", wf["id"]),
        "name": _definition(handle, wf["path"])["name"],
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


def _check_inputs(definition: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The run's `inputs` context: the given inputs over the declared defaults; 422 as
    GitHub answers an undeclared input or a missing required one."""
    declared = definition["inputs"]
    unexpected = sorted(k for k in inputs if k not in declared)
    if unexpected:
        raise unprocessable(
            f"Unexpected inputs provided: {json.dumps(unexpected)}", "WorkflowDispatch", "inputs"
        )
    context: dict[str, Any] = {}
    for key, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if key in inputs:
            context[key] = inputs[key]
        elif spec.get("required") is True and spec.get("default") is None:
            raise unprocessable(
                f"Required input '{key}' not provided", "WorkflowDispatch", "inputs"
            )
        elif "default" in spec:
            context[key] = spec["default"]
    return context


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
    details = req.boolean("return_run_details", "WorkflowDispatch", False)
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
    sha = handle.git.ref_sha(f"refs/heads/{branch}") or handle.git.ref_sha(f"refs/tags/{branch}")
    if sha is None:
        raise unprocessable(f"No ref found for: {ref}", "WorkflowDispatch", "ref")
    definition = _definition(handle, wf["path"], sha)
    if not definition["dispatchable"]:
        raise unprocessable(
            "Workflow does not have 'workflow_dispatch' trigger", "WorkflowDispatch", "workflow_id"
        )
    context = _check_inputs(definition, inputs or {})
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
    run = _create_run(forge, handle, wf, definition, branch, sha, context, req.login)
    forge.save(handle)
    if details:
        body = _run_body(forge, handle, run, time.time())
        return Response(
            200,
            {"workflow_run_id": run["id"], "run_url": body["url"], "html_url": body["html_url"]},
        )
    return Response(204)


def _create_run(
    forge: Forge,
    handle: RepoHandle,
    wf: dict[str, Any],
    definition: dict[str, Any],
    branch: str,
    sha: str,
    inputs: dict[str, Any],
    login: str,
) -> dict[str, Any]:
    runs = handle.meta.setdefault("workflow_runs", [])
    run_id = handle.meta.get("next_run_id", FIRST_RUN_ID)
    handle.meta["next_run_id"] = run_id + 1
    github = {"actor": login, "ref_name": branch, "event_name": "workflow_dispatch"}
    title = definition["name"]
    if definition["run_name"]:
        title = workflow_runs.render_run_name(definition["run_name"], inputs, github)
    now = time.time()
    run = {
        "id": run_id,
        "run_number": 1 + sum(1 for r in runs if r["workflow_id"] == wf["id"]),
        "workflow_id": wf["id"],
        "path": wf["path"],
        "name": definition["name"],
        "display_title": title,
        "event": "workflow_dispatch",
        "head_branch": branch,
        "head_sha": sha,
        "inputs": inputs,
        "actor": login,
        "created_ts": now,
        "created_at": workflow_runs.iso(now),
        "cancelled_ts": None,
        **forge.runner.decide(inputs),
    }
    runs.append(run)
    return run


def _run_body(
    forge: Forge,
    handle: RepoHandle,
    run: dict[str, Any],
    now: float,
    commits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A stored run as GitHub shows it (`workflow-run`), in its state at `now` (`commits`
    keeps the head commits read for one listing: most runs share one)."""
    full_name = handle.full_name
    base = forge.links.repo(full_name)
    url = f"{base}/actions/runs/{run['id']}"
    repo = shapes.minimal_repo(
        forge.links, full_name, handle.meta, forge.owner_kind(handle.full_name.split("/")[0])
    )
    commits = {} if commits is None else commits
    info = commits.get(run["head_sha"])
    if info is None:
        info = commits[run["head_sha"]] = handle.git.commit_info(run["head_sha"])
    actor = shapes.simple_user(forge.links, run["actor"])
    return {
        "id": run["id"],
        "name": run["name"],
        "node_id": shapes.node_id("WFR", run["id"]),
        "check_suite_id": run["id"] + 1_000_000_000,
        "check_suite_node_id": shapes.node_id("CS", run["id"] + 1_000_000_000),
        "head_branch": run["head_branch"],
        "head_sha": run["head_sha"],
        "path": run["path"],
        "run_number": run["run_number"],
        "run_attempt": 1,
        "referenced_workflows": [],
        "event": run["event"],
        **workflow_runs.state(run, now),
        "workflow_id": run["workflow_id"],
        "url": url,
        "html_url": f"{forge.links.html(full_name)}/actions/runs/{run['id']}",
        "pull_requests": [],
        "created_at": run["created_at"],
        "actor": actor,
        "triggering_actor": actor,
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{base}/check-suites/{run['id'] + 1_000_000_000}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{base}/actions/workflows/{run['workflow_id']}",
        "head_commit": {
            "id": info.sha,
            "tree_id": info.tree,
            "message": info.message,
            "timestamp": info.committer.date,
            "author": {"name": info.author.name, "email": info.author.email},
            "committer": {"name": info.committer.name, "email": info.committer.email},
        },
        "repository": repo,
        "head_repository": repo,
        "head_repository_id": handle.meta["id"],
        "display_title": run["display_title"],
    }


_STATUSES = ("completed", "in_progress", "queued", "requested", "waiting", "pending")
_FILTER_CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "skipped",
    "stale",
    "success",
    "timed_out",
)


def _list_runs(forge: Forge, req: Request, handle: RepoHandle, workflow_id: int | None) -> Response:
    params = req.params
    status = params.get("status", "")
    if status and status not in _STATUSES + _FILTER_CONCLUSIONS:
        raise invalid(
            f"status {status!r} is not a run status or conclusion", "WorkflowRun", "status"
        )
    created = None
    if params.get("created"):
        try:
            created = workflow_runs.created_filter(params["created"])
        except ValueError:
            raise invalid(
                f"created {params['created']!r} is not a date or date range "
                "(e.g. >=2026-11-29 or 2026-11-01..2026-11-29)",
                "WorkflowRun",
                "created",
            ) from None
    try:
        page, per_page = pagination.page_params(params)
    except pagination.PageError as exc:
        raise invalid(str(exc), "WorkflowRun", "page") from None
    now = time.time()
    chosen = []
    for run in reversed(handle.meta.get("workflow_runs", [])):  # newest first, as GitHub
        if not workflow_runs.visible(run, now):
            continue
        if workflow_id is not None and run["workflow_id"] != workflow_id:
            continue
        if params.get("event") and run["event"] != params["event"]:
            continue
        if params.get("branch") and run["head_branch"] != params["branch"]:
            continue
        if params.get("actor") and run["actor"] != params["actor"]:
            continue
        if params.get("head_sha") and run["head_sha"] != params["head_sha"]:
            continue
        if created and not created[0] <= int(run["created_ts"]) <= created[1]:
            continue
        if status:
            current = workflow_runs.state(run, now)
            if status not in (current["status"], current["conclusion"]):
                continue
        chosen.append(run)
    items = [
        _run_body(forge, handle, r, now) for r in pagination.slice_page(chosen, page, per_page)
    ]
    headers = {}
    link = pagination.link_header(forge.links.api + req.path, params, page, per_page, len(chosen))
    if link:
        headers["Link"] = link
    return Response(200, {"total_count": len(chosen), "workflow_runs": items}, headers)


@route("GET", "/repos/{owner}/{repo}/actions/runs")
def list_runs(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    return _list_runs(forge, req, forge.open(owner, repo), None)


@route("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs")
def list_workflow_runs(
    forge: Forge, req: Request, owner: str, repo: str, workflow_id: str
) -> Response:
    handle = forge.open(owner, repo)
    return _list_runs(forge, req, handle, _find_workflow(handle, workflow_id)["id"])


def _find_run(handle: RepoHandle, run_id: str, now: float) -> dict[str, Any]:
    for run in handle.meta.get("workflow_runs", []):
        if str(run["id"]) == run_id and workflow_runs.visible(run, now):
            return run
    raise not_found()


@route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}")
def get_run(forge: Forge, req: Request, owner: str, repo: str, run_id: str) -> Response:
    handle = forge.open(owner, repo)
    now = time.time()
    return Response(200, _run_body(forge, handle, _find_run(handle, run_id, now), now))


@route("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel")
def cancel_run(forge: Forge, req: Request, owner: str, repo: str, run_id: str) -> Response:
    handle = forge.open(owner, repo)
    now = time.time()
    run = _find_run(handle, run_id, now)
    if workflow_runs.state(run, now)["status"] == "completed":
        raise ApiError(409, "Cannot cancel a workflow run that is completed.")
    run["cancelled_ts"] = now
    forge.save(handle)
    return Response(202, {})


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
