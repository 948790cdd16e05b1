"""A flaky forge: 500/502, dropped connections, slow answers, secondary rate limits, 429.

For each route the staging promotion uses, the fault is injected before every engine step
(plan, branch, ours-merge, pull request, merge) and the flow is run. It must either
succeed through retries, or stop with a clear error (naming the call, no secret) and then
converge when run again without faults, to the same end state as a run without faults:
the release branch with the ours-merge, one pull request, one merge commit, no forced update,
no temporary ref. A create that timed out is looked for before it is sent again.
"""

from __future__ import annotations

import time

import pytest

from release import forge
from release.cli.common import GATE_WAIT_EXIT_CODE
from tests.reliability.provider_flow import (
    ENGINE_STEPS,
    RELEASE,
    Flow,
    end_state,
    green_commit,
    plain_repo,
)

TIMEOUT = 1.0
KINDS = {
    "500": {},
    "502": {},
    "drop": {},
    "delay": {"seconds": TIMEOUT + 1.0},
    "secondary_rate_limit": {"retry_after": 1},
    "429": {"retry_after": 1},
}
READS = (
    "GET /repos/{owner}/{repo}",
    "GET /repos/{owner}/{repo}/git/ref/{ref}",
    "GET /repos/{owner}/{repo}/git/matching-refs/{ref}",
    "GET /repos/{owner}/{repo}/git/commits/{sha}",
    "GET /repos/{owner}/{repo}/compare/{basehead}",
    "GET /repos/{owner}/{repo}/contents/{path}",
    "GET /repos/{owner}/{repo}/pulls",
    "GET /repos/{owner}/{repo}/pulls/{number}",
    "GET /repos/{owner}/{repo}/pulls/{number}/reviews",
    "GET /repos/{owner}/{repo}/commits/{ref}/status",
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
)
WRITES = (
    "POST /repos/{owner}/{repo}/git/refs",
    "POST /repos/{owner}/{repo}/git/commits",
    "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
    "POST /repos/{owner}/{repo}/pulls",
    "POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
    "PUT /repos/{owner}/{repo}/pulls/{number}/merge",
)
# In `make test`: a create that timed out, a create refused by a 5xx, a rate-limited create.
# The whole matrix runs in `make reliability`.
FAST = {
    ("POST /repos/{owner}/{repo}/pulls", "delay"),
    ("POST /repos/{owner}/{repo}/git/refs", "502"),
    ("POST /repos/{owner}/{repo}/pulls", "secondary_rate_limit"),
}


def cases() -> list:
    """Every route with every kind (a 5xx as 500 on reads, 502 on writes: one code path)."""
    out = []
    for route in READS + WRITES:
        for kind in KINDS:
            if kind == ("502" if route in READS else "500"):
                continue
            marks = () if (route, kind) in FAST else (pytest.mark.slow,)
            out.append(
                pytest.param(
                    route,
                    kind,
                    marks=marks,
                    id=f"{route.split()[0]}-{kind}-{route.split('/', 4)[-1]}",
                )
            )
    return out


@pytest.fixture
def forge_env(seeded_sandbox, monkeypatch):
    monkeypatch.setenv("RELEASE_TRAIN_HTTP_TIMEOUT", str(TIMEOUT))
    sb = seeded_sandbox
    green = green_commit(sb)
    repo = plain_repo(sb)
    staging_before = repo.get_git_ref("heads/staging").object.sha
    previous_head = repo.get_git_ref("heads/release/2026-11-19").object.sha
    yield sb, green, staging_before, previous_head
    forge.set_token(None)


def expected(sb, green, staging_before, previous_head) -> dict:
    state = end_state(sb, staging_before, previous_head, green)
    assert state["release_parents"] and state["release_tree"] and state["staging_parents"]
    assert state["pulls"] == [("staging", "closed", True)]
    assert state["forced"] == [] and state["temporary_refs"] == []
    return state


