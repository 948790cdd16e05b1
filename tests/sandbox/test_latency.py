"""Added latency (with jitter), requests in flight, and tokens kept out of the command line.

Timing bounds are one-sided where they can be (a delay is at least what was asked) and the
overlap bound leaves a wide margin: four requests at 500 ms take at least 2 s when served one
after another, and are asserted to take under 1.5 s together.
"""

from __future__ import annotations

import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from sandbox import Sandbox
from sandbox.__main__ import main
from sandbox.faults import Latency


def _auth(sandbox) -> dict[str, str]:
    return {"Authorization": f"token {sandbox.token}"}


def _wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_concurrent_requests_overlap_their_latency(sandbox):
    sandbox.set_latency(500)
    sandbox.reset_counters()
    barrier = threading.Barrier(4)

    def one(_: int) -> float:
        with requests.Session() as session:
            barrier.wait(timeout=10)
            started = time.monotonic()
            answer = session.get(f"{sandbox.base_url}/rate_limit", headers=_auth(sandbox))
            assert answer.status_code == 200
            return time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        durations = list(pool.map(one, range(4)))
    together = time.monotonic() - started
    assert min(durations) >= 0.5  # each request was delayed
    assert together < 1.5, f"4 requests at 500 ms took {together:.2f} s: they did not overlap"
    assert sandbox.max_in_flight() == 4
    assert _wait_for(lambda: sandbox.in_flight() == 0)
    sandbox.reset_counters()
    assert sandbox.max_in_flight() == 0


def test_in_flight_counts_a_request_while_it_is_served(sandbox, acme):
    sandbox.inject("GET", "/repos/acme/service", "delay", seconds=1.0)
    sandbox.reset_counters()
    done = threading.Event()

    def slow() -> None:
        requests.get(f"{sandbox.base_url}/repos/acme/service", headers=_auth(sandbox))
        done.set()

    threading.Thread(target=slow, daemon=True).start()
    assert _wait_for(lambda: sandbox.in_flight() == 1, 2.0)
    assert done.wait(10)
    assert _wait_for(lambda: sandbox.in_flight() == 0)
    assert sandbox.max_in_flight() == 1


def test_jitter_spreads_the_delay_around_the_latency():
    latency = Latency(100, 50, rng=random.Random(7))
    samples = [latency.sample() for _ in range(200)]
    assert all(0.05 <= s <= 0.15 for s in samples)
    assert max(samples) - min(samples) > 0.05  # spread, not a constant
    assert abs(sum(samples) / len(samples) - 0.1) < 0.01
    assert Latency(30, 100, rng=random.Random(1)).sample() >= 0  # never negative
    assert Latency().sample() == 0


@pytest.mark.parametrize(("ms", "jitter"), [(-1, 0), (0, -5), (math.nan, 0), (math.inf, 0)])
def test_bad_latency_is_refused_before_anything_is_written(tmp_path, ms, jitter):
    with pytest.raises(ValueError, match="latency|jitter"):
        Sandbox(tmp_path / "forge", tokens={"t": "release-bot"}, latency_ms=ms, jitter_ms=jitter)
    assert not (tmp_path / "forge").exists()


