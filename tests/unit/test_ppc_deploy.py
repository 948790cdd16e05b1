"""The sandbox PPC update job, run as a real process, and the `release ppc status` readers."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from release.ppc_deploy import PpcStateError, failing_ppcs
from release.ppc_status import (
    PpcRecord,
    deploy,
    parse_state,
    ppc_status,
    read_ppc_state,
    render_state,
)
from release.rules.ppcs import Ppc

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def job(state: Path, ppc: str, release: str = "release/2026-11-26", commit: str = SHA, *extra):
    return [
        sys.executable,
        "-m",
        "release.ppc_deploy",
        "--state",
        str(state),
        "--ppc",
        ppc,
        "--release",
        release,
        "--commit",
        commit,
        *extra,
    ]


def run_python(*args: str) -> subprocess.CompletedProcess:
    """`python ARGS` from the repository root, output captured as text."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def run_job(*args, **kwargs) -> subprocess.CompletedProcess:
    return run_python(*job(*args, **kwargs)[1:])


def test_job_records_release_commit_and_time(tmp_path):
    before = datetime.now(UTC).replace(microsecond=0)
    done = run_job(tmp_path, "acme")
    after = datetime.now(UTC)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PPC acme now runs release/2026-11-26 (0123456789ab) since ")
    state = read_ppc_state(tmp_path)
    assert list(state) == ["acme"]
    rec = state["acme"]
    assert (rec.release, rec.commit) == ("release/2026-11-26", SHA)
    assert before <= rec.deployed_at <= after


def test_a_second_release_replaces_the_record_and_keeps_the_others(tmp_path):
    assert run_job(tmp_path, "acme").returncode == 0
    assert run_job(tmp_path, "globex").returncode == 0
    assert run_job(tmp_path, "acme", "release/2026-12-03", OTHER).returncode == 0
    state = read_ppc_state(tmp_path)
    assert state["acme"].release == "release/2026-12-03"
    assert state["acme"].commit == OTHER
    assert state["globex"].release == "release/2026-11-26"


def test_fail_file_fails_the_named_ppc_and_records_nothing(tmp_path):
    (tmp_path / "fail").write_text("# PPCs whose update must fail\n\n  initech  \numbrella\n")
    assert run_job(tmp_path, "acme").returncode == 0
    failed = run_job(tmp_path, "initech")
    assert failed.returncode == 1
    assert "PPC initech: update to release/2026-11-26 failed" in failed.stderr
    assert "lists this PPC" in failed.stderr
    assert failed.stdout == ""
    assert set(read_ppc_state(tmp_path)) == {"acme"}
    # A name that only contains a listed one is not listed.
    assert run_job(tmp_path, "initech-eu").returncode == 0
    # Removing the line lets the PPC deploy.
    (tmp_path / "fail").write_text("umbrella\n")
    assert run_job(tmp_path, "initech").returncode == 0
    assert set(read_ppc_state(tmp_path)) == {"acme", "initech", "initech-eu"}


def test_fail_file_does_not_touch_an_existing_record(tmp_path):
    assert run_job(tmp_path, "acme").returncode == 0
    before = (tmp_path / "ppcs.json").read_text()
    (tmp_path / "fail").write_text("acme\n")
    assert run_job(tmp_path, "acme", "release/2026-12-03", OTHER).returncode == 1
    assert (tmp_path / "ppcs.json").read_text() == before


def test_parallel_jobs_lose_no_record(tmp_path):
    names = [f"customer-{i:02d}" for i in range(24)]
    procs = [
        subprocess.Popen(
            job(tmp_path, name), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for name in names
    ]
    seen_files = []
    while any(p.poll() is None for p in procs):
        # A reader during the writes sees a whole file or none, never half of one.
        seen_files.append(len(read_ppc_state(tmp_path)))
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    state = read_ppc_state(tmp_path)
    assert sorted(state) == names
    assert all(rec.commit == SHA for rec in state.values())
    assert seen_files == sorted(seen_files)


def test_parallel_writers_in_process_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    names = [f"ppc-{i:03d}" for i in range(100)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: deploy(tmp_path, n, "release/2026-11-26", SHA), names))
    assert sorted(read_ppc_state(tmp_path)) == names


