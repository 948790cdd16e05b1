"""Notifications against a real HTTP receiver on 127.0.0.1: the body posted, the retry on a
5xx, and that the webhook URL (a secret) never reaches the logs."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from release import notify as notify_module
from release.notify import EVENTS, build_payload, format_message, notify
from release.rules.text import slack

SECRET_PATH = "/services/T0SECRET/B0SECRET/XXXXsecretXXXXtokenXXXX"


class Receiver:
    """An incoming-webhook stand-in: records each POST and answers from a script of statuses."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list = []  # a status, or (status, headers)
        self.times: list[float] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type"),
                            "body": json.loads(raw),
                        }
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.times.append(time.monotonic())
                status, extra = status if isinstance(status, tuple) else (status, {})
                reply = b"ok" if status == 200 else b"no_service"
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{SECRET_PATH}"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(notify_module, "BACKOFF", 0.01)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_posts_the_message_as_json(receiver):
    fields = {"release": "release/2024-05-02", "environment": "staging", "pr": "#12"}
    assert notify(receiver.url, "cut", "Release release/2024-05-02 cut", fields) is True
    [request] = receiver.requests
    assert request["path"] == SECRET_PATH
    assert request["content_type"] == "application/json"
    body = request["body"]
    assert body["text"] == "Release release/2024-05-02 cut"
    header, field_block, context = body["blocks"]
    assert header == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": ":scissors: Release release/2024-05-02 cut",
            "verbatim": True,
        },
    }
    assert [f["text"] for f in field_block["fields"]] == [
        "*release*\nrelease/2024-05-02",
        "*environment*\nstaging",
        "*pr*\n#12",
    ]
    assert context["elements"][0]["text"].endswith("cut")


def test_retries_after_a_500_and_then_delivers(receiver, caplog):
    receiver.statuses = [500, 503]
    with caplog.at_level(logging.WARNING, logger="release.notify"):
        assert notify(receiver.url, "merged", "Release merged") is True
    assert len(receiver.requests) == 3
    assert all(r["body"]["text"] == "Release merged" for r in receiver.requests)
    assert caplog.records == []


def test_gives_up_after_three_500s_without_raising_or_logging_the_url(receiver, caplog):
    receiver.statuses = [500, 500, 500, 500]
    with caplog.at_level(logging.DEBUG):
        assert notify(receiver.url, "blocked", "Release blocked") is False
    assert len(receiver.requests) == 3
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert "HTTP 500" in message and "'blocked'" in message
    assert_no_secret(caplog.text, receiver.url)


def test_a_4xx_is_not_retried(receiver, caplog):
    receiver.statuses = [404]
    with caplog.at_level(logging.WARNING):
        assert notify(receiver.url, "rolled_back", "staging rolled back") is False
    assert len(receiver.requests) == 1
    assert "HTTP 404 (no_service)" in caplog.text
    assert_no_secret(caplog.text, receiver.url)


def test_unreachable_webhook_is_a_warning_not_an_exception(caplog):
    # A port that was free a moment ago: nothing listens there, the connection is refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{SECRET_PATH}"
    with caplog.at_level(logging.DEBUG):
        assert notify(url, "ppc_wave_failed", "wave 2 failed", timeout=1.0) is False
    assert "connection failed" in caplog.text
    assert "3 attempt(s)" in caplog.text
    assert_no_secret(caplog.text, url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.invalid" + SECRET_PATH,
        "hooks.invalid" + SECRET_PATH,
        "http://[::1" + SECRET_PATH,
        "http://127.0.0.1:notaport" + SECRET_PATH,
    ],
)
def test_malformed_urls_never_leak_into_logs(url, caplog):
    with caplog.at_level(logging.DEBUG):
        assert notify(url, "merged", "Release merged") is False
    assert "not" in caplog.text
    assert_no_secret(caplog.text, url)


def test_unknown_event_is_refused_quietly_by_notify_and_loudly_by_the_pure_functions(
    receiver, caplog
):
    with caplog.at_level(logging.WARNING):
        assert notify(receiver.url, "deployed", "x") is False
    assert "unknown notification event 'deployed'" in caplog.text
    assert receiver.requests == []
    with pytest.raises(ValueError, match="expected one of cut, merged"):
        format_message("deployed", "release/2024-05-02", "staging", "")


