"""release.engine.backends and the lock refusal on plain data: keys, lock objects, the engine's text."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json

import pytest
from pulumi import automation as auto

from release.engine import backends, recovery
from release.engine.backends import FileStore, Lock, PostgresStore, StoreError

NOW = dt.datetime(2026, 11, 26, 14, 10, 0, tzinfo=dt.UTC)
SINCE = dt.datetime(2026, 11, 26, 14, 3, 12, tzinfo=dt.UTC)


def test_the_store_of_each_backend_url(tmp_path):
    assert backends.store_for(f"file://{tmp_path}") == FileStore(tmp_path)
    pg = backends.store_for("postgres://u:p@127.0.0.1:5/db?sslmode=disable&table=t1")
    assert isinstance(pg, PostgresStore)
    assert (pg.table, pg.prefix) == ("t1", "db/")
    assert PostgresStore("postgres://u@h/").table == "pulumi_state"
    assert PostgresStore("postgres://u@h/").prefix == ""
    with pytest.raises(StoreError, match="not a plain table name"):
        _ = PostgresStore("postgres://u@h/db?table=x;drop").table
    for other in ("s3://bucket", "gs://b", "azblob://c", "https://api.pulumi.com"):
        assert backends.store_for(other) is None
        assert backends.checkpoint(other, "p", "s") is None
        assert backends.locks(other, "p", "s") is None


def test_a_checkpoint_is_read_plain_or_gzipped(tmp_path):
    folder = tmp_path / ".pulumi" / "stacks" / "proj"
    folder.mkdir(parents=True)
    doc = {"version": 3, "checkpoint": {"latest": {"resources": []}}}
    (folder / "a.json").write_text(json.dumps(doc))
    (folder / "b.json.gz").write_bytes(gzip.compress(json.dumps(doc).encode()))
    (folder / "c.json").write_text('{"version": 3, "checkp')  # cut short
    url = f"file://{tmp_path}"
    assert backends.checkpoint(url, "proj", "a") == doc
    assert backends.checkpoint(url, "proj", "b") == doc
    assert backends.checkpoint(url, "proj", "c") is None
    assert backends.checkpoint(url, "proj", "missing") is None
    assert backends.has_stack(url, "proj", "a") and backends.has_stack(url, "proj", "b")
    assert not backends.has_stack(url, "proj", "missing")


def test_engine_times_parse_to_utc():
    assert backends.parse_time("2026-11-26T14:03:12Z") == SINCE
    assert backends.parse_time("2026-11-26T15:03:12.999999999+01:00") == SINCE.replace(
        microsecond=999999
    )
    for bad in ("", "yesterday", None, 17, "2026-13-40T99:00:00Z"):
        assert backends.parse_time(bad) is None


def test_a_lock_says_who_where_and_since_when():
    held = Lock("k", 4242, "ci-runner-7", "deploy", SINCE)
    assert held.holder() == "deploy@ci-runner-7 (pid 4242)"
    assert held.age(NOW) == "since 2026-11-26 14:03:12 UTC (6 min ago)"
    assert Lock("k", None, None).holder() == "an unknown host"
    assert Lock("k", None, None).age(NOW) == "since an unknown time"
    assert "(2 h 0 min ago)" in held.age(SINCE + dt.timedelta(hours=2))


def test_the_engines_refusal_text_names_the_holders():
    text = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other "
        "process(es) to end or delete the lock file with `pulumi cancel`.\n"
        "  postgres://****:****@127.0.0.1:5432/db/.pulumi/locks/organization/p/staging/"
        "0b5f.json: created by deploy@ci-runner-7 (pid 4242) at 2026-11-26T14:03:12Z\n"
    )
    (found,) = backends.locks_in_engine_error(text)
    assert found == Lock("engine", 4242, "ci-runner-7", "deploy", SINCE)
    err = auto.ConcurrentUpdateError(auto.CommandResult("", text, 255))
    message = recovery.locked_message("staging", err)
    assert message.startswith("another update of staging is running")
    assert "deploy@ci-runner-7 (pid 4242) since 2026-11-26 14:03:12 UTC" in message
    assert "pulumi cancel --stack staging --yes" in message
    # Pulumi Cloud's refusal names nobody: the message still says what to do.
    cloud = auto.ConcurrentUpdateError(auto.CommandResult("", "[409] Conflict", 255))
    assert "wait for it" in recovery.locked_message("staging", cloud)


def write_lock(tmp_path, stack: str, name: str, **content: object) -> None:
    folder = tmp_path / ".pulumi" / "locks" / "organization" / "proj" / stack
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(content))


def test_a_live_or_foreign_lock_refuses_before_any_write_and_a_dead_one_does_not(tmp_path):
    url = f"file://{tmp_path}"
    write_lock(tmp_path, "staging", "a", pid=1, hostname="elsewhere", username="x", timestamp="")
    with pytest.raises(recovery.StackLocked) as refused:
        recovery.refuse_if_locked(url, "proj", "staging")
    assert isinstance(refused.value, auto.ConcurrentUpdateError)  # the CLI's handlers catch it
    assert "x@elsewhere (pid 1)" in refused.value.message()
    # A lock of a process that is gone on this host is left for `recover` to clear.
    import socket
    import subprocess
    import sys

    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    write_lock(tmp_path, "production", "b", pid=done.pid, hostname=socket.gethostname())
    recovery.refuse_if_locked(url, "proj", "production")
    recovery.refuse_if_locked(url, "proj", "testing")


def test_postgres_rows_decode_as_the_engine_stores_them(monkeypatch):
    rows = {
        "db/.pulumi/locks/organization/p/s/1.json": {"pid": 9, "hostname": "h"},
        "db/.pulumi/locks/organization/p/s/2.json": {"pid": 10, "hostname": "h"},
    }

    def query(url: str, sql: str, **params: object) -> list[list[object]]:
        if sql.startswith("SELECT key"):
            prefix = str(params["prefix"])
            return [[k] for k in sorted(rows) if k.startswith(prefix)]
        if sql.startswith("SELECT 1"):
            return [[1]] if params["key"] in rows else []
        value = rows.get(str(params["key"]))
        if value is None:
            return []
        data = base64.b64encode(json.dumps(value).encode()).decode()
        return [[json.dumps({"data": data})]]

    monkeypatch.setattr(backends, "_query", query)
    found = backends.locks("postgres://u:p@h:1/db?table=t", "p", "s")
    assert [(lock.where, lock.pid) for lock in found] == [
        (".pulumi/locks/organization/p/s/1.json", 9),
        (".pulumi/locks/organization/p/s/2.json", 10),
    ]
    assert backends.locks("postgres://u:p@h:1/db?table=t", "p", "other") == []
