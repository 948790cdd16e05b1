"""The sandbox forge's HTTP server and its Python control API (`Sandbox`)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import (  # noqa: F401  (importing registers the endpoints)
    api_actions,
    api_checks,
    api_commits,
    api_git,
    api_pulls,
    api_repos,
    api_users,
    routes,
    shapes,
    smart_http,
)
from .faults import Counters, Fault, Faults
from .forge import ApiError, Forge, Request, Response

API_PREFIX = "/api/v3"
CONTROL_PREFIX = "/_sandbox/"
RATE_LIMIT = 5000


class Sandbox:
    """A local GitHub-compatible forge over bare git repositories in `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        tokens: dict[str, str] | None = None,
        read_only_tokens: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.tokens = dict(tokens or {})
        self.read_only_tokens = dict(read_only_tokens or {})
        self.faults = Faults()
        self.counter = Counters()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._pause_lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._ok_writes = 0
        self._pause_at: int | None = None
        self._paused_event: threading.Event | None = None
        logins = set(self.tokens.values()) | set(self.read_only_tokens.values())
        self.forge = Forge(
            self.data_dir, shapes.Links("http://127.0.0.1:0", "http://127.0.0.1:0/api/v3"), logins
        )

    # -- life cycle -------------------------------------------------------------------
    def start(self, port: int = 0) -> None:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        httpd.daemon_threads = True
        httpd.sandbox = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self.forge.links = shapes.Links(self.url, self.base_url)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._running.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever_started(self) -> None:
        """Block the caller while the started server runs (the CLI's foreground)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return self.url + API_PREFIX

    def git_url(self, full_name: str, token: str | None = None) -> str:
        if token:
            return f"http://x-access-token:{token}@127.0.0.1:{self._port}/{full_name}.git"
        return f"{self.url}/{full_name}.git"

    # -- repositories and records -------------------------------------------------
    def create_repo(self, full_name: str, default_branch: str = "master") -> Path:
        return self.forge.create_repo(full_name, default_branch)

    def _records(self, full_name: str, key: str) -> list[dict[str, Any]]:
        owner, name = full_name.split("/", 1)
        with self.forge.lock(owner, name):
            handle = self.forge.open(owner, name)
            return json.loads(json.dumps(handle.meta.get(key, [])))

    def dispatches(self, full_name: str) -> list[dict[str, Any]]:
        """Repository and workflow dispatches received, oldest first."""
        return self._records(full_name, "dispatches")

    def forced_updates(self, full_name: str) -> list[dict[str, Any]]:
        """Every forced (non-fast-forward) ref update: ref, old_sha, new_sha, login, at."""
        return self._records(full_name, "forced_updates")

    # -- counters -----------------------------------------------------------------
    def counters(self) -> dict[str, dict[str, int]]:
        return self.counter.snapshot()

    def reads(self) -> int:
        return self.counter.reads()

    def writes(self) -> int:
        return self.counter.writes()

    def reset_counters(self) -> None:
        self.counter.reset()

    # -- faults -------------------------------------------------------------------
    def inject(
        self, method: str, path_pattern: str, kind: str, count: int = 1, **params: Any
    ) -> None:
        self.faults.add(method, path_pattern, str(kind), count, **params)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- pausing ------------------------------------------------------------------
    def pause_after_writes(self, n: int) -> threading.Event:
        """After the n-th further successful write is served, block every later request."""
        if n < 1:
            raise ValueError("n must be at least 1")
        with self._pause_lock:
            self._pause_at = self._ok_writes + n
            self._paused_event = threading.Event()
            return self._paused_event

    def resume(self) -> None:
        with self._pause_lock:
            self._pause_at = None
            self._paused_event = None
        self._running.set()

    def _wait_if_paused(self) -> None:
        while not self._running.wait(timeout=0.5):
            if self._httpd is None:
                return

    def _write_served(self) -> None:
        with self._pause_lock:
            self._ok_writes += 1
            if (
                self._pause_at is not None
                and self._ok_writes >= self._pause_at
                and self._paused_event
            ):
                self._running.clear()
                self._paused_event.set()
                self._pause_at = None

    # -- auth ---------------------------------------------------------------------
    def _login(self, token: str | None) -> tuple[str | None, bool]:
        """(login, may_write) for a token; (None, False) when unknown."""
        if not token:
            return None, False
        if token in self.tokens:
            return self.tokens[token], True
        if token in self.read_only_tokens:
            return self.read_only_tokens[token], False
        return None, False


def _bearer(headers: Any) -> str | None:
    value = headers.get("Authorization") or ""
    scheme, _, rest = value.partition(" ")
    scheme = scheme.lower()
    if scheme in ("token", "bearer"):
        return rest.strip() or None
    if scheme == "basic":
        try:
            user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password or user or None
    return None


def _basic_candidates(headers: Any) -> list[str]:
    value = headers.get("Authorization") or ""
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "basic":
        token = _bearer(headers)
        return [token] if token else []
    try:
        user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return []
    return [c for c in (password, user) if c]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SandboxForge/1.0"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return  # quiet: tests start many servers

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # -- plumbing -----------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        # headers and body leave in one write: no Nagle/delayed-ACK stall on keep-alive
        self._headers_buffer.append(b"\r\n")
        if body and self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()
        self.wfile.flush()

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        hdrs = {
            "Content-Type": "application/json; charset=utf-8",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": uuid.uuid4().hex[:16].upper(),
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(RATE_LIMIT - 1),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": "1",
            "X-RateLimit-Resource": "core",
        }
        hdrs.update(headers or {})
        data = b"" if payload is None or status in (204, 304) else json.dumps(payload).encode()
        self._send(status, data, hdrs)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _apply_fault(self, fault: Fault) -> bool:
        """Serve the fault; True when the request is answered (or dropped)."""
        retry_after = str(fault.params.get("retry_after", 1))
        if fault.kind == "delay":
            time.sleep(float(fault.params.get("seconds", 1.0)))
            return False
        if fault.kind == "drop":
            self._drop()
            return True
        if fault.kind == "500":
            self._send_json(500, {"message": "Server Error", "documentation_url": shapes.DOCS})
        elif fault.kind == "502":
            self._send_json(502, {"message": "Server Error", "documentation_url": shapes.DOCS})
        elif fault.kind == "429":
            self._send_json(
                429,
                {
                    "message": "Too many requests. Please retry later.",
                    "documentation_url": shapes.DOCS,
                },
                {"Retry-After": retry_after},
            )
        elif fault.kind == "secondary_rate_limit":
            self._send_json(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                    "before you try again.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                    "#about-secondary-rate-limits",
                },
                {"Retry-After": retry_after, "X-RateLimit-Remaining": str(RATE_LIMIT - 1)},
            )
        return True

    # -- dispatch -----------------------------------------------------------------
    def _handle(self) -> None:
        sb = self.sandbox
        split = urlsplit(self.path)
        path = split.path
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self._drop()
            return
        if path.startswith(CONTROL_PREFIX):
            self._control(path, body)
            return
        sb._wait_if_paused()
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            self._api(path[len(API_PREFIX) :] or "/", split.query, body)
        elif smart_http.is_git_path(path):
            self._git(path, split.query, body)
        else:
            self._send_json(404, shapes.error("Not Found"))

    def _api(self, path: str, query: str, raw: bytes) -> None:
        sb = self.sandbox
        method = self.command
        found = routes.match(method, path)
        key = found[0].key if found else f"{method} (unknown route)"
        write = method not in ("GET", "HEAD")
        fault = sb.faults.take(
            method, API_PREFIX + path, found[0].template.replace("+}", "}") if found else ""
        )
        sb.counter.record(key, write)
        if fault is not None and self._apply_fault(fault):
            return
        token = _bearer(self.headers)
        login, may_write = sb._login(token)
        if login is None:
            message = "Requires authentication" if not token else "Bad credentials"
            self._send_json(401, shapes.error(message, status=401))
            return
        if found is None:
            status = 405 if routes.known_path(path) else 404
            self._send_json(
                status, shapes.error("Not Found" if status == 404 else "Method Not Allowed")
            )
            return
        if write and not may_write:
            self._send_json(
                403, shapes.error("Resource not accessible by personal access token", status=403)
            )
            return
        try:
            payload = json.loads(raw) if raw.strip() else None
        except ValueError:
            self._send_json(400, shapes.error("Problems parsing JSON"))
            return
        params = dict(parse_qsl(query, keep_blank_values=True))
        req = Request(
            method, path, params, payload, login, found[0].template, dict(self.headers.items())
        )
        try:
            resp = routes.call(sb.forge, found[0], req, found[1])
        except ApiError as err:
            resp = Response(err.status, err.body(), err.headers)
        except Exception as exc:  # noqa: BLE001 - answered as GitHub answers its own failures
            resp = Response(500, shapes.error(f"Server Error: {type(exc).__name__}: {exc}"[:300]))
        self._send_json(resp.status, resp.body, resp.headers)
        if write and resp.status < 400:
            sb._write_served()

    def _git(self, path: str, query: str, body: bytes) -> None:
        sb = self.sandbox
        method = self.command
        key, write = smart_http.route_key(method, path, query)
        fault = sb.faults.take(method, path, key.split(" ", 1)[1])
        sb.counter.record(key, write)
        if fault is not None and self._apply_fault(fault):
            return
        login, may_write = None, False
        for candidate in _basic_candidates(self.headers):
            login, may_write = sb._login(candidate)
            if login:
                break
        if login is None:
            self._send(
                401,
                b"Authentication required\n",
                {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="sandbox forge"'},
            )
            return
        if write and not may_write:
            self._send(403, b"Write access denied for this token\n", {"Content-Type": "text/plain"})
            return
        status, headers, out = smart_http.serve(
            sb.forge, method, path, query, dict(self.headers.items()), body, login
        )
        self._send(status, out, headers)
        if write and status < 400:
            sb._write_served()

    # -- control ------------------------------------------------------------------
    def _control(self, path: str, raw: bytes) -> None:
        sb = self.sandbox
        login, may_write = sb._login(_bearer(self.headers))
        if login is None or not may_write:
            self._send_json(401 if login is None else 403, shapes.error("Bad credentials"))
            return
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            self._send_json(400, shapes.error("Problems parsing JSON"))
            return
        name = path[len(CONTROL_PREFIX) :].strip("/")
        method = self.command
        try:
            if name == "counters" and method == "GET":
                self._send_json(
                    200, {"counters": sb.counters(), "reads": sb.reads(), "writes": sb.writes()}
                )
            elif name == "counters" and method == "DELETE":
                sb.reset_counters()
                self._send_json(204, None)
            elif name == "faults" and method == "POST":
                params = {
                    k: v
                    for k, v in payload.items()
                    if k not in ("method", "path_pattern", "kind", "count")
                }
                sb.inject(
                    payload["method"],
                    payload["path_pattern"],
                    payload["kind"],
                    int(payload.get("count", 1)),
                    **params,
                )
                self._send_json(201, {"faults": sb.faults.pending()})
            elif name == "faults" and method == "GET":
                self._send_json(200, {"faults": sb.faults.pending()})
            elif name == "faults" and method == "DELETE":
                sb.clear_faults()
                self._send_json(204, None)
            elif name == "pause" and method == "POST":
                sb.pause_after_writes(int(payload["after_writes"]))
                self._send_json(201, {"after_writes": int(payload["after_writes"])})
            elif name == "resume" and method == "POST":
                sb.resume()
                self._send_json(204, None)
            elif name.startswith("dispatches/") and method == "GET":
                self._send_json(200, sb.dispatches(name.split("/", 1)[1]))
            elif name.startswith("forced-updates/") and method == "GET":
                self._send_json(200, sb.forced_updates(name.split("/", 1)[1]))
            else:
                self._send_json(404, shapes.error("Not Found"))
        except (KeyError, ValueError, TypeError) as exc:
            self._send_json(422, shapes.error(f"Invalid control request: {exc}", []))
        except ApiError as err:
            self._send_json(err.status, err.body())
