"""Users and rate limit: GET /user, GET /users/{login}, GET /rate_limit."""

from __future__ import annotations

import time

from . import shapes
from .forge import Forge, Request, Response, not_found
from .routes import route


@route("GET", "/user")
def get_authenticated_user(forge: Forge, req: Request) -> Response:
    return Response(200, shapes.private_user(forge.links, req.login))


@route("GET", "/users/{login}")
def get_user(forge: Forge, req: Request, login: str) -> Response:
    if not forge.known_login(login):
        raise not_found()
    return Response(200, shapes.public_user(forge.links, login, forge.owner_kind(login)))


def _bucket(limit: int, reset: int, name: str) -> dict[str, int | str]:
    return {"limit": limit, "remaining": limit, "reset": reset, "used": 0, "resource": name}


@route("GET", "/rate_limit")
def rate_limit(forge: Forge, req: Request) -> Response:
    reset = int(time.time()) + 3600
    core = _bucket(5000, reset, "core")
    resources = {
        "core": core,
        "search": _bucket(30, reset, "search"),
        "graphql": _bucket(5000, reset, "graphql"),
        "integration_manifest": _bucket(5000, reset, "integration_manifest"),
        "code_search": _bucket(10, reset, "code_search"),
    }
    return Response(200, {"resources": resources, "rate": dict(core)})