def test_seconds_simulates_a_job(tmp_path):
    start = time.monotonic()
    done = run_job(tmp_path, "acme", "release/2026-11-26", SHA, "--seconds", "0.6")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start >= 0.6


@pytest.mark.parametrize(
    ("ppc", "release", "message"),
    [
        ("Acme", "release/x", "PPC name 'Acme' is not valid"),
        ("acme", "", "--release and --commit must not be empty"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, ppc, release, message):
    done = run_job(tmp_path, ppc, release)
    assert done.returncode == 1
    assert message in done.stderr
    assert not (tmp_path / "ppcs.json").exists()


def test_missing_argument_is_a_usage_error(tmp_path):
    done = run_python("-m", "release.ppc_deploy", "--state", str(tmp_path), "--ppc", "a")
    assert done.returncode == 2
    assert "--release" in done.stderr


def test_corrupt_state_is_reported_and_not_overwritten(tmp_path):
    (tmp_path / "ppcs.json").write_text("{not json")
    done = run_job(tmp_path, "acme")
    assert done.returncode == 1
    assert "is not a PPC state file" in done.stderr
    assert (tmp_path / "ppcs.json").read_text() == "{not json"
    with pytest.raises(PpcStateError, match="move it aside"):
        read_ppc_state(tmp_path)


def test_state_round_trip_and_version():
    when = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    records = {"b": PpcRecord("release/x", SHA, when), "a": PpcRecord("release/y", OTHER, when)}
    text = render_state(records)
    assert text.index('"a"') < text.index('"b"')
    assert '"deployedAt": "2026-11-26T09:30:00Z"' in text
    assert parse_state(text) == records
    assert parse_state("") == {}
    with pytest.raises(PpcStateError, match="format version 7"):
        parse_state('{"version": 7, "ppcs": {}}')


def test_read_missing_state_is_empty(tmp_path):
    assert read_ppc_state(tmp_path / "nowhere") == {}


def test_failing_ppcs_parsing():
    assert failing_ppcs("a\n # c\n\nb # why\n") == {"a", "b"}


# --- lag -------------------------------------------------------------------------------------

WHEN = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
PPCS = [Ppc("globex", 2, {}), Ppc("acme", 1, {}), Ppc("initech", 2, {}), Ppc("hooli", 3, {})]
STATE = {
    "acme": PpcRecord("release/2026-11-19", SHA, WHEN),
    "globex": PpcRecord("release/2026-11-12", OTHER, WHEN),
    "initech": PpcRecord("release/2026-11-19", OTHER, WHEN),
    "retired": PpcRecord("release/2026-10-01", OTHER, WHEN),
}


def test_status_rows_in_wave_order_with_lag():
    rows = ppc_status(PPCS, STATE, "release/2026-11-19")
    assert [(r.name, r.wave, r.status, r.lags) for r in rows] == [
        ("acme", 1, "current", False),
        ("globex", 2, "lags", True),
        ("initech", 2, "current", False),
        ("hooli", 3, "never deployed", True),
        ("retired", None, "not configured", False),
    ]
    assert rows[1].detail == "runs release/2026-11-12, production runs release/2026-11-19"
    assert rows[1].deployed_at == WHEN
    assert rows[3].release is None and rows[3].deployed_at is None
    assert rows[1].as_dict()["deployedAt"] == "2026-11-24T15:00:00Z"


def test_status_same_release_older_commit_lags_when_commit_given():
    rows = {r.name: r for r in ppc_status(PPCS, STATE, "release/2026-11-19", SHA)}
    assert not rows["acme"].lags
    assert rows["initech"].lags
    assert "production runs it at 0123456789ab" in rows["initech"].detail


def test_status_without_a_production_release_nothing_lags():
    rows = ppc_status(PPCS, STATE, None)
    assert not any(r.lags for r in rows)
    assert {r.name: r.status for r in rows}["hooli"] == "never deployed"


def test_status_after_a_real_rollout(tmp_path):
    for name in ("acme", "globex"):
        assert run_job(tmp_path, name, "release/2026-11-26", SHA).returncode == 0
    (tmp_path / "fail").write_text("initech\n")
    assert run_job(tmp_path, "initech", "release/2026-11-26", SHA).returncode == 1
    rows = ppc_status(PPCS, read_ppc_state(tmp_path), "release/2026-11-26", SHA)
    assert [(r.name, r.lags) for r in rows] == [
        ("acme", False),
        ("globex", False),
        ("initech", True),
        ("hooli", True),
    ]


# --- the job's start-up cost -----------------------------------------------------------------

# Modules the job must not import: each is slow to import next to the job's own work, and
# the rollout starts one job per PPC, a whole wave of them at once.
HEAVY = {
    "argparse",
    "dataclasses",
    "inspect",
    "pathlib",
    "tempfile",
    "typing",
    "pulumi",
    "release.rules.ppcs",
    "release.ppc_status",
}


def imported_modules(importtime_stderr: str) -> set[str]:
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def test_job_imports_only_light_modules(tmp_path):
    done = run_python("-X", "importtime", *job(tmp_path, "acme")[1:])
    assert done.returncode == 0, done.stderr
    imported = imported_modules(done.stderr)
    assert {"json", "fcntl"} <= imported
    assert imported & HEAVY == set()
    assert set(read_ppc_state(tmp_path)) == {"acme"}


def test_job_reports_bad_arguments_with_argparse(tmp_path):
    done = run_job(tmp_path, "acme", "release/2026-11-26", SHA, "--seconds", "soon")
    assert done.returncode == 2
    assert "argument --seconds: invalid float value: 'soon'" in done.stderr
    helped = run_python("-m", "release.ppc_deploy", "--help")
    assert helped.returncode == 0
    assert "--state DIR --ppc NAME --release NAME" in helped.stdout
    assert not (tmp_path / "ppcs.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--state", "S", "--ppc", "acme", "--release", "release/x", "--commit", SHA],
        ["--state=S", "--ppc=acme", "--release=release/x", "--commit=" + SHA, "--seconds=0.5"],
        ["--commit", SHA, "--ppc", "a", "--ppc", "acme", "--release", "", "--state", "S"],
        ["--state", "S", "--ppc", "acme", "--release", "r", "--commit", SHA, "--seconds", "-1"],
    ],
)
def test_plain_command_lines_parse_as_argparse_does(argv):
    from release.ppc_deploy import _parse_plain, _parse_with_argparse

    plain = _parse_plain(argv)
    assert plain is not None
    parsed = _parse_with_argparse(argv)
    assert {k: v for k, v in plain.items() if k != "--seconds"} == {
        k: v for k, v in parsed.items() if k != "--seconds"
    }
    assert float(plain.get("--seconds", "0")) == float(parsed["--seconds"])


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--state", "S", "--ppc", "acme", "--release", "r"],  # --commit missing
        ["--sta", "S", "--ppc", "acme", "--release", "r", "--commit", SHA],  # abbreviated
        ["--state", "S", "--ppc", "acme", "--release", "-r", "--commit", SHA],
        ["--state", "S", "--ppc", "acme", "--release", "r", "--commit", SHA, "--seconds", "x"],
        ["--state", "S", "--ppc", "acme", "--release", "r", "--commit", SHA, "extra"],
        ["-h"],
    ],
)
def test_other_command_lines_are_left_to_argparse(argv):
    from release.ppc_deploy import _parse_plain

    assert _parse_plain(argv) is None


