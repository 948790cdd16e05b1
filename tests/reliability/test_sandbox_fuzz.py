"""A bounded fuzz of the sandbox forge's request parser and endpoints, on 127.0.0.1 only.

Real requests against a seeded sandbox (reads and writes through every kind of endpoint) are
mutated at random: the request line (method, target, version), the headers (credentials,
Content-Length, Transfer-Encoding, size and number), the JSON body (types, lengths, NUL and
control characters, nesting, traversal names) and the raw bytes; some cases are pure garbage.
Each case goes over its own connection, which is half-closed once the request is sent.

Asserted for every case: an answer that is not 5xx, or a prompt close (no hang); every 100
cases and at the end, the forge still serves; at the end, no file appeared outside the data
folder and the server logged no failure. The run is bounded by a case count and a time budget
(SANDBOX_FUZZ_CASES, SANDBOX_FUZZ_SECONDS) and reproducible (SANDBOX_FUZZ_SEED); it prints its
case count in the reliability figures.
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REVIEWER_TOKEN, TOKEN, start_sandbox
from tests.reliability.summary import report

pytestmark = pytest.mark.slow

CASES = int(os.environ.get("SANDBOX_FUZZ_CASES", "2000"))
BUDGET_SECONDS = float(os.environ.get("SANDBOX_FUZZ_SECONDS", "90"))
SEED = int(os.environ.get("SANDBOX_FUZZ_SEED", "20261129"))
REPLY_TIMEOUT = 15.0  # an answer or a close must come within this (the body timeout is 10 s)
PROMPT_CLOSE = 5.0  # a request the forge will not answer is closed within this
CANARY = "fuzzcanary"
REPO = "/api/v3/repos/acme/service"

NASTY_STRINGS = [
    "",
    "../" * 6 + CANARY,
    f"..\\..\\{CANARY}",
    f"%2e%2e/{CANARY}",
    f"/{CANARY}",
    f".git/{CANARY}",
    "a\x00b",
    "line\nbreak\r\n",
    "\x01\x02\x7f",
    "ü" * 300,
    "\ud800",
    "<script>@everyone</script>",
    "-" + "-output=/tmp/" + CANARY,
    "$(touch " + CANARY + ")",
    "refs/heads/../../" + CANARY,
    "x" * 70_000,
    "A" * 300,
    "0" * 40,
]
NASTY_SEGMENTS = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2e%2F%2e%2e",
    "%00",
    "%0a",
    "%ff%fe",
    "ü",
    "",
    "x" * 5000,
    CANARY,
    ".git",
    "%",
    "%zz",
    "..;",
    "*",
]


def templates(tip: str, tree: str) -> list[tuple[str, str, Any, str]]:
    """(method, target, JSON body or None, token) of real requests against the seed."""
    blob = {"path": "fuzz/x.txt", "mode": "100644", "type": "blob", "content": "x\n"}
    return [
        ("GET", REPO, None, TOKEN),
        ("GET", f"{REPO}/branches/master", None, TOKEN),
        ("GET", f"{REPO}/branches?per_page=2&page=2", None, TOKEN),
        ("GET", f"{REPO}/contents/Gopkg.lock?ref=master", None, TOKEN),
        ("GET", f"{REPO}/contents/app?ref=master", None, TOKEN),
        ("GET", f"{REPO}/commits?sha=master&per_page=5&path=Gopkg.lock", None, TOKEN),
        ("GET", f"{REPO}/commits/{tip}", None, TOKEN),
        ("GET", f"{REPO}/compare/production...master?per_page=3", None, TOKEN),
        ("GET", f"{REPO}/git/trees/master?recursive=1", None, TOKEN),
        ("GET", f"{REPO}/git/ref/heads/master", None, TOKEN),
        ("GET", f"{REPO}/git/matching-refs/heads/release/", None, TOKEN),
        ("GET", f"{REPO}/pulls?state=all&per_page=3", None, TOKEN),
        ("GET", f"{REPO}/pulls/1", None, TOKEN),
        ("GET", f"{REPO}/commits/{tip}/status", None, TOKEN),
        ("GET", f"{REPO}/commits/{tip}/check-runs?filter=all", None, TOKEN),
        ("GET", f"{REPO}/actions/workflows", None, TOKEN),
        ("GET", "/api/v3/users/release-bot", None, TOKEN),
        ("GET", "/api/v3/rate_limit", None, TOKEN),
        ("GET", "/acme/service.git/info/refs?service=git-upload-pack", None, TOKEN),
        (
            "POST",
            f"{REPO}/statuses/{tip}",
            {"state": "success", "context": "fuzz", "description": "d"},
            TOKEN,
        ),
        ("POST", f"{REPO}/git/blobs", {"content": "eA==", "encoding": "base64"}, TOKEN),
        ("POST", f"{REPO}/git/trees", {"base_tree": tree, "tree": [blob]}, TOKEN),
        (
            "POST",
            f"{REPO}/git/commits",
            {
                "message": "fuzz",
                "tree": tree,
                "parents": [tip],
                "author": {"name": "F", "email": "f@x", "date": "2026-01-01T00:00:00Z"},
            },
            TOKEN,
        ),
        ("POST", f"{REPO}/git/refs", {"ref": "refs/heads/fuzz/new", "sha": tip}, TOKEN),
        ("PATCH", f"{REPO}/git/refs/heads/fuzz/base", {"sha": tip, "force": True}, TOKEN),
        ("DELETE", f"{REPO}/git/refs/heads/fuzz/gone", None, TOKEN),
        (
            "POST",
            f"{REPO}/check-runs",
            {
                "name": "fuzz",
                "head_sha": tip,
                "status": "completed",
                "conclusion": "success",
                "output": {"title": "t", "summary": "s", "text": "x"},
            },
            TOKEN,
        ),
        (
            "POST",
            f"{REPO}/pulls",
            {"title": "Fuzz", "head": "fuzz/base", "base": "staging", "body": "b", "draft": False},
            TOKEN,
        ),
        ("PATCH", f"{REPO}/pulls/1", {"body": "fuzzed body"}, TOKEN),
        ("POST", f"{REPO}/issues/1/comments", {"body": "fuzz"}, TOKEN),
        ("POST", f"{REPO}/pulls/1/reviews", {"event": "COMMENT", "body": "fuzz"}, REVIEWER_TOKEN),
        ("POST", f"{REPO}/pulls/1/requested_reviewers", {"reviewers": ["oncall-partner"]}, TOKEN),
        ("POST", f"{REPO}/merges", {"base": "fuzz/base", "head": "master"}, TOKEN),
        (
            "POST",
            f"{REPO}/dispatches",
            {"event_type": "fuzz", "client_payload": {"env": "staging"}},
            TOKEN,
        ),
        (
            "POST",
            f"{REPO}/actions/workflows/update-ppc.yml/dispatches",
            {"ref": "master", "inputs": {"ppc": "acme-eu"}},
            TOKEN,
        ),
    ]


# -- mutators -----------------------------------------------------------------------------
def _any_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(10 if depth < 3 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**63, 10**30, 7])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e308])
    if kind in (4, 5, 6):
        return rng.choice(NASTY_STRINGS)
    if kind == 7:
        return [_any_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 8:
        return {rng.choice(NASTY_STRINGS[:8]): _any_json(rng, depth + 1)}
    nest: Any = []
    for _ in range(rng.choice([31, 33, 200])):
        nest = [nest]
    return nest


def mutate_json(rng: random.Random, body: Any) -> Any:
    """Replace, drop or add one value somewhere in `body`."""
    if not isinstance(body, (dict, list)) or not body or rng.random() < 0.15:
        return _any_json(rng)
    body = json.loads(json.dumps(body))
    node = body
    while True:
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return body
        key = rng.choice(keys)
        child = node[key]
        if isinstance(child, (dict, list)) and child and rng.random() < 0.6:
            node = child
            continue
        action = rng.randrange(3)
        if action == 0 and isinstance(node, dict):
            del node[key]
        elif action == 1 and isinstance(node, dict):
            node[rng.choice(NASTY_STRINGS[:10])] = _any_json(rng)
        else:
            node[key] = _any_json(rng)
        return body


def mutate_target(rng: random.Random, target: str) -> str:
    path, _, query = target.partition("?")
    parts = path.split("/")
    action = rng.randrange(6)
    if action == 0:
        parts.insert(rng.randrange(1, len(parts) + 1), rng.choice(NASTY_SEGMENTS))
    elif action == 1:
        parts[rng.randrange(1, len(parts))] = rng.choice(NASTY_SEGMENTS)
    elif action == 2:
        query = (
            f"{query}&{rng.choice(['ref', 'sha', 'path', 'author', 'page', 'per_page', 'since'])}="
        )
        query += rng.choice(
            ["%00", "%0a", "..%2F..%2F" + CANARY, "-1", "99999999999999999999", "("]
        )
    elif action == 3:
        parts.append(rng.choice(NASTY_SEGMENTS))
    elif action == 4:
        return rng.choice(["*", "", "http://[::1/x", "//" + CANARY, "/" * 300, "\t/x"]) + path
    else:
        query = query.replace("=", "=%00", 1) if query else "%%%"
    path = "/".join(parts)
    return f"{path}?{query}" if query else path


def build(rng: random.Random, method: str, target: str, body: Any, token: str) -> tuple[bytes, str]:
    """One mutated request as bytes and the names of the mutations applied."""
    applied = []
    version = "HTTP/1.1"
    if rng.random() < 0.35:
        target = mutate_target(rng, target)
        applied.append("target")
    if body is not None and rng.random() < 0.6:
        body = mutate_json(rng, body)
        applied.append("json")
    if rng.random() < 0.1:
        method = rng.choice(["get", "BREW", "OPTIONS", "HEAD", "PUT", "G\x00T", "X" * 300, ""])
        applied.append("method")
    if rng.random() < 0.08:
        version = rng.choice(["HTTP/1.0", "HTTP/2.0", "HTTP/1.1.1", "HTTPS/1.1", "", "HTTP/x"])
        applied.append("version")
    data = b"" if body is None else json.dumps(body).encode()
    if rng.random() < 0.05:
        data = rng.choice([b"{", b"[1,", b"\xff\xfe", b"null", b'"x"', b"{}" * 5, b'{"a":1}x'])
        applied.append("raw-body")
    headers = [("Host", "127.0.0.1"), ("User-Agent", "sandbox-fuzz")]
    if ".git/" in target:  # git's smart HTTP authenticates with Basic, the API with a token
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        headers.append(("Authorization", f"Basic {basic}"))
    else:
        headers.append(("Authorization", f"token {token}"))
    framing = "length"
    if rng.random() < 0.3:
        applied.append("headers")
        action = rng.randrange(12)
        if action == 0:
            headers = [h for h in headers if h[0] != "Authorization"]
        elif action == 1:
            headers.append(
                ("Authorization", rng.choice(["token", "Basic ###", "Bearer " + "x" * 5000]))
            )
        elif action == 2:
            framing = rng.choice(["-1", "abc", str(10**12), "", " 5", "1e3", str(len(data) + 50)])
        elif action == 3:
            framing = str(max(0, len(data) - rng.randrange(1, 5)))
        elif action == 4:
            framing = "chunked"
        elif action == 5:
            framing = "bad-chunked"
        elif action == 6:
            headers.append(("Content-Length", str(len(data) + 1)))
        elif action == 7:
            headers.append(("X-Big", "y" * rng.choice([100, 70_000])))
        elif action == 8:
            headers += [(f"X-{i}", "v") for i in range(rng.choice([50, 150]))]
        elif action == 9:
            headers.append(("Transfer-Encoding", rng.choice(["gzip", "chunked, gzip", "identity"])))
        elif action == 10:
            headers.append(("Expect", "100-continue"))
        else:
            headers.append(("Connection", rng.choice(["close", "keep-alive", "\x00"])))
    line = f"{method} {target} {version}".rstrip() if version else f"{method} {target}"
    head = line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if framing == "chunked":
        head += "Transfer-Encoding: chunked\r\n"
        cut = len(data) // 2
        payload = b""
        for piece in (data[:cut], data[cut:]):
            if piece:
                payload += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        payload += b"0\r\n\r\n"
    elif framing == "bad-chunked":
        head += "Transfer-Encoding: chunked\r\n"
        payload = rng.choice([b"zz\r\n", b"fffffffffffffff\r\nx", b"5\r\nab", b"2\r\n{}XX"])
    elif framing == "length":
        if data or method.upper() in ("POST", "PATCH", "PUT"):
            head += f"Content-Length: {len(data)}\r\n"
        payload = data
    else:
        head += f"Content-Length: {framing}\r\n"
        payload = data
    raw = head.encode("utf-8", "surrogateescape") + b"\r\n" + payload
    if rng.random() < 0.1:
        raw = bytearray(raw)
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(raw))
            op = rng.randrange(3)
            if op == 0:
                raw[i] = rng.randrange(256)
            elif op == 1:
                raw.insert(i, rng.randrange(256))
            elif len(raw) > 1:
                del raw[i]
        raw = bytes(raw)
        applied.append("bytes")
    if rng.random() < 0.03:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        applied = ["garbage"]
    return raw, "+".join(applied) or "none"


# -- one exchange -------------------------------------------------------------------------
def exchange(port: int, raw: bytes) -> tuple[str, int | None, bytes]:
    """("answered", status, head) | ("closed", None, b"") | ("hang", None, partial)."""
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before taking the whole request
        data = b""
        deadline = time.monotonic() + REPLY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                piece = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                break
            except TimeoutError:
                return "hang", None, data[:200]
            if not piece:
                break
            data += piece
            while data.startswith(b"HTTP/1.1 100 "):  # an interim answer to Expect: 100-continue
                interim, sep, rest = data.partition(b"\r\n\r\n")
                if not sep:
                    break
                data = rest
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                lengths = [
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if lengths and len(body) >= int(lengths[0]):
                    break
        else:
            return "hang", None, data[:200]
    if not data:
        return "closed", None, b""
    first = data.split(b"\r\n", 1)[0].split()
    if len(first) < 2 or not first[0].startswith(b"HTTP/1.") or not first[1].isdigit():
        return "garbled", None, data[:200]
    return "answered", int(first[1]), data[:300]


def _listing(root: Path, skip: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if skip not in p.parents and p != skip}


def _still_serves(port: int) -> bool:
    raw = f"GET {REPO} HTTP/1.1\r\nHost: x\r\nAuthorization: token {TOKEN}\r\n\r\n".encode()
    outcome, status, _ = exchange(port, raw)
    return outcome == "answered" and status == 200


def test_fuzzed_requests_never_break_the_sandbox(tmp_path, seed_cache, capfd):
    from sandbox.seed import seed

    data = tmp_path / "nest" / "forge"
    data.mkdir(parents=True)
    seed(data, cache_dir=seed_cache)
    bare = data / "repos" / "acme" / "service.git"

    def rev(spec: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(bare), "rev-parse", spec],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    tip, tree = rev("master"), rev("master^{tree}")
    subprocess.run(
        ["git", "--git-dir", str(bare), "update-ref", "refs/heads/fuzz/base", rev("master~3")],
        check=True,
    )
    before = _listing(tmp_path, data)
    sandbox = start_sandbox(data)
    rng = random.Random(SEED)
    cases = templates(tip, tree)
    outcomes: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    slowest = 0.0
    started = time.monotonic()
    n = 0
    try:
        while n < CASES and time.monotonic() - started < BUDGET_SECONDS:
            method, target, body, token = rng.choice(cases)
            raw, applied = build(rng, method, target, body, token)
            sent = time.monotonic()
            outcome, status, head = exchange(sandbox.port, raw)
            took = time.monotonic() - sent
            slowest = max(slowest, took)
            n += 1
            if outcome == "closed" and took > PROMPT_CLOSE:
                failures.append(f"case {n} ({applied}): closed after {took:.1f} s: {raw[:160]!r}")
            outcomes[outcome] += 1
            if status is not None:
                statuses[status // 100 * 100] += 1
            if outcome in ("hang", "garbled") or (status is not None and status >= 500):
                failures.append(
                    f"case {n} ({applied}): {outcome} {status}: sent {raw[:160]!r}, got {head!r}"
                )
            if n % 100 == 0 and not _still_serves(sandbox.port):
                failures.append(f"after case {n}: the forge no longer answers a plain GET")
                break
        serving = _still_serves(sandbox.port)
    finally:
        sandbox.stop()
    elapsed = time.monotonic() - started
    answered = ", ".join(
        f"{k}xx {v}" for k, v in sorted((s // 100, c) for s, c in statuses.items())
    )
    report(
        f"sandbox fuzz: {n} requests in {elapsed:.1f} s (seed {SEED}): "
        f"{outcomes['answered']} answered ({answered}), {outcomes['closed']} closed without "
        f"an answer, {outcomes['hang']} hung, slowest {slowest:.2f} s, {len(failures)} failures"
    )
    log = capfd.readouterr().err
    assert not failures, (
        f"{len(failures)} of {n} cases broke the sandbox:\n"
        + "\n".join(failures[:20])
        + f"\nserver log:\n{log[-4000:]}"
    )
    assert serving, "the forge stopped serving"
    assert n >= min(CASES, 200), f"only {n} cases ran in {BUDGET_SECONDS} s"
    assert "Traceback" not in log, f"the server logged a failure:\n{log[-3000:]}"
    assert _listing(tmp_path, data) == before, "files appeared outside the data folder"
    assert not list(tmp_path.parent.glob(f"*{CANARY}*"))
    assert not list(tmp_path.rglob(f"*{CANARY}*")), "a fuzzed name reached the disk"
    assert not (Path.cwd() / CANARY).exists(), "a fuzzed command ran"
