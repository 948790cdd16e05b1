"""A hostile client against the sandbox: each request with the status GitHub would answer.

Every request goes over a raw socket, so that broken framing (a negative or huge
Content-Length, a bad chunk size, a garbage request line) is sent exactly as written. Every
row checks the status (or that the connection closed without an answer), GitHub's error shape
({"message", "documentation_url"}, 422 with "errors"), that no answer names the data folder,
and, once all rows ran, that nothing was written outside the data folder and the forge still
serves.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

CLOSED = None  # the connection closes without an answer
REPO = "/api/v3/repos/acme/service"
TOKEN = "sandbox-token-release-bot"  # tests/conftest.py's write token
REVIEWER = "sandbox-token-oncall-partner"
NEST = 33  # one level deeper than the forge accepts


def request(
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    token: str | None = TOKEN,
    raw_body: bytes | None = None,
    length: str | None = None,
) -> bytes:
    """One HTTP/1.1 request as bytes; `length` overrides the Content-Length header as sent."""
    data = raw_body if raw_body is not None else b""
    if body is not None:
        data = json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: hostile"]
    if token:
        lines.append(f"Authorization: token {token}")
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    elif data or method in ("POST", "PATCH", "PUT"):
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def chunked(path: str, chunks: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {TOKEN}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    return head.encode() + chunks


def nested(depth: int) -> bytes:
    return b'{"tree": ' + b"[" * depth + b"]" * depth + b"}"


@dataclass(frozen=True)
class Row:
    name: str
    raw: bytes
    status: int | None
    git: bool = False  # git's smart HTTP answers in plain text, not GitHub's JSON


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def build_rows(tip: str, tree: str) -> list[Row]:
    """The table; `tip` and `tree` are master's commit and tree in the seeded repository."""
    return [
        # names that would resolve outside the data folder, or could never exist on GitHub
        Row("repo owner ..", request("GET", "/api/v3/repos/../evil"), 404),
        Row("repo owner %2e%2e", request("GET", "/api/v3/repos/%2e%2e/evil"), 404),
        Row("repo name ..", request("GET", "/api/v3/repos/acme/.."), 404),
        Row("repo name with NUL", request("GET", "/api/v3/repos/acme/ser%00vice"), 404),
        Row("user ..", request("GET", "/api/v3/users/.."), 404),
        Row("contents ../../etc/passwd", request("GET", f"{REPO}/contents/../../etc/passwd"), 404),
        Row("contents %2e%2e", request("GET", f"{REPO}/contents/%2e%2e/%2e%2e/etc/passwd"), 404),
        Row("contents .git/config", request("GET", f"{REPO}/contents/.git/config"), 404),
        Row("contents with NUL", request("GET", f"{REPO}/contents/README.md%00"), 404),
        Row("contents ref with NUL", request("GET", f"{REPO}/contents/README.md?ref=%00"), 422),
        Row("tree ../x", request("GET", f"{REPO}/git/trees/../x"), 404),
        Row("tree .git/config", request("GET", f"{REPO}/git/trees/.git/config"), 404),
        Row("tree with NUL", request("GET", f"{REPO}/git/trees/master%00"), 404),
        Row("branch with NUL", request("GET", f"{REPO}/branches/a%00b"), 404),
        Row("ref with newline", request("GET", f"{REPO}/git/ref/heads/a%0Ab"), 404),
        Row("commit ref -option", request("GET", f"{REPO}/commits/--output=x"), 404),
        Row("query key with NUL", request("GET", f"{REPO}/commits?a%00=1"), 422),
        Row("commits author regex", request("GET", f"{REPO}/commits?author=(&sha=master"), 200),
        Row("commits path ../x", request("GET", f"{REPO}/commits?path=../x&sha=master"), 200),
        Row(
            "git repo ..",
            request(
                "GET",
                "/../evil.git/info/refs?service=git-upload-pack",
                token=None,
                headers={"Authorization": _basic(TOKEN)},
            ),
            404,
            git=True,
        ),
        # paths, refs and identities written through the git data API
        *(
            Row(
                f"tree path {path!r}",
                request(
                    "POST",
                    f"{REPO}/git/trees",
                    {"tree": [{"path": path, "mode": "100644", "type": "blob", "content": "x"}]},
                ),
                422,
            )
            for path in ("../x", ".git/config", "a/./b", "a//b", "a\x00b", "a\nb", "x/.GIT/hooks")
        ),
        Row(
            "tree file and directory",
            request(
                "POST",
                f"{REPO}/git/trees",
                {
                    "tree": [
                        {"path": "d", "mode": "100644", "type": "blob", "content": "x"},
                        {"path": "d/e", "mode": "100644", "type": "blob", "content": "x"},
                    ]
                },
            ),
            422,
        ),
        Row(
            "ref with ..",
            request("POST", f"{REPO}/git/refs", {"ref": "refs/heads/a..b", "sha": tip}),
            422,
        ),
        Row(
            "ref with NUL",
            request("POST", f"{REPO}/git/refs", {"ref": "refs/heads/a\x00", "sha": tip}),
            422,
        ),
        Row(
            "ref .lock",
            request("POST", f"{REPO}/git/refs", {"ref": "refs/heads/x.lock", "sha": tip}),
            422,
        ),
        Row(
            "author of separators only",
            request(
                "POST",
                f"{REPO}/git/commits",
                {"message": "m", "tree": tree, "author": {"name": "<>", "email": "a@b"}},
            ),
            422,
        ),
        Row(
            "author date git cannot store",
            request(
                "POST",
                f"{REPO}/git/commits",
                {
                    "message": "m",
                    "tree": tree,
                    "author": {"name": "a", "email": "a@b", "date": "1000-01-01T00:00:00Z"},
                },
            ),
            422,
        ),
        Row(
            "merge base ../..",
            request("POST", f"{REPO}/merges", {"base": "../../HEAD", "head": "master"}),
            404,
        ),
        Row(
            "merge head with a lone surrogate",
            request(
                "POST",
                f"{REPO}/merges",
                raw_body=b'{"base": "master", "head": "\\ud800"}',
            ),
            422,
        ),
        Row(
            "blob base64 outside ASCII",
            request("POST", f"{REPO}/git/blobs", {"content": "ü" * 8, "encoding": "base64"}),
            422,
        ),
        # GitHub's field length limits
        Row(
            "status description 140",
            request(
                "POST", f"{REPO}/statuses/{tip}", {"state": "success", "description": "d" * 140}
            ),
            201,
        ),
        Row(
            "status description 141",
            request(
                "POST", f"{REPO}/statuses/{tip}", {"state": "success", "description": "d" * 141}
            ),
            422,
        ),
        Row(
            "status description 50 MB",
            request("POST", f"{REPO}/statuses/{tip}", length=str(50 * 1024 * 1024)),
            413,
        ),
        Row(
            "pull title 257",
            request(
                "POST", f"{REPO}/pulls", {"title": "t" * 257, "head": "staging", "base": "master"}
            ),
            422,
        ),
        Row(
            "pull body 65537",
            request(
                "POST",
                f"{REPO}/pulls",
                {"title": "t", "body": "b" * 65537, "head": "staging", "base": "master"},
            ),
            422,
        ),
        Row("pull edit title 257", request("PATCH", f"{REPO}/pulls/1", {"title": "t" * 257}), 422),
        Row(
            "comment body 65537",
            request("POST", f"{REPO}/issues/1/comments", {"body": "c" * 65537}),
            422,
        ),
        Row(
            "review body 65537",
            request(
                "POST",
                f"{REPO}/pulls/1/reviews",
                {"event": "COMMENT", "body": "r" * 65537},
                token=REVIEWER,
            ),
            422,
        ),
        Row(
            "check run summary 65536",
            request(
                "POST",
                f"{REPO}/check-runs",
                {"name": "n", "head_sha": tip, "output": {"title": "t", "summary": "s" * 65536}},
            ),
            422,
        ),
        Row(
            "dispatch event_type 101",
            request("POST", f"{REPO}/dispatches", {"event_type": "e" * 101}),
            422,
        ),
        Row(
            "dispatch 11 payload keys",
            request(
                "POST",
                f"{REPO}/dispatches",
                {"event_type": "e", "client_payload": {str(i): i for i in range(11)}},
            ),
            422,
        ),
        # bodies and framing
        Row(
            "JSON nested 33 deep", request("POST", f"{REPO}/git/trees", raw_body=nested(NEST)), 400
        ),
        Row(
            "JSON nested 100000 deep",
            request("POST", f"{REPO}/git/trees", raw_body=nested(100_000)),
            400,
        ),
        Row("JSON broken", request("POST", f"{REPO}/git/trees", raw_body=b'{"tree": ['), 400),
        Row(
            "JSON invalid UTF-8", request("POST", f"{REPO}/git/trees", raw_body=b'{"\xff": 1}'), 400
        ),
        Row("Content-Length -1", request("POST", f"{REPO}/git/trees", length="-1"), 400),
        Row("Content-Length 10**12", request("POST", f"{REPO}/git/trees", length=str(10**12)), 413),
        Row("Content-Length abc", request("POST", f"{REPO}/git/trees", length="abc"), 400),
        Row(
            "two Content-Lengths",
            request("POST", f"{REPO}/git/trees", headers={"Content-Length": "3"}, raw_body=b"{}"),
            400,
        ),
        Row("chunk size huge", chunked(f"{REPO}/git/trees", b"fffffffffffff\r\n{}"), 413),
        Row("chunk size garbage", chunked(f"{REPO}/git/trees", b"zz\r\n{}"), 400),
        Row("chunk without CRLF", chunked(f"{REPO}/git/trees", b"2\r\n{}XX0\r\n\r\n"), 400),
        Row(
            "Transfer-Encoding gzip",
            request("POST", f"{REPO}/git/trees", headers={"Transfer-Encoding": "gzip"}, length="2"),
            400,
        ),
        Row("garbage request line", b"garbage\r\n\r\n", 400),
        Row("HTTP/0.9 request", b"GET /api/v3/rate_limit\r\n", 400),
        Row("HTTP/2.0 request line", b"GET /api/v3/rate_limit HTTP/2.0\r\n\r\n", 400),
        Row("unknown method", request("BREW", "/api/v3/rate_limit"), 405),
        Row(
            "header line 70000",
            request("GET", "/api/v3/rate_limit", headers={"X-Big": "x" * 70000}),
            431,
        ),
        Row("absolute-form junk", request("GET", "http://[::1/api/v3/rate_limit"), 400),
        Row(
            "control body not an object", request("POST", "/_sandbox/faults", raw_body=b"[1]"), 400
        ),
    ]


