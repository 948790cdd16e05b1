"""git's smart HTTP protocol (clone, fetch, push) served by `git http-backend`."""

from __future__ import annotations

import re
import subprocess

from . import validate
from .forge import Forge
from .gitrepo import git_env

_GIT_PATH = re.compile(
    r"^/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.*))$"
)


def is_git_path(path: str) -> bool:
    return _GIT_PATH.match(path) is not None


def route_key(method: str, path: str, query: str) -> tuple[str, bool]:
    """("METHOD /{owner}/{repo}.git/…", is_write): only a push writes."""
    m = _GIT_PATH.match(path)
    rest = m.group("rest") if m else path
    if rest.startswith("/objects/"):
        rest = "/objects/{path}"
    write = method == "POST" and rest == "/git-receive-pack"
    return f"{method} /{{owner}}/{{repo}}.git{rest}", write


def serve(
    forge: Forge,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    login: str,
) -> tuple[int, dict[str, str], bytes]:
    """Run git http-backend as CGI for one request and return (status, headers, body)."""
    m = _GIT_PATH.match(path)
    if m is None:
        return 404, {"Content-Type": "text/plain"}, b"Not Found\n"
    owner, name, rest = m.group("owner"), m.group("name"), m.group("rest")
    if (
        not validate.valid_full_name(f"{owner}/{name}")
        or ".." in rest
        or validate.has_control(rest + query)
    ):
        return 404, {"Content-Type": "text/plain"}, b"Repository not found\n"
    repo_dir = forge.repo_path(f"{owner}/{name}")
    if not (repo_dir / "HEAD").exists():
        return 404, {"Content-Type": "text/plain"}, b"Repository not found\n"
    lower = {k.lower(): v for k, v in headers.items()}
    env = git_env(
        {
            "GIT_PROJECT_ROOT": str(forge.data_dir / "repos"),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{owner}/{name}.git{rest}",
            "QUERY_STRING": query,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": lower.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": login,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_HTTP_MAX_REQUEST_BUFFER": "100M",
            "GIT_COMMITTER_NAME": login,
            "GIT_COMMITTER_EMAIL": f"{login}@users.noreply.sandbox.invalid",
        }
    )
    if "content-encoding" in lower:
        env["HTTP_CONTENT_ENCODING"] = lower["content-encoding"]
    if "git-protocol" in lower:
        env["GIT_PROTOCOL"] = lower["git-protocol"]
    lock = forge.lock(owner, name)
    if rest == "/git-receive-pack":
        from .api_pulls import sync_pulls

        with lock:
            proc = subprocess.run(
                ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
            )
            sync_pulls(forge, forge.open(owner, name))
    else:
        proc = subprocess.run(
            ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
        )
    return _parse_cgi(proc.stdout)


def _parse_cgi(out: bytes) -> tuple[int, dict[str, str], bytes]:
    sep = out.find(b"\r\n\r\n")
    skip = 4
    if sep < 0:
        sep = out.find(b"\n\n")
        skip = 2
    if sep < 0:
        return 500, {"Content-Type": "text/plain"}, b"git http-backend failed\n"
    head, body = out[:sep].decode(errors="replace"), out[sep + skip :]
    status = 200
    headers: dict[str, str] = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers[key.strip()] = value.strip()
    return status, headers, body
