"""Commit statuses, the combined status and check runs."""

from __future__ import annotations

import re
from typing import Any

from . import shapes, validate
from .api_repos import paginate, resolve_commit
from .combined_state import combined_state, latest_check_runs, latest_per_context
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
from .gitrepo import git_date
from .routes import route
from .store import now_iso

STATES = ("error", "failure", "pending", "success")
RUN_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


def _optional_text(req: Request, key: str, resource: str) -> str | None:
    value = req.json_object().get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{key} is not a string", resource, key)
    return value


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def create_status(forge: Forge, req: Request, owner: str, repo: str, sha: str) -> Response:
    handle = forge.open(owner, repo)
    state = req.string("state", "Status", required=True)
    if state not in STATES:
        raise invalid("state is not included in the list", "Status", "state")
    full = handle.git.resolve(sha) if re.match(r"^[0-9a-f]{7,40}$", sha) else None
    if full is None:
        raise unprocessable(f"No commit found for SHA: {sha}", "Status", "sha")
    description = _optional_text(req, "description", "Status")
    if validate.too_long(description, validate.STATUS_DESCRIPTION):
        raise too_long("Status", "description", validate.STATUS_DESCRIPTION)
    record = {
        "id": forge.store.new_id(),
        "sha": full,
        "state": state,
        "description": description,
        "target_url": _optional_text(req, "target_url", "Status"),
        "context": req.string("context", "Status", default="default") or "default",
        "creator": req.login,
        "created_at": now_iso(),
    }
    handle.meta["statuses"].append(record)
    forge.save(handle)
    body = shapes.status(forge.links, handle.full_name, record)
    return Response(201, body, {"Location": body["url"]})


def _statuses_for(handle: RepoHandle, sha: str) -> list[dict[str, Any]]:
    return [s for s in handle.meta["statuses"] if s["sha"] == sha]


