"""The customer PPC rollout and the notifications, under the real engine, through `release`.

One weekly release on the sandbox, promoted with the command line as oncall would, with the
stacks' webhook pointing at a local HTTP receiver: staging is cut and held by its gate, then
merged; production is refused before the minimum soak and on a freeze date, held by its
gate, then merged, and its PPC rollout (one resource per wave) runs in the same `up` (globex
in wave 2 told to fail, so wave 3 never starts); after the fix `up` continues without
re-running wave 1 nor updating wave 2's other PPC again, and an unchanged release re-runs
nothing. The webhook URL is in no output, state file or log.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from release.cli import app
from release.cli.common import GATE_WAIT_EXIT_CODE
from release.ppc_status import read_ppc_state
from release.rules import clock
from tests.e2e.harness import changes
from tests.e2e.train import RELEASE_DATE, Train

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"
WAVES = [["acme-internal"], ["globex", "initech"], ["hooli", "soylent", "umbrella"]]


class Receiver:
    """A Slack-style incoming webhook on 127.0.0.1 that keeps every message it is sent."""

    def __init__(self) -> None:
        self.secret_path = f"/services/T0RELEASE/B0TRAIN/{secrets.token_hex(16)}"
        self.messages: list[dict[str, Any]] = []
        received = self.messages
        expected = self.secret_path

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != expected:
                    self.send_response(404)
                else:
                    received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:  # the path is the secret
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.secret_path}"

    def events(self) -> list[str]:
        return [m["blocks"][-1]["elements"][0]["text"].split("· ")[-1] for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def train(harness, seeded_sandbox, monkeypatch):
    train = Train.for_cli(harness, seeded_sandbox, monkeypatch)
    return train


class Cli:
    """`python -m release ...` in this process, every output kept for the leak check."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.outputs: list[str] = []

    def __call__(self, *args: str, today: str = RELEASE_DATE) -> tuple[int, str]:
        day = dt.date.fromisoformat(today)
        self.monkeypatch.setattr(clock, "today", lambda: day)
        result = CliRunner().invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.outputs.append(result.output)
        return result.exit_code, result.output


def flat(text: str) -> str:
    """The text with each run of whitespace as one space (the console wraps long lines)."""
    return " ".join(text.split())


def ppc_state(train: Train) -> Path:
    return train.project.directory / ".state" / "ppcs"


