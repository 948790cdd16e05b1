"""The sandbox answers like GitHub: every response validates against GitHub's OpenAPI description.

The first part tests the validator itself (sandbox/openapi.py) on a tiny hand-written
description. The contract part drives a running, seeded sandbox through the success and error
cases of every operation it serves and validates each answer against the real description
(`make openapi` installs it); all mismatches are reported at once.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import routes
from sandbox.openapi import DescriptionNotFound, OpenAPIDescription, find_description
from sandbox.seed import REPO

# -- the validator on a tiny description --------------------------------------------------------

_TINY = {
    "openapi": "3.0.3",
    "paths": {
        "/repos/{owner}/{repo}/git/ref/{ref}": {
            "get": {
                "operationId": "git/get-ref",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ref"}}
                        },
                    },
                    "404": {"$ref": "#/components/responses/not_found"},
                },
            }
        },
        "/repos/{owner}/{repo}/commits/{ref}": {
            "get": {"operationId": "repos/get-commit", "responses": {"200": {"description": "ok"}}}
        },
        "/repos/{owner}/{repo}/commits/{ref}/status": {
            "get": {
                "operationId": "repos/get-combined-status-for-ref",
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/repos/{owner}/{repo}/git/refs/{ref}": {
            "delete": {
                "operationId": "git/delete-ref",
                "responses": {"204": {"description": "deleted"}},
            }
        },
    },
    "components": {
        "schemas": {
            "basic-error": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
            },
            "validation-error": {
                "type": "object",
                "required": ["message", "documentation_url"],
                "properties": {"message": {"type": "string"}},
            },
            "simple-user": {
                "type": "object",
                "required": ["login"],
                "properties": {"login": {"type": "string"}},
            },
            "ref": {
                "type": "object",
                "required": ["ref", "object", "updated_at"],
                "properties": {
                    "ref": {"type": "string"},
                    "updated_at": {"type": "string", "format": "date-time"},
                    "state": {"type": "string", "enum": ["open", "closed"], "nullable": True},
                    "user": {
                        "nullable": True,
                        "allOf": [{"$ref": "#/components/schemas/simple-user"}],
                    },
                    "owner": {"$ref": "#/components/schemas/simple-user", "nullable": True},
                    "value": {
                        "oneOf": [
                            {"type": "string", "nullable": True},
                            {"type": "integer", "nullable": True},
                        ]
                    },
                    "object": {
                        "type": "object",
                        "required": ["sha", "url"],
                        "properties": {
                            "sha": {"type": "string", "minLength": 40, "maxLength": 40},
                            "url": {"type": "string", "format": "uri"},
                        },
                    },
                },
            },
        },
        "responses": {
            "not_found": {
                "description": "Resource not found",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/basic-error"}}
                },
            }
        },
    },
}

_GOOD_REF = {
    "ref": "refs/heads/release/2026-11-12",
    "updated_at": "2026-11-26T12:00:00Z",
    "state": None,
    "user": None,
    "owner": {"login": "acme"},
    "object": {"sha": "a" * 40, "url": "http://127.0.0.1:1/api/v3/x"},
}


@pytest.fixture(scope="module")
def tiny() -> OpenAPIDescription:
    return OpenAPIDescription(json.loads(json.dumps(_TINY)))


def test_finds_operations_by_template_with_slashes_in_refs(tiny):
    op = tiny.find_operation("GET", "/api/v3/repos/acme/service/git/ref/heads/release/2026-11-12")
    assert op is not None and op.operation_id == "git/get-ref"
    # The longer literal wins when a ref with slashes could match both templates.
    op = tiny.find_operation("get", "/repos/acme/service/commits/release/2026-11-12/status?x=1")
    assert op is not None and op.operation_id == "repos/get-combined-status-for-ref"
    op = tiny.find_operation("GET", "/repos/acme/service/commits/master")
    assert op is not None and op.operation_id == "repos/get-commit"
    assert tiny.find_operation("POST", "/repos/acme/service/git/ref/heads/x") is None
    assert tiny.find_operation("GET", "/repos/acme/service/nope") is None


def test_a_conforming_response_has_no_errors(tiny):
    path = "/api/v3/repos/acme/service/git/ref/heads/master"
    assert tiny.validate_response("GET", path, 200, json.dumps(_GOOD_REF), "application/json") == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"state": "merged"}, "body['state']"),
        ({"user": {"name": "no login"}}, "body['user']"),
        ({"owner": 7}, "body['owner']"),
        ({"value": [1]}, "body['value']"),
        ({"updated_at": "26/11/2026"}, "is not a 'date-time'"),
        ({"object": {"sha": "abc", "url": "http://x/y"}}, "body['object']['sha']"),
        ({"object": {"sha": "a" * 40, "url": "not a url"}}, "is not a 'uri'"),
    ],
)
def test_each_kind_of_schema_violation_is_reported(tiny, change, expected):
    body = {**_GOOD_REF, **change}
    errors = tiny.validate_response(
        "GET", "/repos/acme/service/git/ref/heads/master", 200, json.dumps(body)
    )
    assert len(errors) == 1 and expected in errors[0], errors
    assert errors[0].startswith("GET /repos/acme/service/git/ref/heads/master -> 200 (git/get-ref)")


def test_overlapping_one_of_alternatives_accept_what_both_match(tiny):
    # null matches both nullable alternatives: GitHub's unions are read as "any of".
    for value in (None, "x", 3):
        body = json.dumps({**_GOOD_REF, "value": value})
        assert tiny.validate_response("GET", "/repos/a/b/git/ref/heads/x", 200, body) == []


def test_missing_required_property_and_status_rules(tiny):
    path = "/repos/acme/service/git/ref/heads/master"
    body = {k: v for k, v in _GOOD_REF.items() if k != "object"}
    assert any(
        "'object' is a required property" in e
        for e in tiny.validate_response("GET", path, 200, json.dumps(body))
    )
    # 418 is neither documented nor one of GitHub's everywhere-errors.
    assert "status 418 is not documented" in tiny.validate_response("GET", path, 418, "{}")[0]
    # 401 is not documented here but GitHub answers it everywhere: checked as basic-error.
    assert tiny.validate_response("GET", path, 401, '{"message": "Bad credentials"}') == []
    assert tiny.validate_response("GET", path, 401, '{"message": 401}') != []
    # 422 everywhere follows validation-error, which needs documentation_url.
    assert tiny.validate_response("GET", path, 422, '{"message": "Invalid"}') != []
    assert tiny.validate_response("GET", path, 404, "not json") != []
    assert tiny.validate_response("GET", path, 200, json.dumps(_GOOD_REF), "text/html") != []


def test_no_content_statuses_must_have_an_empty_body(tiny):
    path = "/repos/acme/service/git/refs/heads/feature-x"
    assert tiny.validate_response("DELETE", path, 204, b"") == []
    assert tiny.validate_response("DELETE", path, 204, b'{"message": "gone"}') != []


def test_a_formatted_field_whose_default_is_empty_accepts_only_empty_or_the_format():
    schema = {"type": "string", "format": "uri", "default": ""}
    op = {
        "operationId": "x",
        "responses": {
            "200": {
                "description": "ok",
                "content": {
                    "application/json": {"schema": {"type": "object", "properties": {"u": schema}}}
                },
            }
        },
    }
    tiny = OpenAPIDescription({"openapi": "3.0.3", "paths": {"/x": {"get": op}}, "components": {}})
    for good in ("", "https://ci.example/1"):
        assert tiny.validate_response("GET", "/x", 200, json.dumps({"u": good})) == []
    assert tiny.validate_response("GET", "/x", 200, json.dumps({"u": "not a url"})) != []


# -- the contract: the sandbox against GitHub's description --------------------------------------

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class Case:
    """One request and the status GitHub would answer; its response must match the description."""

    method: str
    path: str  # under /repos/acme/service when it starts with "/", else from the API root
    status: int | tuple[int, ...]
    body: Any = None
    token: str = "write"  # write | reviewer | read_only | missing | wrong
    save: dict[str, str] = field(default_factory=dict)  # context key -> JSON key of the answer
    # Legacy endpoints GitHub still serves but no longer documents are validated as the
    # documented operation with the same answer (e.g. GET git/refs/{ref} as git/ref/{ref}).
    validate_as: str | None = None


def _fill(value: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ctx)
    if isinstance(value, list):
        return [_fill(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ctx) for k, v in value.items()}
    return value


def _file_tree(branch: str, path: str, content: str, parent: str) -> list[Case]:
    """Cases that build a branch with one commit through the git data API."""
    return [
        Case(
            "POST",
            "/git/trees",
            201,
            {
                "base_tree": "{master_tree}",
                "tree": [{"path": path, "mode": "100644", "type": "blob", "content": content}],
            },
            save={f"{branch}_tree": "sha"},
        ),
        Case(
            "POST",
            "/git/commits",
            201,
            {"message": f"{branch}: {path}", "tree": f"{{{branch}_tree}}", "parents": [parent]},
            save={f"{branch}_sha": "sha"},
        ),
        Case(
            "POST",
            "/git/refs",
            201,
            {"ref": f"refs/heads/contract-{branch}", "sha": f"{{{branch}_sha}}"},
        ),
    ]


# Deployments and their statuses (sandbox/api_deployments.py); the last cases run after the
# pull request above merged contract-c into master, so contract-c is behind master.
_NO_CHECKS = {"required_contexts": [], "auto_merge": False}
DEPLOYMENT_CASES: list[Case] = [
    Case(
        "POST",
        "/deployments",
        201,
        {
            "ref": "{tip}",
            "environment": "staging",
            "payload": {"release": "release/2026-11-12"},
            "description": "Promote release/2026-11-12",
            **_NO_CHECKS,
        },
        save={"deployment": "id"},
    ),
    Case(
        "POST",
        "/deployments",
        201,
        {"ref": "master", "environment": "staging", "task": "deploy:verify", **_NO_CHECKS},
        save={"deployment_2": "id"},
    ),
    Case("POST", "/deployments", 201, {"ref": "{tip_2}", "payload": "{{}}", **_NO_CHECKS}),
    Case("POST", "/deployments", 403, {"ref": "{tip}", **_NO_CHECKS}, token="read_only"),
    Case("POST", "/deployments", 422, {"environment": "staging"}),
    Case("POST", "/deployments", 422, {"ref": "no-such-branch", **_NO_CHECKS}),
    Case("POST", "/deployments", 422, {"ref": "{tip}", "payload": 7, **_NO_CHECKS}),
    Case("POST", "/deployments", 422, {"ref": "{tip}", "environment": "e" * 256, **_NO_CHECKS}),
    Case(
        "POST",
        "/deployments",
        409,
        {"ref": "{tip}", "required_contexts": ["no-such-context"], "auto_merge": False},
    ),
    Case("POST", "/deployments", 202, {"ref": "contract-c", "environment": "qa"}),
    Case("GET", "/deployments", 200),
    Case("GET", "/deployments?environment=staging&per_page=1&page=2", 200),
    Case("GET", "/deployments?sha={tip}&task=deploy&ref={tip}", 200),
    Case("GET", "/deployments?environment=no-such-environment", 200),
    Case("GET", "/deployments/{deployment}", 200),
    Case("GET", "/deployments/999999999", 404),
    Case(
        "POST",
        "/deployments/{deployment}/statuses",
        201,
        {"state": "in_progress", "log_url": "https://ci.example/run/1"},
    ),
    Case(
        "POST",
        "/deployments/{deployment}/statuses",
        201,
        {"state": "success", "environment_url": "https://staging.example", "description": "ok"},
        save={"deployment_status": "id"},
    ),
    Case("POST", "/deployments/{deployment}/statuses", 422, {"state": "green"}),
    Case("POST", "/deployments/{deployment}/statuses", 422, {}),
    Case(
        "POST",
        "/deployments/{deployment}/statuses",
        422,
        {"state": "failure", "description": "d" * 141},
    ),
    Case("POST", "/deployments/999999999/statuses", 404, {"state": "success"}),
    Case("POST", "/deployments/{deployment_2}/statuses", 201, {"state": "success"}),
    Case("GET", "/deployments/{deployment}/statuses", 200),
    Case("GET", "/deployments/{deployment}/statuses?per_page=1&page=2", 200),
    Case("GET", "/deployments/{deployment}/statuses/{deployment_status}", 200),
    Case("GET", "/deployments/{deployment}/statuses/999999999", 404),
    Case("GET", "/deployments/999999999/statuses", 404),
]


CASES: list[Case] = [
    # authentication and authorization
    Case("GET", "", 401, token="missing"),
    Case("GET", "", 401, token="wrong"),
    Case("POST", "/git/refs", 403, {"ref": "refs/heads/ro", "sha": "{tip}"}, token="read_only"),
    Case("POST", "/statuses/{tip}", 403, {"state": "success"}, token="read_only"),
    Case(
        "POST",
        "/pulls",
        403,
        {"head": "feature-users", "base": "staging", "title": "x"},
        token="read_only",
    ),
    # users, rate limit
    Case("GET", "rate_limit", 200),
    Case("GET", "user", 200),
    Case("GET", "users/release-bot", 200),
    Case("GET", "users/no-such-user-here", 404),
    # repository, branches, contents
    Case("GET", "", 200),
    Case("GET", "", 200, token="read_only"),
    Case("GET", "repos/acme/no-such-repo", 404),
    Case("GET", "repos/%2e%2e/evil", 404),
    Case("GET", "repos/acme/%2e%2e", 404),
    Case("GET", "users/%2e%2e", 404),
    Case("PATCH", "", 200, {"description": "The Acme service"}),
    Case("PATCH", "", 422, {"allow_merge_commit": "yes"}),
    Case("GET", "/branches?per_page=3&page=2", 200),
    Case("GET", "/branches/master", 200),
    Case("GET", "/branches/release/2026-11-12", 200),
    Case("GET", "/branches/no-such-branch", 404),
    Case("GET", "/contents/Gopkg.lock?ref=production", 200),
    Case("GET", "/contents/app?ref=master", 200),
    Case("GET", "/contents?ref=master", 200, validate_as="/contents/."),
    Case("GET", "/contents/no-such-file?ref=master", 404),
    Case("GET", "/contents/Gopkg.lock?ref=no-such-ref", 404),
    Case("GET", "/contents/%2e%2e/%2e%2e/etc/passwd", 404),
    Case("GET", "/contents/.git/config", 404),
    Case("GET", "/contents/Gopkg.lock?ref=%00", 422),
    # commits and compare
    Case("GET", "/commits?sha=master&per_page=5", 200),
    Case("GET", "/commits?sha=master&per_page=5&page=3", 200),
    Case("GET", "/commits?sha=master&path=Gopkg.lock", 200),
    Case("GET", "/commits?sha=master&since=2026-11-20T00:00:00Z&until=2026-11-25T00:00:00Z", 200),
    Case("GET", "/commits?sha=no-such-branch", (404, 422)),
    Case("GET", "/commits/{tip}", 200),
    Case("GET", "/commits/release/2026-11-12", 200),
    Case("GET", "/commits/{zero}", (404, 422)),
    Case("GET", "/compare/production...master", 200),
    Case("GET", "/compare/production...master?per_page=5&page=2", 200),
    Case("GET", "/compare/{production}...{tip}", 200),
    Case("GET", "/compare/master...no-such-branch", 404),
    # git data: commits, trees, blobs
    Case("GET", "/git/commits/{tip}", 200),
    Case("GET", "/git/commits/{zero}", 404),
    Case("GET", "/git/trees/{master_tree}", 200),
    Case("GET", "/git/trees/master?recursive=1", 200),
    Case("GET", "/git/trees/{zero}", 404),
    Case("GET", "/git/trees/master%00", 404),
    Case(
        "POST", "/git/blobs", 201, {"content": "hello\n", "encoding": "utf-8"}, save={"blob": "sha"}
    ),
    Case("GET", "/git/blobs/{blob}", 200),
    Case("POST", "/git/blobs", 422, {"content": "hello", "encoding": "utf-16"}),
    Case("POST", "/git/blobs", 422, {"encoding": "utf-8"}),
    Case(
        "POST",
        "/git/trees",
        422,
        {"tree": [{"path": "x", "mode": "100600", "type": "blob", "content": "x"}]},
    ),
    Case("POST", "/git/trees", 422, {"base_tree": "{zero}", "tree": []}),
    *(
        Case(
            "POST",
            "/git/trees",
            422,
            {"tree": [{"path": path, "mode": "100644", "type": "blob", "content": "x"}]},
        )
        for path in ("../x", ".git/config", "a\x00b")
    ),
    Case(
        "POST",
        "/git/trees",
        400,
        {"tree": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    ),
    Case(
        "POST",
        "/git/commits",
        422,
        {"message": "m", "tree": "{master_tree}", "author": {"name": "<>", "email": "a@b"}},
    ),
    Case("POST", "/git/commits", 422, {"message": "m", "tree": "{zero}", "parents": []}),
    Case(
        "POST",
        "/git/commits",
        422,
        {"message": "m", "tree": "{master_tree}", "parents": ["{zero}"]},
    ),
    # git refs
    Case("GET", "/git/ref/heads/master", 200),
    Case("GET", "/git/ref/heads/release/2026-11-12", 200),
    Case("GET", "/git/ref/heads/no-such-branch", 404),
    Case("GET", "/git/matching-refs/heads/release/", 200),
    Case("GET", "/git/matching-refs/heads/no-such-prefix", 200),
    Case("GET", "/git/matching-refs", 200, validate_as="/git/matching-refs/heads"),
    Case("GET", "/git/refs?per_page=5", 200, validate_as="/git/matching-refs/heads"),
    Case("GET", "/git/refs/heads/master", 200, validate_as="/git/ref/heads/master"),
    Case("GET", "/git/refs/heads/release", 200, validate_as="/git/matching-refs/heads/release"),
    Case("POST", "/git/refs", 201, {"ref": "refs/heads/contract-x", "sha": "{tip_2}"}),
    Case("POST", "/git/refs", 422, {"ref": "refs/heads/contract-x", "sha": "{tip_2}"}),
    Case("POST", "/git/refs", 422, {"ref": "refs/heads/contract-y", "sha": "{zero}"}),
    Case("POST", "/git/refs", 422, {"ref": "heads", "sha": "{tip}"}),
    Case("POST", "/git/refs", 422, {"ref": "refs/heads/a..b", "sha": "{tip}"}),
    Case("POST", "/git/refs", 422, {"sha": "{tip}"}),
    Case("PATCH", "/git/refs/heads/contract-x", 200, {"sha": "{tip}"}),
    Case("PATCH", "/git/refs/heads/contract-x", 422, {"sha": "{tip_2}"}),
    Case("PATCH", "/git/refs/heads/contract-x", 200, {"sha": "{tip_2}", "force": True}),
    Case("PATCH", "/git/refs/heads/no-such-branch", 422, {"sha": "{tip}"}),
    Case("DELETE", "/git/refs/heads/contract-x", 204),
    Case("DELETE", "/git/refs/heads/contract-x", 422),
    Case("GET", "/git/ref/heads/contract-x", 404),
    # commit statuses and check runs
    Case(
        "POST",
        "/statuses/{tip}",
        201,
        {"state": "success", "context": "contract", "description": "ok"},
    ),
    Case(
        "POST", "/statuses/{tip}", 201, {"state": "failure", "target_url": "https://ci.example/1"}
    ),
    Case("POST", "/statuses/{tip}", 422, {"state": "green"}),
    Case("POST", "/statuses/{zero}", 422, {"state": "success"}),
    Case("POST", "/statuses/{tip}", 422, {"state": "success", "description": "d" * 141}),
    Case("GET", "/commits/{tip}/statuses", 200),
    Case("GET", "/commits/master/statuses?per_page=1", 200),
    Case("GET", "/statuses/{tip}", 200, validate_as="/commits/{tip}/statuses"),
    Case("GET", "/commits/{tip}/status", 200),
    Case("GET", "/commits/{tip_2}/status", 200),
    Case("GET", "/commits/release/2026-11-12/status", 200),
    Case("GET", "/commits/no-such-branch/status", (404, 422)),
    Case(
        "POST",
        "/check-runs",
        201,
        {"name": "contract", "head_sha": "{tip}", "status": "completed", "conclusion": "success"},
    ),
    Case(
        "POST",
        "/check-runs",
        201,
        {"name": "contract-slow", "head_sha": "{tip}", "status": "in_progress"},
        save={"run": "id"},
    ),
    Case(
        "POST", "/check-runs", 422, {"name": "contract", "head_sha": "{tip}", "status": "completed"}
    ),
    Case("POST", "/check-runs", 422, {"name": "contract", "head_sha": "{zero}"}),
    Case(
        "POST",
        "/check-runs",
        422,
        {"name": "c", "head_sha": "{tip}", "output": {"title": "t", "summary": "s" * 65536}},
    ),
    Case("GET", "/check-runs/{run}", 200),
    Case("GET", "/check-runs/999999999", 404),
    Case("PATCH", "/check-runs/{run}", 200, {"status": "completed", "conclusion": "failure"}),
    Case("PATCH", "/check-runs/{run}", 422, {"conclusion": "sideways"}),
    Case("GET", "/commits/{tip}/check-runs", 200),
    Case("GET", "/commits/master/check-runs?check_name=test&per_page=1", 200),
    # merges: three branches through the git data API; a and b conflict, c merges cleanly
    *_file_tree("a", "app/auth.py", "A = 1\n", "{tip}"),
    *_file_tree("b", "app/auth.py", "B = 2\n", "{tip}"),
    *_file_tree("c", "CONTRACT.md", "contract\n", "{tip}"),
    Case(
        "POST",
        "/merges",
        201,
        {"base": "contract-a", "head": "contract-c", "commit_message": "merge c"},
    ),
    Case("POST", "/merges", 204, {"base": "contract-a", "head": "contract-c"}),
    Case("POST", "/merges", 409, {"base": "contract-a", "head": "contract-b"}),
    Case("POST", "/merges", 404, {"base": "no-such-branch", "head": "contract-c"}),
    Case("POST", "/merges", 422, {"base": "contract-a"}),
    # pull requests, reviews, comments, merging
    Case(
        "POST",
        "/pulls",
        201,
        {"head": "contract-c", "base": "master", "title": "Contract", "body": "b"},
        save={"pr": "number"},
    ),
    Case("POST", "/pulls", 422, {"head": "contract-c", "base": "master", "title": "Again"}),
    Case("POST", "/pulls", 422, {"head": "master", "base": "master", "title": "Nothing"}),
    Case("POST", "/pulls", 422, {"head": "no-such-branch", "base": "master", "title": "Missing"}),
    Case("POST", "/pulls", 422, {"head": "contract-b", "base": "master", "title": "t" * 257}),
    Case(
        "POST",
        "/pulls",
        422,
        {"head": "contract-b", "base": "master", "title": "t", "body": "b" * 65537},
    ),
    Case(
        "POST",
        "/pulls",
        201,
        {"head": "contract-b", "base": "contract-a", "title": "Conflict"},
        save={"conflict": "number"},
    ),
    Case("GET", "/pulls/{pr}", 200),
    Case("GET", "/pulls/{conflict}", 200),
    Case("GET", "/pulls/99999", 404),
    Case("GET", "/pulls?state=all&base=staging&per_page=2", 200),
    Case("GET", "/pulls?state=open&head=acme:contract-c", 200),
    Case("GET", "/pulls?state=closed", 200),
    Case("GET", "/pulls?state=bogus", 422),
    Case("PATCH", "/pulls/{pr}", 200, {"body": "Updated body", "title": "Contract PR"}),
    Case("PATCH", "/pulls/{pr}", 422, {"state": "merged"}),
    Case("PATCH", "/pulls/{pr}", 422, {"title": "t" * 257}),
    Case("GET", "/pulls/{pr}/commits", 200),
    Case("GET", "/pulls/{pr}/files", 200),
    Case("GET", "/pulls/{pr}/merge", 404),
    Case("POST", "/pulls/{pr}/requested_reviewers", 201, {"reviewers": ["oncall-partner"]}),
    Case("POST", "/pulls/{pr}/requested_reviewers", 422, {"reviewers": ["no-such-user-here"]}),
    Case("GET", "/pulls/{pr}/requested_reviewers", 200),
    Case("DELETE", "/pulls/{pr}/requested_reviewers", 200, {"reviewers": ["oncall-partner"]}),
    Case("POST", "/pulls/{pr}/requested_reviewers", 201, {"reviewers": ["oncall-partner"]}),
    Case(
        "POST",
        "/pulls/{pr}/reviews",
        200,
        {"event": "APPROVE", "body": "First look"},
        token="reviewer",
        save={"review": "id"},
    ),
    Case("GET", "/pulls/{pr}/reviews/{review}", 200),
    Case("GET", "/pulls/{pr}/reviews/999999999", 404),
    Case("PUT", "/pulls/{pr}/reviews/{review}/dismissals", 200, {"message": "Superseded"}),
    Case("PUT", "/pulls/{pr}/reviews/{review}/dismissals", 422, {}),
    Case(
        "POST", "/pulls/{pr}/reviews", 200, {"event": "APPROVE", "body": "LGTM"}, token="reviewer"
    ),
    Case("POST", "/pulls/{pr}/reviews", 422, {"event": "SHIP_IT"}, token="reviewer"),
    Case(
        "POST",
        "/pulls/{pr}/reviews",
        422,
        {"event": "COMMENT", "body": "r" * 65537},
        token="reviewer",
    ),
    Case("GET", "/pulls/{pr}/reviews", 200),
    Case("POST", "/issues/{pr}/comments", 201, {"body": "Release payload"}, save={"comment": "id"}),
    Case("POST", "/issues/{pr}/comments", 422, {}),
    Case("POST", "/issues/{pr}/comments", 422, {"body": "c" * 65537}),
    Case("GET", "/issues/{pr}/comments", 200),
    Case("GET", "/issues/comments/{comment}", 200),
    Case("GET", "/issues/comments/999999999", 404),
    Case("PATCH", "/issues/comments/{comment}", 200, {"body": "Release payload, edited"}),
    Case("PATCH", "/issues/comments/{comment}", 422, {"body": 7}),
    Case("PATCH", "/issues/comments/{comment}", 422, {"body": "c" * 65537}),
    Case("PUT", "/pulls/{pr}/merge", 403, {"merge_method": "merge"}, token="read_only"),
    Case("PUT", "/pulls/{pr}/merge", 409, {"merge_method": "merge", "sha": "{tip}"}),
    Case("PUT", "/pulls/{pr}/merge", 422, {"merge_method": "octopus"}),
    Case("PUT", "/pulls/{conflict}/merge", 405, {"merge_method": "merge"}),
    Case("PUT", "/pulls/{pr}/merge", 200, {"merge_method": "merge", "sha": "{c_sha}"}),
    Case("PUT", "/pulls/{pr}/merge", 405, {"merge_method": "merge"}),
    Case("PUT", "/pulls/99999/merge", 404, {"merge_method": "merge"}),
    Case("GET", "/pulls/{pr}", 200),
    Case("GET", "/pulls/{pr}/merge", 204),
    # workflows and dispatches
    Case("GET", "/actions/workflows", 200),
    Case("GET", "/actions/workflows/update-ppc.yml", 200),
    Case("GET", "/actions/workflows/no-such-workflow.yml", 404),
    Case(
        "POST", "/dispatches", 204, {"event_type": "promote", "client_payload": {"env": "staging"}}
    ),
    Case("POST", "/dispatches", 422, {"client_payload": {}}),
    Case("POST", "/dispatches", 422, {"event_type": "e" * 101}),
    Case(
        "POST",
        "/dispatches",
        422,
        {"event_type": "e", "client_payload": {str(i): i for i in range(11)}},
    ),
    Case(
        "POST",
        "/actions/workflows/update-ppc.yml/dispatches",
        204,
        {"ref": "master", "inputs": {"ppc": "acme-eu", "release": "release/2026-11-19"}},
    ),
    Case("POST", "/actions/workflows/update-ppc.yml/dispatches", 422, {"inputs": {}}),
    Case("POST", "/actions/workflows/update-ppc.yml/dispatches", 422, {"ref": "no-such-branch"}),
    Case("POST", "/actions/workflows/no-such-workflow.yml/dispatches", 404, {"ref": "master"}),
    Case(
        "POST",
        "/actions/workflows/update-ppc.yml/dispatches",
        422,
        {"ref": "master", "inputs": {"ppc": "acme-eu", "release": "r", "colour": "blue"}},
    ),
    Case(
        "POST", "/actions/workflows/update-ppc.yml/dispatches", 422, {"ref": "master", "inputs": {}}
    ),
    Case(
        "POST",
        "/actions/workflows/update-ppc.yml/dispatches",
        200,
        {
            "ref": "master",
            "inputs": {"ppc": "acme-us", "release": "r", "correlation_id": "rt-acme-us-1"},
            "return_run_details": True,
        },
        save={"wf_run": "workflow_run_id"},
    ),
    # workflow runs
    Case("GET", "/actions/runs", 200),
    Case("GET", "/actions/runs?per_page=1&page=2", 200),
    Case("GET", "/actions/runs?event=workflow_dispatch&branch=master&status=completed", 200),
    Case("GET", "/actions/runs?created=>=2026-01-01&status=success", 200),
    Case("GET", "/actions/runs?created=2026-01-01..2099-12-31", 200),
    Case("GET", "/actions/runs?created=yesterday", 422),
    Case("GET", "/actions/runs?status=sideways", 422),
    Case("GET", "/actions/workflows/update-ppc.yml/runs?per_page=100", 200),
    Case("GET", "/actions/workflows/no-such-workflow.yml/runs", 404),
    Case("GET", "/actions/runs/{wf_run}", 200),
    Case("GET", "/actions/runs/999999999", 404),
    Case("POST", "/actions/runs/{wf_run}/cancel", 409),
    Case("POST", "/actions/runs/999999999/cancel", 404),
    *DEPLOYMENT_CASES,
]


@pytest.fixture(scope="module")
def description() -> OpenAPIDescription:
    try:
        path = find_description()
    except DescriptionNotFound as exc:
        pytest.fail(str(exc), pytrace=False)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot locate GitHub's OpenAPI description ({exc}); run `make openapi`")
    return OpenAPIDescription.load(path)


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(bare), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _context(sandbox) -> dict[str, Any]:
    bare = sandbox.data_dir / "repos" / f"{REPO}.git"
    return {
        "tip": _git(bare, "rev-parse", "master"),
        "tip_2": _git(bare, "rev-parse", "master~2"),
        "production": _git(bare, "rev-parse", "production"),
        "master_tree": _git(bare, "rev-parse", "master^{tree}"),
        "zero": ZERO_SHA,
    }


def _headers(sandbox, kind: str) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "release-train-contract"}
    token = {
        "write": sandbox.token,
        "reviewer": sandbox.reviewer_token,
        "read_only": sandbox.read_only_token,
        "wrong": "not-a-sandbox-token",
    }.get(kind)
    if token is not None:
        headers["Authorization"] = f"token {token}"
    return headers


def _api_path(path: str) -> str:
    return f"/repos/{REPO}{path}" if path == "" or path.startswith("/") else f"/{path}"


def run_cases(sandbox, description: OpenAPIDescription, cases: list[Case]) -> list[str]:
    """Send every case in order; every way an answer differs from GitHub's, in one list."""
    ctx = _context(sandbox)
    problems: list[str] = []
    session = requests.Session()
    for i, case in enumerate(cases):
        try:
            path, body = _api_path(_fill(case.path, ctx)), _fill(case.body, ctx)
        except KeyError as exc:
            problems.append(f"#{i} {case.method} {case.path}: no {exc} (an earlier case failed)")
            continue
        response = session.request(
            case.method,
            sandbox.base_url + path,
            json=body,
            headers=_headers(sandbox, case.token),
            timeout=60,
        )
        label = f"#{i} {case.method} {path} [{case.token}]"
        expected = case.status if isinstance(case.status, tuple) else (case.status,)
        if response.status_code not in expected:
            problems.append(
                f"{label}: answered {response.status_code}, GitHub answers "
                f"{' or '.join(map(str, expected))}: {response.text[:200]}"
            )
        checked = _api_path(_fill(case.validate_as, ctx)) if case.validate_as else path
        problems += [
            f"{label}: {error}"
            for error in description.validate_response(
                case.method,
                checked,
                response.status_code,
                response.content,
                response.headers.get("Content-Type"),
            )
        ]
        if case.save and response.status_code == expected[0]:
            answer = response.json()
            ctx.update({key: answer[name] for key, name in case.save.items()})
    return problems


def test_every_served_operation_answers_like_github(seeded_sandbox, description):
    seeded_sandbox.reset_counters()
    problems = run_cases(seeded_sandbox, description, CASES)
    served = set(seeded_sandbox.counters())
    untested = sorted(r.key for r in routes.ROUTES if r.key not in served)
    report = problems + [f"route never exercised by the contract table: {key}" for key in untested]
    assert not report, f"{len(report)} contract mismatches:\n" + "\n".join(report)


def test_the_table_only_uses_documented_operations(description):
    undocumented = [
        f"{c.method} {c.path}"
        for c in CASES
        if description.find_operation(
            c.method, _api_path((c.validate_as or c.path).split("?")[0].format_map(_Any()))
        )
        is None
    ]
    assert undocumented == []


class _Any(dict):
    def __missing__(self, key: str) -> str:
        return "x" * 40