def test_in_process_main_records_and_prints(tmp_path, capsys):
    from release.ppc_deploy import main

    assert main(["--state", str(tmp_path), "--ppc", "acme", "--release", "r", "--commit", SHA]) == 0
    assert capsys.readouterr().out.startswith("PPC acme now runs r (0123456789ab) since ")
    assert read_ppc_state(tmp_path)["acme"].commit == SHA


# --- once per release: the job's check, keyed by PPC and release commit ----------------------


def updates(state: Path) -> list[tuple[str, str]]:
    """The updates the job ran, (PPC, commit) per line of DIR/updates.log."""
    log = state / "updates.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [(line.split()[1], line.split()[3]) for line in lines]


def test_a_ppc_already_on_the_commit_is_not_updated_again(tmp_path):
    first = run_job(tmp_path, "acme")
    since = read_ppc_state(tmp_path)["acme"].deployed_at
    again = run_job(tmp_path, "acme")
    assert again.returncode == 0, again.stderr
    assert "already runs release/2026-11-26 (0123456789ab)" in again.stdout
    assert "not updated again" in again.stdout
    assert first.returncode == 0 and read_ppc_state(tmp_path)["acme"].deployed_at == since
    assert updates(tmp_path) == [("acme", SHA)]
    # A new release commit is a new update.
    assert run_job(tmp_path, "acme", "release/2026-12-03", OTHER).returncode == 0
    assert updates(tmp_path) == [("acme", SHA), ("acme", OTHER)]