def test_ppc_waves_notifications_and_a_secret_webhook(train, receiver, monkeypatch):
    cli = Cli(monkeypatch)
    for env in ("staging", "production"):
        train.stack(env).set_config(
            "release-train:notifyWebhook", auto.ConfigValue(receiver.url, secret=True)
        )

    # testing, then staging: cut, held by the gate (cut + blocked), then merged.
    assert cli("promote", "testing")[0] == 0
    code, out = cli("promote", "staging", "--date", RELEASE_DATE)
    assert code == GATE_WAIT_EXIT_CODE and "needs 1 more approval" in flat(out)
    assert receiver.events() == ["cut", "blocked"]
    assert RELEASE in receiver.messages[0]["text"]
    assert "needs 1 more approval" in json.dumps(receiver.messages[1])
    train.approve("staging")
    assert cli("promote", "staging", "--date", RELEASE_DATE)[0] == 0
    assert receiver.events()[2:] == ["merged"]

    # production: refused a day after the cut (minimum soak 4 days), and on a freeze date.
    code, out = cli("promote", "production", today="2026-11-27")
    assert code == 1 and "[soak]" in flat(out) and "the minimum is 4" in flat(out)
    assert "--force" in out
    production = train.stack("production")
    production.set_config(
        "release-train:freezes[0].date", auto.ConfigValue("2026-12-01"), path=True
    )
    production.set_config(
        "release-train:freezes[0].reason", auto.ConfigValue("incident 42 review"), path=True
    )
    code, out = cli("promote", "production", today="2026-12-01")
    assert code == 1 and "2026-12-01 is a release freeze: incident 42 review" in flat(out)
    assert receiver.events()[3:] == ["blocked", "blocked"]
    assert not list(train.repo().get_pulls(state="open", base="production"))  # refused early

    # Forced past the freeze: held by production's gate; no PPC starts before the merge.
    ppc_state(train).mkdir(parents=True, exist_ok=True)
    (ppc_state(train) / "fail").write_text("globex\n")
    code, out = cli("promote", "production", "--force", "--reason", "drill", today="2026-12-01")
    assert code == GATE_WAIT_EXIT_CODE and "needs 1 more approval" in flat(out)
    assert read_ppc_state(ppc_state(train)) == {}
    assert receiver.events()[5:] == ["blocked"]

    # Approved: merged, the smoke test and wave 1 run, globex fails wave 2, wave 3 never starts.
    train.approve("production")
    code, out = cli("promote", "production", "--force", "--reason", "drill", today="2026-12-01")
    assert code == 1 and "PPC globex" in flat(out)
    assert receiver.events()[6:] == [
        "merged",
        "ppc_wave_started",
        "ppc_wave_started",
        "ppc_wave_failed",
        "ppc_wave_done",
    ]
    failure = json.dumps(receiver.messages[-2])
    assert "wave 2" in failure and "globex" in failure and RELEASE in failure
    merged = train.repo().get_branch("production").commit
    assert len(merged.parents) == 2  # production holds the release's merge commit
    state = read_ppc_state(ppc_state(train))
    head = train.outputs("staging")["releaseHead"]
    assert state["acme-internal"].release == RELEASE and state["acme-internal"].commit == head
    assert "globex" not in state and state["initech"].commit == head  # its wave ran on
    assert not {"hooli", "soylent", "umbrella"} & set(state)

    code, out = cli("ppc", "status", "--json")
    report = json.loads(out)
    rows = {row["name"]: row for row in report["ppcs"]}
    assert report["release"] == RELEASE and report["commit"] == head
    assert [[n for n in rows if rows[n]["wave"] == w] for w in (1, 2, 3)] == WAVES
    assert rows["acme-internal"]["status"] == "current" and not rows["acme-internal"]["lags"]
    assert rows["globex"]["status"] == "FAILED" and rows["globex"]["lags"]
    assert "fail lists this PPC" in rows["globex"]["detail"]
    assert RELEASE in rows["globex"]["detail"]
    assert rows["hooli"]["status"] == "never deployed"  # wave 3 never started: not failed
    assert all(rows[n]["lags"] for n in ("hooli", "soylent", "umbrella"))
    code, out = cli("status")
    assert code == 0 and "PPCs (production):" in out and "lagging: globex" in flat(out)

    # The failure removed: `up` continues where it stopped, wave 1 is not run again.
    (ppc_state(train) / "fail").unlink()
    ops: dict[str, str] = {}

    def record(event: auto.EngineEvent) -> None:
        if event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            ops[meta.urn.rsplit("::", 1)[-1]] = str(getattr(meta.op, "value", meta.op))

    train.stack("production").up(on_output=train.harness_log, on_event=record)
    assert ops["ppc-wave-1"] == "same" and ops["verify"] == "same"
    assert ops["merge"] == "same"
    assert ops["ppc-wave-2"] == "create" and ops["ppc-wave-3"] == "create"
    after = read_ppc_state(ppc_state(train))
    assert after["acme-internal"] == state["acme-internal"]
    assert after["initech"] == state["initech"]  # wave 2's other PPC: not updated again
    assert {rec.release for rec in after.values()} == {RELEASE} and len(after) == 6
    updates = (ppc_state(train) / "updates.log").read_text().split()
    assert sorted(updates[1::4]) == sorted(n for wave in WAVES for n in wave)  # each once
    outcomes = json.loads(train.outputs("production")["rollout"]["ppcs"]["outcomes"])
    assert sorted(outcomes) == sorted(n for wave in WAVES for n in wave)
    assert outcomes["hooli"]["wave"] == 3 and outcomes["hooli"]["ok"]
    code, out = cli("ppc", "status", "--json")
    assert not [row for row in json.loads(out)["ppcs"] if row["lags"]]

    # An unchanged release re-runs no PPC and writes nothing to the forge.
    train.sandbox.reset_counters()
    idle = train.stack("production").up(on_output=train.harness_log)
    assert changes(idle.summary.resource_changes) == {}
    assert read_ppc_state(ppc_state(train)) == after
    assert train.sandbox.writes() == 0

    # The webhook URL is nowhere: outputs, state files, the command's and engine's logs.
    secret = receiver.secret_path.rsplit("/", 1)[-1]
    texts = {
        "outputs": json.dumps([train.outputs(env) for env in ("staging", "production")]),
        "state files": train.harness.state_files_text(),
        "command output": "\n".join(cli.outputs),
        "engine log": train.transcript(),
        "ppc state": "\n".join(p.read_text() for p in ppc_state(train).iterdir() if p.is_file()),
        "stack files": "\n".join(
            p.read_text() for p in train.project.directory.glob("Pulumi.*.yaml")
        ),
    }
    for where, text in texts.items():
        assert secret not in text, f"the webhook URL leaked into the {where}"
    assert len(receiver.messages) == 11
    # A no-op re-run through the command line posts nothing again (no second "merged").
    code, out = cli("promote", "production", "--force", "--reason", "drill", today="2026-12-01")
    assert code == 0, out
    assert len(receiver.messages) == 11