@pytest.mark.parametrize(("route", "kind"), cases())
def test_flow_survives_a_fault_on_every_step(forge_env, route, kind):
    sb, green, staging_before, previous_head = forge_env
    method, template = route.split(" ", 1)
    consumed = []

    def arm(step: str) -> None:
        if not consumed:  # the first step that uses the route meets the fault
            sb.inject(method, template, kind, count=1, **KINDS[kind])

    def disarm(step: str) -> None:
        if consumed:
            return
        if not any(f["path_pattern"] == template for f in sb.faults.pending()):
            consumed.append(step)
            if kind == "delay":
                time.sleep(KINDS[kind]["seconds"])  # a slowed request finishes on the server
        sb.clear_faults()

    flow = Flow(sb, green, before_step=arm, after_step=disarm)
    error: Exception | None = None
    try:
        flow.run()
    except Exception as err:  # noqa: BLE001 - judged below
        error = err
    assert consumed, f"no step of the flow used {route}"
    if error is not None:
        message = str(error)
        assert sb.token not in message and sb.reviewer_token not in message
        assert "failed" in message or "gave up" in message, repr(error)
        flow.before_step = flow.after_step = lambda _s: None
        flow.run()  # the same run again, no fault: it converges
    expected(sb, green, staging_before, previous_head)
    assert set(flow.done) >= set(ENGINE_STEPS)
    if error is not None:
        pytest.fail(f"{route} {kind}: the flow stopped instead of retrying: {error}")


def test_retry_after_is_honoured_on_a_create(forge_env):
    sb, green, staging_before, previous_head = forge_env
    waits = {"POST /repos/{owner}/{repo}/pulls": 2}

    def arm(step: str) -> None:
        if step == "pull-request":
            sb.inject("POST", "/repos/{owner}/{repo}/pulls", "429", count=1, retry_after=2)

    started: dict[str, float] = {}
    took: dict[str, float] = {}

    def begin(step: str) -> None:
        started[step] = time.monotonic()
        arm(step)

    def end(step: str) -> None:
        took[step] = time.monotonic() - started[step]

    Flow(sb, green, before_step=begin, after_step=end).run()
    assert took["pull-request"] >= waits["POST /repos/{owner}/{repo}/pulls"]
    expected(sb, green, staging_before, previous_head)
    assert len([p for p in plain_repo(sb).get_pulls(state="all") if p.head.ref == RELEASE]) == 1


@pytest.mark.slow
@pytest.mark.e2e
def test_release_promote_through_a_flaky_forge_under_the_engine(cli_train):
    """`release promote` with slow creates (past the client timeout), 5xx and rate limits."""
    train = cli_train
    sb = train.sandbox
    train.env["RELEASE_TRAIN_HTTP_TIMEOUT"] = str(TIMEOUT)
    assert train.promote("testing").code == 0
    sb.inject("POST", "/repos/{owner}/{repo}/git/refs", "delay", seconds=TIMEOUT + 1.0)
    sb.inject("POST", "/repos/{owner}/{repo}/git/commits", "502")
    sb.inject("POST", "/repos/{owner}/{repo}/pulls", "delay", seconds=TIMEOUT + 1.0)
    sb.inject("GET", "/repos/{owner}/{repo}/compare/{basehead}", "429", retry_after=1)
    sb.inject("GET", "/repos/{owner}/{repo}/pulls", "secondary_rate_limit", retry_after=1)
    first = train.promote("staging")
    assert first.code == GATE_WAIT_EXIT_CODE and "needs 1 more approval" in first.output, (
        first.describe()
    )
    left = [f["path_pattern"] for f in sb.faults.pending()]
    assert left == [], f"faults never reached: {left}"

    train.approve("staging")
    sb.inject("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge", "delay", seconds=TIMEOUT + 1.0)
    second = train.promote("staging")
    assert second.code == 0, second.describe()
    assert sb.faults.pending() == []

    repo = train.repo()
    pulls = [p for p in repo.get_pulls(state="all") if p.head.ref == RELEASE]
    assert [(p.base.ref, p.merged) for p in pulls] == [("staging", True)]
    staging = repo.get_git_commit(repo.get_git_ref("heads/staging").object.sha)
    assert [p.sha for p in staging.parents][1] == pulls[0].head.sha
    assert sb.forced_updates("acme/service") == []
    assert train.outputs("staging")["state"] == "merged"