def test_a_job_started_while_another_updates_the_ppc_waits_for_it(tmp_path):
    """The re-run of a rollout whose job for this PPC still runs (a leftover of a killed run)
    waits for that update and does not start a second one."""
    in_flight = subprocess.Popen(job(tmp_path, "acme", "release/2026-11-26", SHA, "--seconds", "2"))
    try:
        deadline = time.monotonic() + 20
        while '"updating"' not in (
            (tmp_path / "ppcs.json").read_text() if (tmp_path / "ppcs.json").exists() else ""
        ):
            assert time.monotonic() < deadline and in_flight.poll() is None
            time.sleep(0.02)
        rerun = run_job(tmp_path, "acme")
        assert in_flight.wait(timeout=30) == 0
    finally:
        if in_flight.poll() is None:
            in_flight.kill()
    assert rerun.returncode == 0, rerun.stderr
    assert "not updated again" in rerun.stdout
    assert updates(tmp_path) == [("acme", SHA)]
    assert '"updating"' not in (tmp_path / "ppcs.json").read_text()


def test_a_job_killed_mid_update_is_run_once_by_the_rerun(tmp_path):
    """A job in flight at a kill, then the re-run of the whole wave: each PPC is updated
    exactly once (the killed job never finished its update; the others are not redone)."""
    assert run_job(tmp_path, "globex").returncode == 0  # finished before the kill
    killed = subprocess.Popen(job(tmp_path, "acme", "release/2026-11-26", SHA, "--seconds", "30"))
    deadline = time.monotonic() + 20
    while "acme" not in (
        (tmp_path / "ppcs.json").read_text() if (tmp_path / "ppcs.json").exists() else ""
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    killed.kill()
    killed.wait()
    for ppc in ("acme", "globex"):  # the re-run
        assert run_job(tmp_path, ppc).returncode == 0
    assert sorted(updates(tmp_path)) == [("acme", SHA), ("globex", SHA)]
    assert set(read_ppc_state(tmp_path)) == {"acme", "globex"}


def test_a_failed_ppc_is_marked_with_why_until_it_is_updated(tmp_path):
    from release.ppc_status import read_failures, record_failures

    record_failures(tmp_path, "release/2026-11-26", {"globex": "exit 1: disk full"}, ["acme"], WHEN)
    assert [p.name for p in tmp_path.iterdir()] == ["failures.json"]  # no temporary file left
    rows = {
        r.name: r
        for r in ppc_status(PPCS, STATE, "release/2026-11-26", SHA, read_failures(tmp_path))
    }
    assert (rows["globex"].status, rows["globex"].lags) == ("FAILED", True)
    assert rows["globex"].detail == (
        "the update to release/2026-11-26 failed (2026-11-24T15:00:00Z): exit 1: disk full"
    )
    assert rows["hooli"].status == "never deployed" and rows["acme"].status != "FAILED"
    # The next run updates globex: it is no longer marked.
    record_failures(tmp_path, "release/2026-11-26", {}, ["globex"], WHEN)
    assert read_failures(tmp_path) == {}
    (tmp_path / "failures.json").write_text("not json")
    assert read_failures(tmp_path) == {}  # unreadable: nothing marked, no traceback


def test_a_failure_is_superseded_by_a_later_update_whoever_ran_it(tmp_path):
    from datetime import timedelta

    from release.ppc_status import read_failures, record_failures

    record_failures(tmp_path, "release/2026-11-26", {"globex": "boom"}, (), WHEN)
    later = {**STATE, "globex": PpcRecord("release/2026-11-26", SHA, WHEN + timedelta(minutes=5))}
    rows = {
        r.name: r
        for r in ppc_status(PPCS, later, "release/2026-11-26", SHA, read_failures(tmp_path))
    }
    assert rows["globex"].status == "current"
    rows = {
        r.name: r
        for r in ppc_status(PPCS, STATE, "release/2026-11-26", SHA, read_failures(tmp_path))
    }
    assert rows["globex"].status == "FAILED"  # its record is older than the failure