ROWS = build_rows("0" * 40, "1" * 40)


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> tuple[int | None, bytes, float]:
    """Send `raw`, keep the socket open for writing, read one answer: (status, body, seconds)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            pass  # the server may answer and close before taking a huge request whole
        data = b""
        while True:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                pytest.fail(f"no answer and no close within {timeout} s")
            if not piece:
                break
            data += piece
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = [
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(body) >= int(length[0]):
                    break
    elapsed = time.monotonic() - started
    if not data:
        return None, b"", elapsed
    status_line = data.split(b"\r\n", 1)[0].split()
    return int(status_line[1]), data.partition(b"\r\n\r\n")[2], elapsed


def _rows(sandbox) -> dict[str, Row]:
    bare = sandbox.data_dir / "repos" / "acme" / "service.git"

    def rev(spec: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(bare), "rev-parse", spec],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    return {row.name: row for row in build_rows(rev("master"), rev("master^{tree}"))}


def _listing(root: Path, skip: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if skip not in p.parents and p != skip}


@pytest.fixture(scope="module")
def hostile_sandbox(tmp_path_factory, seed_cache):
    from sandbox.seed import seed
    from tests.conftest import start_sandbox

    root = tmp_path_factory.mktemp("hostile")
    data = root / "nest" / "forge"
    data.mkdir(parents=True)
    seed(data, cache_dir=seed_cache)
    before = _listing(root, data)
    sb = start_sandbox(data)
    yield sb, root, before
    sb.stop()


@pytest.mark.parametrize("name", [r.name for r in ROWS])
def test_hostile_request(hostile_sandbox, name: str):
    sandbox, root, _ = hostile_sandbox
    row = _rows(sandbox)[name]
    status, body, elapsed = exchange(sandbox.port, row.raw)
    assert status == row.status, f"{row.name}: answered {status}: {body[:300]!r}"
    assert elapsed < 5, f"{row.name}: took {elapsed:.1f} s"
    assert str(root).encode() not in body, f"{row.name}: the answer names the data folder"
    if status is not None and status >= 400 and not row.git:
        answer = json.loads(body)
        assert isinstance(answer.get("message"), str) and answer["message"], answer
        assert answer.get("documentation_url", "").startswith("https://docs.github.com/"), answer
        if status == 422:
            assert isinstance(answer.get("errors"), list) and answer["errors"], answer


def test_nothing_written_outside_the_data_folder(hostile_sandbox):
    sandbox, root, before = hostile_sandbox
    for row in _rows(sandbox).values():  # every row again, whatever order the others ran in
        exchange(sandbox.port, row.raw)
    assert _listing(root, sandbox.data_dir) == before
    assert not list(root.rglob("*evil*")) and not list(root.parent.glob("*evil*"))
    status, _, _ = exchange(sandbox.port, request("GET", REPO))
    assert status == 200


def test_a_stalled_body_closes_after_the_body_timeout(sandbox):
    sandbox.body_timeout = 0.5
    raw = request("POST", "/api/v3/rate_limit", length="100", raw_body=b'{"a"')
    status, _, elapsed = exchange(sandbox.port, raw, timeout=10)
    assert status is CLOSED and elapsed < 5


def test_parser_errors_do_not_stop_the_server(sandbox):
    for raw in (b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"):
        status, _, _ = exchange(sandbox.port, raw)
        assert status in (CLOSED, 400, 431)
    status, _, _ = exchange(sandbox.port, request("GET", "/api/v3/rate_limit"))
    assert status == 200