def _list_statuses(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    handle = forge.open(owner, repo)
    sha = resolve_commit(handle, ref)
    items = [
        shapes.status(forge.links, handle.full_name, s)
        for s in reversed(_statuses_for(handle, sha))
    ]
    page, headers = paginate(forge, req, items)
    return Response(200, page, headers)


@route("GET", "/repos/{owner}/{repo}/commits/{ref+}/statuses")
def list_statuses(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    return _list_statuses(forge, req, owner, repo, ref)


@route("GET", "/repos/{owner}/{repo}/statuses/{ref+}")
def list_statuses_legacy(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    return _list_statuses(forge, req, owner, repo, ref)


def combined_for(handle: RepoHandle, sha: str) -> tuple[str, list[dict[str, Any]]]:
    latest = latest_per_context(_statuses_for(handle, sha))
    return combined_state([s["state"] for s in latest]), latest


@route("GET", "/repos/{owner}/{repo}/commits/{ref+}/status")
def combined_status(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    handle = forge.open(owner, repo)
    sha = resolve_commit(handle, ref)
    state, latest = combined_for(handle, sha)
    base = forge.links.repo(handle.full_name)
    owner_kind = forge.owner_kind(owner)
    body = {
        "state": state,
        "statuses": [shapes.status(forge.links, handle.full_name, s) for s in latest],
        "sha": sha,
        "total_count": len(latest),
        "repository": shapes.minimal_repo(forge.links, handle.full_name, handle.meta, owner_kind),
        "commit_url": f"{base}/commits/{sha}",
        "url": f"{base}/commits/{sha}/status",
    }
    return Response(200, body)


# -- check runs ---------------------------------------------------------------------
def _timestamp(req: Request, key: str) -> str | None:
    value = _optional_text(req, key, "CheckRun")
    if value is None:
        return None
    try:
        git_date(value)
    except ValueError as exc:
        raise invalid(f"{key} is not an ISO-8601 timestamp", "CheckRun", key) from exc
    return value


def _apply_run_fields(req: Request, run: dict[str, Any]) -> None:
    body = req.json_object()
    if "name" in body:
        name = req.string("name", "CheckRun")
        if not name:
            raise invalid("name is missing", "CheckRun", "name", "missing_field")
        run["name"] = name
    for key in ("details_url", "external_id"):
        if key in body:
            run[key] = _optional_text(req, key, "CheckRun")
    for key in ("started_at", "completed_at"):
        if key in body:
            run[key] = _timestamp(req, key)
    if "output" in body:
        out = body["output"]
        if (
            not isinstance(out, dict)
            or not isinstance(out.get("title"), str)
            or not isinstance(out.get("summary"), str)
        ):
            raise invalid(
                "output needs a title and a summary", "CheckRun", "output", "missing_field"
            )
        for key in ("summary", "text"):
            value = out.get(key)
            if value is not None and not isinstance(value, str):
                raise invalid(f"output.{key} is not a string", "CheckRun", f"output.{key}")
            if validate.too_long(value, validate.CHECK_RUN_TEXT):
                message = (
                    f"Only {validate.CHECK_RUN_TEXT} characters are allowed; "
                    f"{len(value)} were supplied."
                )
                error = {"resource": "CheckRun", "field": f"output.{key}", "code": "custom"}
                raise ApiError(
                    422, f"Invalid request.\n\n{message}", [{**error, "message": message}]
                )
        run["output"] = {"title": out["title"], "summary": out["summary"], "text": out.get("text")}
    status = body.get("status")
    conclusion = body.get("conclusion")
    if status is not None and status not in RUN_STATUSES:
        raise invalid("status is not included in the list", "CheckRun", "status")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise invalid("conclusion is not included in the list", "CheckRun", "conclusion")
    if conclusion is not None:
        run["conclusion"] = conclusion
        run["status"] = "completed"
        run["completed_at"] = run.get("completed_at") or now_iso()
    elif status is not None:
        if status == "completed" and not run.get("conclusion"):
            raise invalid(
                "conclusion is required when status is completed",
                "CheckRun",
                "conclusion",
                "missing_field",
            )
        run["status"] = status
        if status != "completed":
            run["conclusion"] = None
            run["completed_at"] = None
        else:
            run["completed_at"] = run.get("completed_at") or now_iso()


@route("POST", "/repos/{owner}/{repo}/check-runs")
def create_check_run(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    name = req.string("name", "CheckRun", required=True)
    head_sha = req.string("head_sha", "CheckRun", required=True) or ""
    full = handle.git.resolve(head_sha) if re.match(r"^[0-9a-f]{7,40}$", head_sha) else None
    if full is None:
        raise unprocessable(f"No commit found for SHA: {head_sha}", "CheckRun", "head_sha")
    suites = handle.meta.setdefault("check_suites", {})
    if full not in suites:
        suites[full] = forge.store.new_id()
    run: dict[str, Any] = {
        "id": forge.store.new_id(),
        "name": name,
        "head_sha": full,
        "status": "queued",
        "conclusion": None,
        "started_at": now_iso(),
        "completed_at": None,
        "details_url": None,
        "external_id": None,
        "output": None,
        "check_suite_id": suites[full],
    }
    _apply_run_fields(req, run)
    handle.meta["check_runs"].append(run)
    forge.save(handle)
    body = shapes.check_run(forge.links, handle.full_name, run)
    return Response(201, body, {"Location": body["url"]})


def _find_run(handle: RepoHandle, run_id: str) -> dict[str, Any]:
    for run in handle.meta["check_runs"]:
        if str(run["id"]) == run_id:
            return run
    raise not_found()


@route("GET", "/repos/{owner}/{repo}/check-runs/{run_id}")
def get_check_run(forge: Forge, req: Request, owner: str, repo: str, run_id: str) -> Response:
    handle = forge.open(owner, repo)
    return Response(200, shapes.check_run(forge.links, handle.full_name, _find_run(handle, run_id)))


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{run_id}")
def update_check_run(forge: Forge, req: Request, owner: str, repo: str, run_id: str) -> Response:
    handle = forge.open(owner, repo)
    run = _find_run(handle, run_id)
    updated = dict(run)
    _apply_run_fields(req, updated)
    run.update(updated)
    forge.save(handle)
    return Response(200, shapes.check_run(forge.links, handle.full_name, run))


def runs_for(handle: RepoHandle, sha: str, latest: bool = True) -> list[dict[str, Any]]:
    runs = [r for r in handle.meta["check_runs"] if r["head_sha"] == sha]
    return latest_check_runs(runs) if latest else list(reversed(runs))


@route("GET", "/repos/{owner}/{repo}/commits/{ref+}/check-runs")
def list_check_runs(forge: Forge, req: Request, owner: str, repo: str, ref: str) -> Response:
    handle = forge.open(owner, repo)
    sha = resolve_commit(handle, ref)
    flt = req.params.get("filter", "latest")
    if flt not in ("latest", "all"):
        raise invalid("filter must be latest or all", "CheckRun", "filter")
    runs = runs_for(handle, sha, flt == "latest")
    if req.params.get("check_name"):
        runs = [r for r in runs if r["name"] == req.params["check_name"]]
    if req.params.get("status"):
        runs = [r for r in runs if r["status"] == req.params["status"]]
    items = [shapes.check_run(forge.links, handle.full_name, r) for r in runs]
    page, headers = paginate(forge, req, items)
    if not isinstance(page, list):
        raise ApiError(500, "pagination failed")
    return Response(200, {"total_count": len(items), "check_runs": page}, headers)
