"""The sandbox forge's HTTP server and its Python control API (`Sandbox`)."""

from __future__ import annotations

import base64
import json
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from . import (  # noqa: F401  (importing registers the endpoints)
    api_actions,
    api_checks,
    api_commits,
    api_deployments,
    api_git,
    api_pulls,
    api_repos,
    api_users,
    routes,
    shapes,
    smart_http,
    validate,
    workflow_runs,
)
from .faults import Counters, Fault, Faults, InFlight, Latency, RequestLog, Served, sequential_steps
from .forge import ApiError, Forge, Request, Response, invalid

API_PREFIX = "/api/v3"
CONTROL_PREFIX = "/_sandbox/"
RATE_LIMIT = 5000
MAX_BODY_BYTES = 16 * 1024 * 1024  # a REST request body (GitHub's own payloads are far smaller)
MAX_GIT_BODY_BYTES = 100 * 1024 * 1024  # a push (git http-backend buffers as much)
BODY_TIMEOUT = 10.0  # seconds a body may stall between two reads before the connection closes
IDLE_TIMEOUT = 120.0  # seconds a connection may sit idle (or half-sent) before it closes
SETTLE_SECONDS = 1.0  # the most `served()` waits for the requests being served to be recorded
MAX_CHUNK_LINE = 1024
MAX_TRAILER_LINES = 64
_CONTENT_LENGTH_RE = re.compile(r"^[0-9]{1,20}$")
_CHUNK_SIZE_RE = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
# Path parameters that name things; each must pass its check or the request answers 404.
_PARAM_CHECKS = {
    "owner": validate.valid_login,
    "login": validate.valid_login,
    "repo": validate.valid_repo_name,
    "path": lambda v: validate.valid_repo_path(v.strip("/")),
}


class Sandbox:
    """A local GitHub-compatible forge over bare git repositories in `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        tokens: dict[str, str] | None = None,
        read_only_tokens: dict[str, str] | None = None,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_git_body_bytes: int = MAX_GIT_BODY_BYTES,
    ) -> None:
        self.latency = Latency(latency_ms, jitter_ms)  # first: a bad value writes nothing
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.tokens = dict(tokens or {})
        self.read_only_tokens = dict(read_only_tokens or {})
        self.faults = Faults()
        self.counter = Counters()
        self.flight = InFlight()
        self.log = RequestLog()
        self.max_body_bytes = int(max_body_bytes)
        self.max_git_body_bytes = int(max_git_body_bytes)
        self.body_timeout = BODY_TIMEOUT
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
        self.forge.read_only_logins = set(self.read_only_tokens.values()) - set(
            self.tokens.values()
        )

    # -- life cycle -------------------------------------------------------------------
    def start(self, port: int = 0) -> None:
        httpd = _Server(("127.0.0.1", port), _Handler)
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

    def workflow_runs(self, full_name: str) -> list[dict[str, Any]]:
        """Every workflow run created, oldest first, as stored (inputs, planned life,
        `cancelled_ts`), listed or not yet."""
        return self._records(full_name, "workflow_runs")

    @property
    def actions(self) -> workflow_runs.Runner:
        """The runner deciding each dispatched run's duration and conclusion:
        `sandbox.actions.plan("globex", seconds=2, conclusion="failure")`,
        `sandbox.actions.configure(seconds=0.2, queue_seconds=0.1, appear_seconds=0.3)`."""
        return self.forge.runner

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

    def writes_at(self) -> list[float]:
        """When each API write since the last reset was served (`time.monotonic()`)."""
        return self.counter.writes_at()

    def reset_counters(self) -> None:
        """Forget the per-route counts and the request log, and start the in-flight
        maximum again from now."""
        self.counter.reset()
        self.flight.reset()
        self.log.reset()

    def served(self) -> list[Served]:
        """The API and git requests served since the last reset, in the order they arrived.

        A request is recorded just after its answer is sent, so a client can hold the answer
        first: this waits (up to a second) for the requests being served to be recorded."""
        self.flight.settle(SETTLE_SECONDS)
        return self.log.snapshot()

    def sequential_steps(self) -> int:
        """The sequential request steps (critical path) of the requests since the last
        reset: `sandbox.faults.sequential_steps`."""
        return sequential_steps(self.served())

    def in_flight(self) -> int:
        """API and git requests being served right now (control requests not counted)."""
        return self.flight.current()

    def max_in_flight(self) -> int:
        """The most API and git requests served at once since the start or the last reset."""
        return self.flight.maximum()

    # -- latency ------------------------------------------------------------------
    def set_latency(self, ms: float, jitter_ms: float = 0.0) -> None:
        """Delay every later API and git request by `ms` milliseconds, +/- up to `jitter_ms`.

        Each request sleeps in its own thread, so concurrent requests overlap as they would
        on a real network; control requests (/_sandbox/...) are never delayed.
        """
        self.latency.set(ms, jitter_ms)

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


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a burst of concurrent clients queues rather than being refused

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The handler answers its own failures; what reaches here is a connection that broke.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        print("sandbox forge: a connection failed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)


class _BadFraming(Exception):
    """The request's framing (Content-Length, chunks) cannot be trusted: answer and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Truncated(Exception):
    """The client stopped sending before its body was complete: close without an answer."""


