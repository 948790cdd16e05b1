"""The sandbox answers like GitHub: every response validates against GitHub's OpenAPI description.

The first part tests the validator itself (release/sandbox/openapi.py) on a tiny hand-written
description. The contract part drives a running, seeded sandbox through the success and error
cases of every operation it serves and validates each answer against the real description
(`make openapi` installs it); all mismatches are reported at once.
"""

from __future__ import annotations

import json

import pytest

from release.sandbox.openapi import OpenAPIDescription

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