def test_format_message_for_every_event():
    for event in EVENTS:
        message = format_message(event, "release/2024-05-02", "production", "wave 2: acme-eu")
        assert "release/2024-05-02" in message["text"]
        assert "production" in message["text"]
        fields = message["blocks"][1]["fields"]
        assert fields[-1]["text"] == "*detail*\nwave 2: acme-eu"
    rolled = format_message("rolled_back", "release/2024-04-25", "production", "")
    assert rolled["text"] == "production rolled back to release/2024-04-25"
    assert [f["text"] for f in rolled["blocks"][1]["fields"]] == [
        "*release*\nrelease/2024-04-25",
        "*environment*\nproduction",
    ]


def test_payload_escapes_slack_control_characters_and_respects_limits():
    fields = {f"k{i}": "v" * 3000 for i in range(12)}
    payload = build_payload("blocked", "check <ci/test> & approval missing", fields)
    assert payload["blocks"][0]["text"]["text"] == (
        ":no_entry: check &lt;ci/test&gt; &amp; approval missing"
    )
    shown = payload["blocks"][1]["fields"]
    assert len(shown) == 10
    assert all(len(f["text"]) <= 2000 for f in shown)
    assert shown[-1]["text"] == "*more*\nk9, k10, k11"


def assert_no_secret(text: str, url: str) -> None:
    assert url not in text
    assert "XXXXsecretXXXXtokenXXXX" not in text
    assert SECRET_PATH not in text


# --- Retry-After, the message's fields, the events of a run ------------------------------


def test_a_429_waits_for_its_retry_after_within_the_cap(receiver, monkeypatch):
    monkeypatch.setattr(notify_module, "RETRY_AFTER_CAP", 0.6)
    receiver.statuses = [(429, {"Retry-After": "0.4"}), (429, {"Retry-After": "3600"})]
    assert notify(receiver.url, "merged", "Release merged") is True
    first, second, third = receiver.times
    assert second - first >= 0.35  # the 0.4 s asked for, not the 0.01 s backoff
    assert 0.55 <= third - second < 3  # an hour asked for, capped at 0.6 s
    assert notify_module.retry_after("soon") is None
    assert notify_module.retry_after("-1") is None
    assert notify_module.retry_after("2", cap=1.0) == 1.0


def test_the_message_carries_the_pr_who_and_what_next_escaped():
    event = notify_module.Event(
        "merged",
        "release/2026-11-26",
        "production",
        "merge commit abc",
        pr_url="https://forge.example/acme/app/pull/7",
        actor="ana<!channel>",
        next_step="promote `staging` on Thursday",
    )
    fields = [f["text"] for f in event.message()["blocks"][1]["fields"]]
    assert fields == [
        "*release*\nrelease/2026-11-26",
        "*environment*\nproduction",
        "*pull request*\nhttps://forge.example/acme/app/pull/7",
        "*by*\nana&lt;!channel&gt;",
        "*detail*\nmerge commit abc",
        "*next*\n" + slack("promote `staging` on Thursday"),
    ]


def promoted(release: str = "release/2026-11-26", commit: str = "a" * 40) -> dict:
    """The train's resources in the state (name -> outputs) once `release` merged."""
    return {
        "release-branch": {"branch": release},
        "pull-request": {"head": release, "url": "https://forge.example/acme/app/pull/7"},
        "merge": {"merged": True, "merge_commit": commit},
    }


PROMOTED = promoted()


def run(command: str = "promote", ok: bool = True, **kw) -> notify_module.Run:
    return notify_module.Run(command=command, ok=ok, actor="ana", **kw)


def kinds(before: dict, after: dict, r: notify_module.Run) -> list[str]:
    return [e.kind for e in notify_module.run_events("staging", before, after, r)]


def test_run_events_merged_once_per_merge_commit():
    [event] = notify_module.run_events("staging", {}, PROMOTED, run())
    assert (event.kind, event.release, event.actor) == ("merged", "release/2026-11-26", "ana")
    assert event.pr_url.endswith("/pull/7") and event.detail == "merge commit " + "a" * 12
    assert kinds(PROMOTED, PROMOTED, run()) == []  # a no-op re-run
    nxt = promoted("release/2026-12-03", "b" * 40)  # the merge resource replaced
    assert kinds(PROMOTED, nxt, run(cuts=True)) == ["cut", "merged"]
    assert kinds(PROMOTED, nxt, run()) == ["merged"]  # production cuts nothing
    held = {**nxt, "merge": {"merged": False, "merge_commit": None}}
    assert kinds(PROMOTED, held, run(cuts=True)) == ["cut"]
    assert kinds(PROMOTED, PROMOTED, run(ok=False)) == []  # a failure with nothing to say
    assert kinds(PROMOTED, nxt, run(ok=False)) == ["merged"]  # merged, then a later step failed
    assert kinds(nxt, nxt, run()) == []  # the run that continues it