# The fine-grained permission each write route needs, by the first template part that tells.
_WRITE_PERMISSIONS = (
    ("/pulls/{number}/merge", "contents=write"),
    ("/pulls", "pull_requests=write"),
    ("/issues", "issues=write; pull_requests=write"),
    ("/statuses/", "statuses=write"),
    ("/check-runs", "checks=write"),
    ("/dispatches", "actions=write"),
    ("/actions/", "actions=write"),
    ("/git/", "contents=write"),
    ("/merges", "contents=write"),
    ("/contents/", "contents=write"),
)


def accepted_permission(template: str) -> str:
    """The `X-Accepted-GitHub-Permissions` value of a write route (GitHub's header on a 403)."""
    for part, permission in _WRITE_PERMISSIONS:
        if part in template:
            return permission
    return "administration=write"  # the repository's settings (PATCH /repos/{owner}/{repo})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # error answers always carry a status line
    server_version = "SandboxForge/1.0"
    timeout = IDLE_TIMEOUT
    _replied = False
    _served_key = ""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def parse_request(self) -> bool:
        words = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n").split()
        if len(words) == 2:  # HTTP/0.9 has no headers and no status line: not served
            self.command, self.request_version = None, "HTTP/1.0"
            self.requestline = " ".join(words)
            self.send_error(400, "Bad request syntax: HTTP/0.9 is not served")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the HTTP parser finds (bad request line, headers, method), in GitHub's shape."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, "Method Not Allowed"
        elif code >= 500:  # e.g. 505 for an HTTP/2.0 request line: the request is at fault
            code = HTTPStatus.BAD_REQUEST
        self.close_connection = True
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
        try:
            self._send_json(code, shapes.error(message or phrase), {"Connection": "close"})
        except OSError:
            pass

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

    def do_HEAD(self) -> None:
        self._handle()

    # -- plumbing -----------------------------------------------------------------
    def _read_body(self, limit: int) -> bytes:
        """The request body, at most `limit` bytes; _BadFraming or _Truncated otherwise."""
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if encodings:
            codings = [c.strip().lower() for v in encodings for c in v.split(",") if c.strip()]
            if codings != ["chunked"]:
                raise _BadFraming(400, "Unsupported Transfer-Encoding: only chunked is served")
            if lengths:
                raise _BadFraming(400, "Content-Length and Transfer-Encoding cannot be combined")
            return self._read_chunked(limit)
        if not lengths:
            return b""
        values = {v.strip() for v in lengths}
        if len(values) != 1:
            raise _BadFraming(400, "Conflicting Content-Length headers")
        raw = values.pop()
        if not _CONTENT_LENGTH_RE.match(raw):
            raise _BadFraming(400, "Content-Length must be a non-negative integer")
        length = int(raw)
        if length > limit:
            raise _BadFraming(413, f"Request body too large: the limit is {limit} bytes")
        data = self.rfile.read(length) if length else b""
        if len(data) < length:
            raise _Truncated()
        return data

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            if not line:
                raise _Truncated()
            if len(line) > MAX_CHUNK_LINE or not line.endswith(b"\n"):
                raise _BadFraming(400, "Malformed chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE_RE.match(size_text):
                raise _BadFraming(400, "Malformed chunk size")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise _BadFraming(413, f"Request body too large: the limit is {limit} bytes")
            data = self.rfile.read(size)
            if len(data) < size:
                raise _Truncated()
            chunks.append(data)
            end = self.rfile.readline(3)
            if not end:
                raise _Truncated()
            if end not in (b"\r\n", b"\n"):
                raise _BadFraming(400, "A chunk must end with CRLF")
        for _ in range(MAX_TRAILER_LINES):
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            if not line:
                raise _Truncated()
            if line in (b"\r\n", b"\n"):
                return b"".join(chunks)
            if len(line) > MAX_CHUNK_LINE:
                raise _BadFraming(400, "Trailer line too long")
        raise _BadFraming(400, "Too many trailer lines")

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self._replied = True
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, _header_value(v))
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
        self._replied = False
        try:
            split = urlsplit(self.path)
        except ValueError:
            self._reject(400, "Bad request target")
            return
        path = split.path
        git = smart_http.is_git_path(path)
        try:
            self.connection.settimeout(sb.body_timeout)
            body = self._read_body(sb.max_git_body_bytes if git else sb.max_body_bytes)
            self.connection.settimeout(self.timeout)
        except _BadFraming as err:
            self._reject(err.status, err.message)
            return
        except (_Truncated, OSError, ValueError):
            self._drop()
            return
        if path.startswith(CONTROL_PREFIX):
            self._guarded(self._control, path, body)
            return
        with sb.flight:
            started = time.monotonic()
            self._served_key = f"{self.command} (unknown route)"
            delay = sb.latency.sample()
            if delay:
                time.sleep(delay)
            sb._wait_if_paused()
            if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                self._guarded(self._api, path[len(API_PREFIX) :] or "/", split.query, body)
            elif git:
                self._guarded(self._git, path, split.query, body)
            else:
                self._send_json(404, shapes.error("Not Found"))
            sb.log.record(Served(started, time.monotonic(), self._served_key, self.path[:300]))

    def _guarded(self, serve: Any, *args: Any) -> None:
        """Serve; a failure of the forge itself answers 500 without its details (they go to
        the server's stderr, never to the client: they may name the data folder)."""
        try:
            serve(*args)
        except OSError:
            self.close_connection = True  # the client went away mid-answer
        except Exception:  # noqa: BLE001
            request_id = uuid.uuid4().hex[:16].upper()
            print(
                f"sandbox forge: {self.command} {self.path[:200]!r} failed (request {request_id}):",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            if self._replied:
                self._drop()
                return
            self._send_json(
                500,
                shapes.error(f"Server Error (request {request_id})"),
                {"X-GitHub-Request-Id": request_id},
            )

    def _reject(self, status: int, message: str) -> None:
        """Answer a request whose rest cannot be read safely, then close the connection."""
        self.close_connection = True
        try:
            self._send_json(status, shapes.error(message), {"Connection": "close"})
        except OSError:
            pass

    def _api(self, path: str, query: str, raw: bytes) -> None:
        sb = self.sandbox
        method = "GET" if self.command == "HEAD" else self.command
        found = routes.match(method, path)
        key = found[0].key if found else f"{method} (unknown route)"
        write = method not in ("GET", "HEAD")
        fault = sb.faults.take(
            method, API_PREFIX + path, found[0].template.replace("+}", "}") if found else ""
        )
        sb.counter.record(key, write)
        self._served_key = key
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
        if not _params_ok(found[1]):
            self._send_json(404, shapes.error("Not Found", status=404))
            return
        if write and not may_write:
            # As GitHub answers a fine-grained token that lacks the route's permission.
            self._send_json(
                403,
                shapes.error("Resource not accessible by personal access token", status=403),
                {"X-Accepted-GitHub-Permissions": accepted_permission(found[0].template)},
            )
            return
        try:
            payload = json.loads(raw) if raw.strip() else None
        except (ValueError, RecursionError):
            self._send_json(400, shapes.error("Problems parsing JSON"))
            return
        if validate.json_depth_exceeds(payload):
            self._send_json(
                400,
                shapes.error(
                    f"Problems parsing JSON: nested deeper than {validate.MAX_JSON_DEPTH} levels"
                ),
            )
            return
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            _check_input(params, payload)
            req = Request(
                method,
                path,
                params,
                payload,
                login,
                found[0].template,
                dict(self.headers.items()),
                may_write,
            )
            resp = routes.call(sb.forge, found[0], req, found[1])
        except ApiError as err:
            resp = Response(err.status, err.body(), err.headers)
        self._send_json(resp.status, resp.body, resp.headers)
        if write and resp.status < 400:
            sb._write_served()

    def _git(self, path: str, query: str, body: bytes) -> None:
        sb = self.sandbox
        method = self.command
        key, write = smart_http.route_key(method, path, query)
        fault = sb.faults.take(method, path, key.split(" ", 1)[1])
        sb.counter.record(key, write)
        self._served_key = key
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
        except (ValueError, RecursionError):
            payload = None
        if not isinstance(payload, dict) or validate.json_depth_exceeds(payload):
            self._send_json(400, shapes.error("Problems parsing JSON: expected an object"))
            return
        name = path[len(CONTROL_PREFIX) :].strip("/")
        method = self.command
        try:
            if name == "counters" and method == "GET":
                self._send_json(
                    200,
                    {
                        "counters": sb.counters(),
                        "reads": sb.reads(),
                        "writes": sb.writes(),
                        "in_flight": sb.flight.snapshot(),
                    },
                )
            elif name == "counters" and method == "DELETE":
                sb.reset_counters()
                self._send_json(204, None)
            elif name == "latency" and method == "GET":
                self._send_json(200, sb.latency.settings())
            elif name == "latency" and method in ("POST", "PUT"):
                sb.set_latency(payload.get("ms", 0), payload.get("jitter_ms", 0))
                self._send_json(200, sb.latency.settings())
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
            elif name == "actions" and method == "GET":
                self._send_json(200, sb.actions.settings())
            elif name == "actions" and method in ("POST", "PUT"):
                sb.actions.configure(
                    payload.get("seconds"),
                    payload.get("conclusion"),
                    payload.get("queue_seconds"),
                    payload.get("appear_seconds"),
                    payload.get("key_input"),
                )
                self._send_json(200, sb.actions.settings())
            elif name == "actions" and method == "DELETE":
                sb.actions.reset()
                self._send_json(204, None)
            elif name == "actions/plans" and method == "POST":
                sb.actions.plan(
                    str(payload["value"]),
                    float(payload["seconds"]),
                    str(payload.get("conclusion", "success")),
                )
                self._send_json(200, sb.actions.settings())
            elif name.startswith("workflow-runs/") and method == "GET":
                self._send_json(200, sb.workflow_runs(name.split("/", 1)[1]))
            elif name.startswith("forced-updates/") and method == "GET":
                self._send_json(200, sb.forced_updates(name.split("/", 1)[1]))
            else:
                self._send_json(404, shapes.error("Not Found"))
        except (KeyError, ValueError, TypeError) as exc:
            self._send_json(422, shapes.error(f"Invalid control request: {exc}", []))
        except ApiError as err:
            self._send_json(err.status, err.body())


def _header_value(value: object) -> str:
    """A header value that cannot break the header block: no CR/LF, latin-1 only."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    if text.isascii():
        return text
    return quote(text, safe=" !#$%&'()*+,-./:;<=>?@[]^_`{|}~")


def _params_ok(params: dict[str, str]) -> bool:
    """Every path parameter could name something on GitHub (owner, repo, path, ref ...)."""
    for name, value in params.items():
        check = _PARAM_CHECKS.get(name, validate.valid_revision)
        if not check(value):
            return False
    return True


def _check_input(params: dict[str, str], payload: Any) -> None:
    """422 for query parameters with control characters and body strings git cannot store."""
    for name, value in params.items():
        if validate.has_control(name) or validate.has_control(value):
            field = name if not validate.has_control(name) else repr(name)
            raise invalid(f"{field} contains a control character", "Request", field)
    where = validate.find_unstorable(payload)
    if where is not None:
        raise invalid(
            f"{where} contains a NUL character or an unpaired surrogate", "Request", where
        )
