"""Workflow runs in the sandbox: a dispatch creates a run named by its `run-name`, the
test-controlled runner takes it queued -> in_progress -> completed, and the run listings
filter and page as GitHub's do."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox import workflow_runs
from sandbox.seed import REPO

WORKFLOW = "update-ppc.yml"


def _api(sb, method: str, path: str, **kwargs):
    return requests.request(
        method,
        f"{sb.base_url}/repos/{REPO}{path}",
        headers={"Authorization": f"token {sb.token}"},
        timeout=30,
        **kwargs,
    )


def _dispatch(sb, ppc: str, cid: str | None = None, **extra) -> requests.Response:
    inputs = {"ppc": ppc, "release": "release/2026-11-19", **extra}
    if cid:
        inputs["correlation_id"] = cid
    return _api(
        sb,
        "POST",
        f"/actions/workflows/{WORKFLOW}/dispatches",
        json={"ref": "master", "inputs": inputs},
    )


def _runs(sb, query: str = "", path: str = "/actions/runs") -> list[dict]:
    answer = _api(sb, "GET", f"{path}?{query}")
    assert answer.status_code == 200, answer.text
    return answer.json()["workflow_runs"]


def _wait(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_dispatch_creates_a_run_named_by_run_name_that_goes_through_its_states(seeded_sandbox):
    sb = seeded_sandbox
    sb.actions.configure(queue_seconds=0.4, appear_seconds=0.3)
    sb.actions.plan("globex", seconds=0.6, conclusion="failure")
    assert _dispatch(sb, "globex", "rt-globex-abc").status_code == 204
    assert _runs(sb) == []  # listed only once the run is created
    run = _wait(lambda: (_runs(sb) or [None])[0])
    assert run["display_title"] == "Update globex to release/2026-11-19 [rt-globex-abc]"
    assert (run["name"], run["event"], run["head_branch"]) == (
        "update-ppc",
        "workflow_dispatch",
        "master",
    )
    assert run["status"] == "queued"
    _wait(lambda: _api(sb, "GET", f"/actions/runs/{run['id']}").json()["status"] == "in_progress")
    done = _wait(
        lambda: (
            (r := _api(sb, "GET", f"/actions/runs/{run['id']}").json())["status"] == "completed"
            and r
        )
    )
    assert done["conclusion"] == "failure"
    stored = sb.workflow_runs(REPO)[0]
    assert stored["inputs"]["ppc"] == "globex" and stored["planned_conclusion"] == "failure"


def test_cancel_completes_a_running_run_and_is_refused_on_a_completed_one(seeded_sandbox):
    sb = seeded_sandbox
    sb.actions.plan("slow", seconds=60)
    _dispatch(sb, "slow", "rt-slow-1")
    (run,) = _runs(sb)
    assert run["status"] == "in_progress"
    assert _api(sb, "POST", f"/actions/runs/{run['id']}/cancel").status_code == 202
    after = _api(sb, "GET", f"/actions/runs/{run['id']}").json()
    assert (after["status"], after["conclusion"]) == ("completed", "cancelled")
    again = _api(sb, "POST", f"/actions/runs/{run['id']}/cancel")
    assert again.status_code == 409


def test_listing_filters_and_pages(seeded_sandbox):
    sb = seeded_sandbox
    sb.actions.plan("slow", seconds=60)
    for ppc in ("a", "b", "c", "slow"):
        assert _dispatch(sb, ppc, f"rt-{ppc}-1").status_code == 204
    titles = [r["display_title"].split()[1] for r in _runs(sb)]
    assert titles == ["slow", "c", "b", "a"]  # newest first
    assert [r["display_title"].split()[1] for r in _runs(sb, "status=in_progress")] == ["slow"]
    assert len(_runs(sb, "status=success")) == 3
    assert len(_runs(sb, "status=completed")) == 3
    assert _runs(sb, "branch=production") == []
    assert _runs(sb, "event=push") == []
    assert len(_runs(sb, "event=workflow_dispatch&branch=master")) == 4
    assert len(_runs(sb, "", f"/actions/workflows/{WORKFLOW}/runs")) == 4
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(_runs(sb, f"created=>={today}")) == 4
    assert _runs(sb, "created=<2000-01-01") == []
    assert len(_runs(sb, f"created=2000-01-01..{today}")) == 4
    page = _api(sb, "GET", "/actions/runs?per_page=3&page=1")
    assert len(page.json()["workflow_runs"]) == 3 and page.json()["total_count"] == 4
    assert 'rel="next"' in page.headers["Link"]
    assert len(_runs(sb, "per_page=3&page=2")) == 1


def test_fault_injection_applies_to_the_runs_routes(seeded_sandbox):
    sb = seeded_sandbox
    sb.inject("GET", "*/actions/runs", "500", count=1)
    assert _api(sb, "GET", "/actions/runs").status_code == 500
    assert _api(sb, "GET", "/actions/runs").status_code == 200
    sb.inject("POST", "*/dispatches", "secondary_rate_limit", count=1)
    assert _dispatch(sb, "a", "rt-a-1").status_code == 403
    assert sb.workflow_runs(REPO) == []


def test_control_route_plans_runs(seeded_sandbox):
    sb = seeded_sandbox
    auth = {"Authorization": f"token {sb.token}"}
    answer = requests.post(
        f"{sb.url}/_sandbox/actions/plans",
        json={"value": "initech", "seconds": 5, "conclusion": "failure"},
        headers=auth,
        timeout=10,
    )
    assert answer.json()["plans"]["initech"] == {"seconds": 5.0, "conclusion": "failure"}
    bad = requests.post(
        f"{sb.url}/_sandbox/actions/plans",
        json={"value": "x", "seconds": 1, "conclusion": "sideways"},
        headers=auth,
        timeout=10,
    )
    assert bad.status_code == 422 and "sideways" in bad.json()["message"]


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        (">=2026-11-29", "2026-11-29T00:00:00Z", "2026-11-28T23:59:59Z"),
        (">2026-11-29", "2026-11-30T00:00:00Z", "2026-11-29T23:59:59Z"),
        ("<=2026-11-29", "2026-11-29T23:59:59Z", "2026-11-30T00:00:00Z"),
        ("<2026-11-29", "2026-11-28T23:59:59Z", "2026-11-29T00:00:00Z"),
        ("2026-11-29", "2026-11-29T12:00:00Z", "2026-11-30T00:00:00Z"),
        ("2026-11-01..2026-11-29", "2026-11-29T23:00:00Z", "2026-10-31T23:59:59Z"),
        ("*..2026-11-29", "2020-01-01T00:00:00Z", "2026-11-30T00:00:01Z"),
        (">=2026-11-29T10:00:00Z", "2026-11-29T10:00:00Z", "2026-11-29T09:59:59Z"),
    ],
)
def test_created_follows_githubs_date_syntax(text, inside, outside):
    low, high = workflow_runs.created_filter(text)
    stamp = workflow_runs._moment
    assert low <= stamp(inside, False) <= high
    assert not low <= stamp(outside, False) <= high


def test_run_name_renders_inputs_and_github_context():
    rendered = workflow_runs.render_run_name(
        "Deploy ${{ inputs.ppc }} by ${{ github.actor }}${{ inputs.missing }} ${{ 1 + 1 }}.",
        {"ppc": "globex"},
        {"actor": "release-bot"},
    )
    assert rendered == "Deploy globex by release-bot ."
