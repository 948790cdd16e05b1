"""The table of API routes: method + path template -> endpoint function."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .forge import Forge, Request, Response

Endpoint = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/repos/{owner}/{repo}/git/refs/{ref+}"
    pattern: re.Pattern[str]
    endpoint: Endpoint

    @property
    def key(self) -> str:
        return f"{self.method} {self.template.replace('+}', '}')}"


ROUTES: list[Route] = []


def _compile(template: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[a-z_]+\+?\})", template):
        if part.startswith("{"):
            name = part[1:-1]
            if name.endswith("+"):
                out += f"(?P<{name[:-1]}>.+)"
            else:
                out += f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$")


def route(method: str, template: str) -> Callable[[Endpoint], Endpoint]:
    def register(fn: Endpoint) -> Endpoint:
        ROUTES.append(Route(method, template, _compile(template), fn))
        return fn

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving `method path` and its unquoted parameters."""
    for r in _ordered():
        if r.method != method:
            continue
        m = r.pattern.match(path)
        if m:
            return r, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


def _ordered() -> list[Route]:
    """Exact routes first, then greedy ones, longest template first (…/{ref+}/status before …/{ref+})."""
    return sorted(ROUTES, key=lambda r: ("+}" in r.template, -len(r.template)))


def known_path(path: str) -> bool:
    return any(r.pattern.match(path) for r in ROUTES)


def call(forge: Forge, r: Route, req: Request, params: dict[str, str]) -> Response:
    args: dict[str, Any] = dict(params)
    if "owner" in args and "repo" in args:
        with forge.lock(args["owner"], args["repo"]):
            return r.endpoint(forge, req, **args)
    return r.endpoint(forge, req, **args)
