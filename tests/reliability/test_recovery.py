"""release.engine.recovery on plain data: which stack locks a crashed run left behind."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from release.engine.recovery import Lock, is_stale, lock_files, parse_lock, pid_alive

HOST = "build-host"


def lock(pid: int | None, host: str | None = HOST) -> Lock:
    return Lock("x.json", pid, host)


def test_a_lock_of_a_dead_local_process_is_stale():
    assert is_stale(lock(42), HOST, alive=lambda pid: False)


def test_a_live_local_process_keeps_its_lock():
    assert not is_stale(lock(42), HOST, alive=lambda pid: True)


def test_a_lock_from_another_host_or_without_pid_is_never_stale():
    assert not is_stale(lock(42, "other-host"), HOST, alive=lambda pid: False)
    assert not is_stale(lock(None), HOST, alive=lambda pid: False)
    assert not is_stale(lock(42, None), HOST, alive=lambda pid: False)


def test_parse_lock_reads_the_file_backend_format_and_survives_garbage():
    text = json.dumps(
        {"pid": 7, "username": "u", "hostname": HOST, "timestamp": "2026-11-26T14:03:12.123456789Z"}
    )
    since = dt.datetime(2026, 11, 26, 14, 3, 12, 123456, tzinfo=dt.UTC)
    assert parse_lock("a.json", text) == Lock("a.json", 7, HOST, "u", since)
    assert parse_lock("b.json", "{not json") == Lock("b.json", None, None)
    assert parse_lock("c.json", "[1, 2]") == Lock("c.json", None, None)
    assert parse_lock("d.json", '{"pid": "7", "timestamp": "soon"}') == Lock("d.json", None, None)


def test_lock_files_of_a_project_scoped_stack(tmp_path):
    folder = tmp_path / ".pulumi" / "locks" / "organization" / "release-train" / "staging"
    folder.mkdir(parents=True)
    (folder / "one.json").write_text(json.dumps({"pid": 5, "hostname": HOST}))
    (tmp_path / ".pulumi" / "locks" / "organization" / "release-train" / "production").mkdir()
    found = lock_files(f"file://{tmp_path}", "release-train", "staging")
    assert [(f.pid, f.hostname) for f in found] == [(5, HOST)]
    assert found[0].where.endswith("organization/release-train/staging/one.json")
    assert lock_files(f"file://{tmp_path}", "release-train", "production") == []
    assert lock_files("https://api.example.invalid", "release-train", "staging") == []


def test_pid_alive_sees_a_running_process_and_not_a_finished_one():
    assert pid_alive(os.getpid())
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not pid_alive(done.pid)


def test_a_checkpoint_cut_short_by_a_kill_is_put_back_from_its_backup(tmp_path):
    from release.engine.recovery import restore_checkpoint

    folder = tmp_path / ".pulumi" / "stacks" / "release-train"
    folder.mkdir(parents=True)
    (folder / "staging.json").write_text('{"version": 3, "checkpoint": {"lat')  # cut short
    (folder / "staging.json.bak").write_text('{"version": 3, "checkpoint": {}}')
    backend = f"file://{tmp_path}"
    note = restore_checkpoint(backend, "release-train", "staging")
    assert note and "put back" in note
    assert (folder / "staging.json").read_text() == '{"version": 3, "checkpoint": {}}'
    kept = [p.name for p in folder.glob("staging.json.broken-*")]
    assert len(kept) == 1, "the broken checkpoint is kept, not deleted"
    # A whole checkpoint is left alone, and so is any other backend.
    assert restore_checkpoint(backend, "release-train", "staging") is None
    assert restore_checkpoint("s3://bucket", "release-train", "staging") is None


def test_metadata_sidecars_left_empty_by_a_kill_are_set_aside(tmp_path):
    from release.engine.recovery import set_aside_broken_sidecars

    pulumi = tmp_path / ".pulumi"
    stacks = pulumi / "stacks" / "release-train"
    locks = pulumi / "locks" / "organization" / "release-train" / "staging"
    history = pulumi / "history" / "release-train" / "staging"
    for folder in (stacks, locks, history):
        folder.mkdir(parents=True)
    whole = '{"user.content_type": "application/json"}'
    (stacks / "staging.json").write_text('{"version": 3}')
    (stacks / "staging.json.attrs").write_bytes(b"")  # truncated, never written
    (stacks / "staging.json.bak.attrs").write_text(whole)
    (stacks / "production.json.attrs").write_bytes(b"")  # another stack: not this command's
    (locks / "one.json.attrs").write_text('{"user.content')
    (history / "staging-1.history.json.attrs").write_bytes(b"")
    (history / "staging-2.history.json.attrs").write_text(whole)
    backend = f"file://{tmp_path}"
    note = set_aside_broken_sidecars(backend, "release-train", "staging")
    assert note and "staging.json.attrs" in note and "one.json.attrs" in note
    assert not (stacks / "staging.json.attrs").exists()
    assert not (locks / "one.json.attrs").exists()
    assert not (history / "staging-1.history.json.attrs").exists()
    kept = sorted(p.name.split(".broken-")[0] for p in pulumi.rglob("*.broken-*"))
    assert kept == ["one.json.attrs", "staging-1.history.json.attrs", "staging.json.attrs"]
    assert (stacks / "staging.json.bak.attrs").read_text() == whole
    assert (stacks / "production.json.attrs").exists()
    assert set_aside_broken_sidecars(backend, "release-train", "staging") is None
    assert set_aside_broken_sidecars("s3://bucket", "release-train", "staging") is None