def test_run_events_rollback_abandon_and_block():
    rolled = {
        **PROMOTED,
        "rollback-commit": {"to_release": "release/2026-11-19", "from_release": "release/2026"},
        "rollback-pull-request": {"url": "https://forge.example/acme/app/pull/9"},
        "rollback-merge": {"merged": True, "merge_commit": "c" * 40},
    }
    [event] = notify_module.run_events("staging", PROMOTED, rolled, run("rollback"))
    assert (event.kind, event.release) == ("rolled_back", "release/2026-11-19")
    assert event.pr_url.endswith("/pull/9") and event.actor == "ana"
    assert kinds(rolled, rolled, run()) == []  # posted once, not again by the next promote
    back = promoted("release/2026-11-19", "9" * 40)  # the merge of the release before, again
    assert kinds(PROMOTED, back, run("abandon", reason="bad")) == ["abandoned"]
    blocked = run(ok=False, blocked=("Exception: checks pending. Run up again.",))
    [event] = notify_module.run_events("staging", PROMOTED, {}, blocked)
    assert event.kind == "blocked"
    assert event.detail == "checks pending. run `release promote staging` again."
    assert "release promote staging" in event.next_step


WAITING = ["check ci/build is pending", "needs 1 more approval(s) of 333333333333 from dana"]


def test_run_events_a_merge_held_at_its_gate_is_blocked_not_merged():
    # The up succeeded and merged nothing: the merge records gate_state "waiting", its reasons
    # and no merge commit (release.providers.merge).
    cut = promoted("release/2026-12-03")
    cut["merge"] = {
        "number": 8,
        "merged": False,
        "merge_commit": None,
        "gate_state": "waiting",
        "waiting": WAITING,
    }
    events = notify_module.run_events("staging", PROMOTED, cut, run(cuts=True))
    assert [e.kind for e in events] == ["cut", "blocked"]
    held = events[1]
    assert (held.release, held.environment, held.actor) == ("release/2026-12-03", "staging", "ana")
    assert held.pr_url.endswith("/pull/7")
    assert held.detail == (
        "pull request #8 waits at the merge gate: check ci/build is pending; "
        "needs 1 more approval(s) of 333333333333 from dana"
    )
    assert "`release promote staging` again" in held.next_step
    assert kinds(cut, cut, run()) == ["blocked"]  # a re-run still held: blocked again
    assert kinds(cut, cut, run("abandon", reason="bad")) == ["abandoned"]
    merged = {**cut, "merge": {"number": 8, "merged": True, "merge_commit": "d" * 40}}
    merged["merge"]["gate_state"] = "merged"
    assert kinds(cut, merged, run()) == ["merged"]  # approved: merged, never blocked


def test_run_events_a_rollback_held_at_its_gate_is_blocked_with_its_pull_request():
    held = {
        **PROMOTED,
        "rollback-commit": {"to_release": "release/2026-11-19"},
        "rollback-pull-request": {"url": "https://forge.example/acme/app/pull/9", "number": 9},
        "rollback-merge": {"merged": False, "gate_state": "waiting", "waiting": WAITING[1:]},
    }
    [event] = notify_module.run_events("staging", PROMOTED, held, run("rollback"))
    assert (event.kind, event.release) == ("blocked", "release/2026-11-19")
    assert event.pr_url.endswith("/pull/9")
    assert event.detail == (
        "rollback: pull request #9 waits at the merge gate: "
        "needs 1 more approval(s) of 333333333333 from dana"
    )


def test_run_events_ppc_waves_start_fail_and_complete():
    done = run(ppcs_updated={"acme": 1, "globex": 2, "initech": 2})
    assert kinds(PROMOTED, PROMOTED, done) == [
        "ppc_wave_started",
        "ppc_wave_started",
        "ppc_wave_done",
        "ppc_wave_done",
    ]
    failed = run(ok=False, ppcs_updated={"acme": 1}, ppcs_failed={"globex": (2, "boom")})
    events = notify_module.run_events("production", PROMOTED, {}, failed)
    assert [(e.kind, e.detail.split(":")[0]) for e in events] == [
        ("ppc_wave_started", "wave 1"),
        ("ppc_wave_started", "wave 2"),
        ("ppc_wave_failed", "wave 2"),
        ("ppc_wave_done", "wave 1"),
    ]
    assert "globex: boom" in events[2].detail
