"""The forge's core: requests, errors, repositories on disk and who is who."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import shapes, validate, workflow_runs
from .gitrepo import GitRepo, Person
from .store import Store, now_iso


class ApiError(Exception):
    """An error answered in GitHub's shape: {"message", "documentation_url"[, "errors"]}."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return shapes.error(self.message, self.errors, self.status)


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(
    message: str, resource: str, field: str | None = None, code: str = "invalid"
) -> ApiError:
    """422 Validation Failed with GitHub's `errors` list."""
    err: dict[str, Any] = {"resource": resource, "code": code}
    if field:
        err["field"] = field
    if code == "custom" or not field:
        err["message"] = message
    return ApiError(422, "Validation Failed", [err])


def too_long(resource: str, field: str, limit: int) -> ApiError:
    """422 as GitHub answers a text field over its length limit."""
    return invalid(
        f"{field} is too long (maximum is {limit} characters)", resource, field, "custom"
    )


def unprocessable(message: str, resource: str, field: str | None = None) -> ApiError:
    """422 whose message is GitHub's specific sentence, still carrying an `errors` list."""
    err: dict[str, Any] = {"resource": resource, "code": "custom", "message": message}
    if field:
        err["field"] = field
    return ApiError(422, message, [err])


@dataclass
class Request:
    method: str
    path: str  # path under /api/v3, still URL-quoted
    params: dict[str, str]
    body: Any
    login: str
    route: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    may_write: bool = True  # False for a read-only token

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, "Problems parsing JSON")
        return self.body

    def string(
        self, key: str, resource: str, required: bool = False, default: str | None = None
    ) -> str | None:
        body = self.json_object()
        value = body.get(key, default)
        if value is None:
            if required:
                raise invalid(f"{key} is missing", resource, key, "missing_field")
            return default
        if not isinstance(value, str):
            raise invalid(f"{key} is not a string", resource, key)
        return value

    def boolean(self, key: str, resource: str, default: bool | None = None) -> bool | None:
        value = self.json_object().get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(f"{key} is not a boolean", resource, key)
        return value


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RepoHandle:
    full_name: str
    git: GitRepo
    meta: dict[str, Any]


class Forge:
    """Everything an endpoint needs: the data dir, the metadata store and the links."""

    def __init__(self, data_dir: Path, links: shapes.Links, logins: set[str]) -> None:
        self.data_dir = data_dir
        self.store = Store(data_dir)
        self.links = links
        self.logins = set(logins)
        self.read_only_logins: set[str] = set()  # their `permissions` say no push
        self.runner = workflow_runs.Runner()  # how dispatched workflow runs go (tests set it)

    # -- repositories ---------------------------------------------------------------
    def repo_path(self, full_name: str) -> Path:
        """Where `owner/name` lives on disk; ValueError for a name GitHub would refuse, so
        that no name can point outside DATA/repos."""
        if not validate.valid_full_name(full_name):
            raise ValueError(
                f"invalid repository name {full_name!r}: expected OWNER/NAME, the owner 1-39 "
                "letters, digits or inner hyphens, the name 1-100 letters, digits, '.', '_' "
                "or '-' (not '.' or '..')"
            )
        owner, name = full_name.split("/", 1)
        return self.data_dir / "repos" / owner / f"{name}.git"

    def create_repo(self, full_name: str, default_branch: str = "master") -> Path:
        if not validate.valid_branch_name(default_branch):
            raise ValueError(f"invalid default branch name {default_branch!r}")
        path = self.repo_path(full_name)
        with self.store.repo_lock(full_name):
            if not (path / "HEAD").exists():
                GitRepo.init_bare(path, default_branch)
            self.store.ensure(full_name, default_branch)
        return path

    def open(self, owner: str, name: str) -> RepoHandle:
        """The repository `owner/name` (caller should hold its lock) or 404."""
        full_name = f"{owner}/{name}"
        if not validate.valid_full_name(full_name):
            raise not_found()
        path = self.repo_path(full_name)
        if not (path / "HEAD").exists():
            raise not_found()
        meta = self.store.load(full_name)
        if meta is None:
            git = GitRepo(path)
            meta = self.store.ensure(full_name, git.head_branch())
        return RepoHandle(full_name, GitRepo(path), meta)

    def lock(self, owner: str, name: str) -> Any:
        return self.store.repo_lock(f"{owner}/{name}")

    def save(self, handle: RepoHandle) -> None:
        handle.meta["updated_at"] = now_iso()
        self.store.save(handle.full_name, handle.meta)

    def repo_names(self) -> list[str]:
        root = self.data_dir / "repos"
        if not root.exists():
            return []
        return sorted(f"{p.parent.name}/{p.name[:-4]}" for p in root.glob("*/*.git"))

    # -- users ------------------------------------------------------------------
    def owner_kind(self, owner: str) -> str:
        return "User" if owner in self.logins else "Organization"

    def known_login(self, login: str) -> bool:
        if not validate.valid_login(login):
            return False
        if login in self.logins:
            return True
        return (self.data_dir / "repos" / login).is_dir()

    def login_for(self, person: Person) -> str | None:
        """The user a git identity belongs to, GitHub style (by e-mail), else None."""
        local, _, domain = person.email.partition("@")
        if domain.endswith("sandbox.invalid") and local in self.logins:
            return local
        if local in self.logins or person.name in self.logins:
            return local if local in self.logins else person.name
        return None

    def identity(self, login: str, date: str | None = None) -> Person:
        return Person(login, shapes.email_for(login), date or now_iso())