def test_latency_and_in_flight_on_the_control_api(sandbox):
    control = f"{sandbox.url}/_sandbox"
    answer = requests.post(
        f"{control}/latency", json={"ms": 1500, "jitter_ms": 0}, headers=_auth(sandbox)
    )
    assert answer.status_code == 200 and answer.json() == {"ms": 1500.0, "jitter_ms": 0.0}
    started = time.monotonic()
    assert requests.get(f"{control}/latency", headers=_auth(sandbox)).json()["ms"] == 1500.0
    assert time.monotonic() - started < 1.0  # control requests are never delayed
    started = time.monotonic()
    requests.get(f"{sandbox.base_url}/rate_limit", headers=_auth(sandbox))
    assert time.monotonic() - started >= 1.5
    body = requests.get(f"{control}/counters", headers=_auth(sandbox)).json()
    assert body["in_flight"] == {"current": 0, "max": 1}
    assert requests.delete(f"{control}/counters", headers=_auth(sandbox)).status_code == 204
    body = requests.get(f"{control}/counters", headers=_auth(sandbox)).json()
    assert body["in_flight"] == {"current": 0, "max": 0}
    bad = requests.post(f"{control}/latency", json={"ms": -3}, headers=_auth(sandbox))
    assert bad.status_code == 422 and "latency" in bad.json()["message"]
    assert requests.post(f"{control}/latency", json={"ms": 0}, headers=_auth(sandbox)).ok


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_tokens_from_a_file_and_the_environment_with_latency(tmp_path):
    token_file = tmp_path / "tokens"
    token_file.write_text("# the bot\nfile-token\n\noncall-partner:file-partner\n")
    port = _free_port()
    env = dict(
        os.environ, SANDBOX_TOKENS="env-token, qa-bot:env-qa", SANDBOX_READ_ONLY_TOKENS="env-ro"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--data",
            str(tmp_path / "d"),
            "--port",
            str(port),
            "--token-file",
            str(token_file),
            "--latency",
            "300",
            "--jitter",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}/api/v3" in line and "300 ms latency" in line
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"file-token" not in cmdline and b"env-token" not in cmdline

        def who(token: str) -> requests.Response:
            return requests.get(
                f"http://127.0.0.1:{port}/api/v3/user",
                headers={"Authorization": f"token {token}"},
                timeout=10,
            )

        started = time.monotonic()
        assert who("file-token").json()["login"] == "release-bot"
        assert time.monotonic() - started >= 0.3
        assert who("file-partner").json()["login"] == "oncall-partner"
        assert who("env-token").json()["login"] == "release-bot"
        assert who("env-qa").json()["login"] == "qa-bot"
        assert who("env-ro").json()["login"] == "auditor"
        assert who("# the bot").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_token_errors_name_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SANDBOX_TOKENS", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--data", str(tmp_path / "d"), "--token-file", str(tmp_path / "missing")])
    assert exit_.value.code == 2
    assert f"cannot read token file {tmp_path / 'missing'}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--data", str(tmp_path / "d")])
    assert "--token-file FILE, $SANDBOX_TOKENS or --token" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--data", str(tmp_path / "d"), "--token", "t", "--latency", "-1"])
    assert "latency must be between 0" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_sequential_steps_count_the_longest_chain_of_answered_requests():
    from sandbox.faults import Served, sequential_steps

    one_after_another = [Served(i, i + 0.9, "GET /a") for i in range(5)]
    assert sequential_steps(one_after_another) == 5
    together = [Served(0.0, 1.0, "GET /a") for _ in range(4)]
    assert sequential_steps(together) == 1
    # two overlapping, then one after both, then two overlapping again: 3 steps
    mixed = [
        Served(0.0, 1.0, "GET /a"),
        Served(0.1, 1.1, "GET /b"),
        Served(1.2, 2.0, "GET /c"),
        Served(2.1, 3.0, "GET /d"),
        Served(2.2, 3.1, "GET /e"),
    ]
    assert sequential_steps(mixed) == 3
    assert sequential_steps([]) == 0


def test_the_request_log_shows_requests_in_flight_together_as_one_step(sandbox):
    sandbox.set_latency(200)
    sandbox.reset_counters()

    def one(_: int) -> None:
        with requests.Session() as session:
            session.get(f"{sandbox.base_url}/rate_limit", headers=_auth(sandbox))

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(one, range(3)))
    one(0)
    served = sandbox.served()
    assert [s.key for s in served] == ["GET /rate_limit"] * 4
    assert all(s.finished - s.started >= 0.2 for s in served)
    assert sandbox.sequential_steps() == 2
    sandbox.reset_counters()
    assert sandbox.served() == [] and sandbox.sequential_steps() == 0


def test_settle_waits_for_the_requests_being_served():
    from sandbox.faults import InFlight

    flight = InFlight()
    flight.__enter__()
    assert flight.settle(0.05) is False  # one request still being served
    timer = threading.Timer(0.2, flight.__exit__)
    timer.start()
    started = time.monotonic()
    assert flight.settle(5.0) is True
    assert 0.1 <= time.monotonic() - started < 5.0
    timer.join()
