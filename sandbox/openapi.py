"""GitHub's published OpenAPI description, as a response validator for the sandbox.

The description is the npm package ``@octokit/openapi`` (file ``generated/api.github.com.json``),
installed by ``scripts/install-openapi.sh`` (``make openapi``). This module finds the operation
a request addressed (method + concrete path, matched against the path templates) and checks a
response against it:

- the status code is documented for that operation;
- a JSON body validates against the operation's schema for that status, after converting the
  OpenAPI 3.0 dialect to JSON Schema (``nullable``, ``$ref`` into ``components``; ``oneOf``
  read as ``anyOf``, because GitHub's unions overlap, see ``_oa_to_json_schema``; a field with
  a ``format`` whose documented default is ``""`` also accepts ``""``);
- a status documented without content (204, 304) comes with an empty body.

GitHub answers a few error statuses on every endpoint whether or not an operation lists them
(400 problems parsing JSON, 401 bad credentials, 403 forbidden or rate limited, 404, 422
validation failed, 429, 5xx; see
GitHub's REST troubleshooting docs). When an operation does not document such a status, the
body is checked against the shared ``basic-error`` (``validation-error`` for 422) schema instead
of being reported as undocumented. Everything else undocumented is an error.

Validation is pure: no server, no network. Errors are returned as readable strings.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

ENV_VAR = "RELEASE_TRAIN_OPENAPI"
INSTALL_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install-openapi.sh"
API_PREFIX = "/api/v3"

# Statuses GitHub may answer on any endpoint, with the schema their body follows.
GLOBAL_ERROR_SCHEMAS: dict[int, str] = {
    400: "basic-error",  # "Problems parsing JSON" (invalid or too deeply nested JSON)
    401: "basic-error",
    403: "basic-error",
    404: "basic-error",
    422: "validation-error",
    429: "basic-error",
    500: "basic-error",
    502: "basic-error",
    503: "basic-error",
}

# Path parameters that never contain a slash; every other one (ref, branch, path, basehead…)
# may, e.g. ``heads/release/2026-11-12`` or ``app/main.py``.
_SINGLE_SEGMENT_PARAMS = {"owner", "repo", "org", "username", "enterprise", "team_slug"}
_MAX_INSTANCE_CHARS = 160


class DescriptionNotFound(RuntimeError):
    """The OpenAPI description is not installed."""


def find_description() -> Path:
    """Locate ``api.github.com.json``: ``$RELEASE_TRAIN_OPENAPI`` or the install script's path."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        path = Path(configured)
    else:
        out = subprocess.run(
            [str(INSTALL_SCRIPT), "--print-path"], check=True, capture_output=True, text=True
        )
        path = Path(out.stdout.strip())
    if not path.is_file():
        raise DescriptionNotFound(
            f"GitHub's OpenAPI description is not installed (looked for {path}); "
            f"run `make openapi` (or set {ENV_VAR} to api.github.com.json)"
        )
    return path


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    template: str  # e.g. /repos/{owner}/{repo}/git/refs/{ref}
    operation_id: str
    responses: dict[str, Any]


@dataclass(frozen=True)
class _Template:
    template: str
    strict: re.Pattern[str]
    lenient: re.Pattern[str]
    literal_chars: int


def _compile(template: str) -> _Template:
    strict, lenient, literal = ["^"], ["^"], 0
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            strict.append("[^/]+")
            lenient.append("[^/]+" if name in _SINGLE_SEGMENT_PARAMS else ".+")
        elif part:
            strict.append(re.escape(part))
            lenient.append(re.escape(part))
            literal += len(part)
    return _Template(
        template, re.compile("".join(strict) + "$"), re.compile("".join(lenient) + "$"), literal
    )


def _oa_to_json_schema(node: Any) -> Any:
    """Convert an OpenAPI 3.0 schema object (recursively) to JSON Schema draft 4."""
    if isinstance(node, list):
        return [_oa_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    nullable = node.get("nullable") is True
    if "$ref" in node:
        # OpenAPI 3.0 ignores a reference's siblings, except that tools honour `nullable`.
        ref = {"$ref": node["$ref"]}
        return {"anyOf": [ref, {"type": "null"}]} if nullable else ref
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "nullable":
            continue
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _oa_to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _oa_to_json_schema(value)
        elif key in ("allOf", "anyOf") and isinstance(value, list):
            out[key] = [_oa_to_json_schema(sub) for sub in value]
        elif key == "oneOf" and isinstance(value, list):
            # GitHub's description writes unions whose branches overlap as oneOf (a 422 body
            # is both a validation-error and a repository-rule-violation-error; the nullable
            # alternatives of an error's `value` all accept null): no answer GitHub gives
            # could match exactly one, so they are checked as "at least one".
            out["anyOf"] = [_oa_to_json_schema(sub) for sub in value]
        else:
            out[key] = value
    if "format" in out and out.get("default") == "":
        # A field documented with a format and the default "" (a deployment status's
        # target_url, log_url, environment_url): GitHub answers the default when none was set.
        out = {"anyOf": [out, {"type": "string", "maxLength": 0}]}
    if not nullable:
        return out
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


def _check_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme in ("mailto", "urn"))


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(_check_date_time)
_FORMATS.checks("uri")(_check_uri)


def _short(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= _MAX_INSTANCE_CHARS else text[: _MAX_INSTANCE_CHARS - 1] + "…"


def _describe(error: jsonschema.ValidationError) -> str:
    where = "body" + "".join(f"[{p!r}]" for p in error.absolute_path)
    message = error.message
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        inner = "".join(f"[{p!r}]" for p in best.relative_path)
        message = (
            f"{_short(error.instance)} matches no alternative; closest: {inner} {best.message}"
        )
    elif len(message) > 2 * _MAX_INSTANCE_CHARS:
        message = (
            f"{_short(error.instance)} fails {error.validator!r} {_short(error.validator_value)}"
        )
    return f"{where}: {message}"


class OpenAPIDescription:
    """One loaded description: operation lookup and response validation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._templates = [_compile(t) for t in document.get("paths", {})]
        self._components = {"components": _oa_to_json_schema_components(document)}

    @classmethod
    @functools.cache
    def load(cls, path: Path) -> OpenAPIDescription:
        """Load (once per path) a description file."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    # -- operation lookup -------------------------------------------------------------------

    def find_operation(self, method: str, path: str) -> Operation | None:
        """The operation for ``method`` and a concrete ``path`` (query and /api/v3 stripped)."""
        path = urlsplit(path).path
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX) :]
        if len(path) > 1:
            path = path.rstrip("/")
        method = method.lower()
        for mode in ("strict", "lenient"):
            candidates = [
                t
                for t in self._templates
                if getattr(t, mode).match(path) and method in self.document["paths"][t.template]
            ]
            if candidates:
                best = max(candidates, key=lambda t: t.literal_chars)
                op = self.document["paths"][best.template][method]
                return Operation(
                    method.upper(), best.template, op.get("operationId", ""), op["responses"]
                )
        return None

    # -- validation -------------------------------------------------------------------------

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    @functools.cache  # noqa: B019 - one description lives for the whole process
    def _validator(self, schema_json: str) -> jsonschema.Draft4Validator:
        schema = dict(_oa_to_json_schema(json.loads(schema_json)))
        if "$ref" in schema:
            schema = {"allOf": [schema]}
        schema.update(self._components)
        return jsonschema.Draft4Validator(schema, format_checker=_FORMATS)

    def validate_schema(self, schema: dict[str, Any], instance: object) -> list[str]:
        """Validate ``instance`` against an OpenAPI schema object of this description."""
        validator = self._validator(json.dumps(schema, sort_keys=True))
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [_describe(e) for e in errors]

    def validate_response(
        self,
        method: str,
        path: str,
        status: int,
        body: bytes | str | None,
        content_type: str | None = None,
    ) -> list[str]:
        """Every way the response differs from GitHub's description (empty list: it conforms)."""
        where = f"{method.upper()} {path} -> {status}"
        op = self.find_operation(method, path)
        if op is None:
            return [f"{where}: no operation in GitHub's description matches this method and path"]
        response = op.responses.get(str(status)) or op.responses.get(f"{str(status)[0]}XX")
        if response is None and status in GLOBAL_ERROR_SCHEMAS:
            ref = f"#/components/schemas/{GLOBAL_ERROR_SCHEMAS[status]}"
            response = {"content": {"application/json": {"schema": {"$ref": ref}}}}
        if response is None:
            documented = ", ".join(sorted(op.responses))
            return [
                f"{where}: status {status} is not documented for {op.operation_id} ({documented})"
            ]
        response = self._resolve(response)
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        content = response.get("content") or {}
        if not content:
            if status in (204, 304) and raw.strip():
                return [
                    f"{where}: {op.operation_id} documents no body for {status}, got {raw[:80]!r}"
                ]
            return []
        media = content.get("application/json") or next(
            (v for k, v in content.items() if k.endswith("json")), None
        )
        if media is None or "schema" not in media:
            return []
        errors: list[str] = []
        if content_type is not None and "json" not in content_type.split(";")[0]:
            errors.append(f"{where}: Content-Type is {content_type!r}, expected application/json")
        try:
            instance = json.loads(raw)
        except ValueError:
            return [*errors, f"{where}: body is not JSON: {raw[:80]!r}"]
        errors += [
            f"{where} ({op.operation_id}): {e}"
            for e in self.validate_schema(media["schema"], instance)
        ]
        return errors


def _oa_to_json_schema_components(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.get("components", {}).get("schemas", {})
    return {"schemas": {name: _oa_to_json_schema(s) for name, s in schemas.items()}}
