"""release-train on Pulumi's PostgreSQL state backend, the team's shared backend.

Each test gets a table of its own on the session's server (tests/conftest.py starts one with
scripts/postgres.sh when RELEASE_TRAIN_POSTGRES_URL is not set): a staging promotion, the
refusal of a command on a locked stack (beside file://), and the next command recovering a
run killed in the middle of a forge write.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from release.cli.promotion import collect_status
from release.engine import automation, backends
from release.engine.backends import PostgresStore, _connect
from release.engine.intent_store import read_record
from release.rules.intent import EMPTY
from tests.e2e.harness import Harness
from tests.e2e.train import RELEASE_DATE, Train
from tests.reliability.cli_train import RELEASE, CliTrain, ok_writes

pytestmark = pytest.mark.e2e
PROJECT = "release-train"


@pytest.fixture
def pg_harness(engine, pulumi_home, tmp_path, postgres_backend) -> Harness:
    """The e2e harness with its state on PostgreSQL instead of a folder."""
    return Harness(
        engine=engine,
        pulumi_home=pulumi_home,
        workdir=tmp_path / "e2e",
        extra_env={"PULUMI_BACKEND_URL": postgres_backend},
    )


@pytest.fixture
def pg_cli(pg_harness, seeded_sandbox, monkeypatch) -> CliTrain:
    """The `release` command line, in subprocesses, on a project whose state is on PostgreSQL."""
    monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(pg_harness.engine.bin_dir.parent))
    return CliTrain.start(pg_harness, seeded_sandbox, Path(pg_harness.workdir))


def stored_keys(url: str) -> list[str]:
    store = PostgresStore(url)
    rows = _connect(url).run(f"SELECT key FROM {store.table} ORDER BY key")
    return [str(row[0]).removeprefix(store.prefix) for row in rows]


def test_a_staging_promotion_on_postgres(pg_harness, seeded_sandbox, monkeypatch):
    train = Train.start(pg_harness, seeded_sandbox, monkeypatch)
    url = train.project.backend()
    assert url.startswith("postgres://")
    train.promote("testing")
    waiting_up = train.promote("staging")  # a closed gate is a recorded state, not a failure
    assert "needs 1 more approval" in waiting_up.stdout
    assert train.outputs("staging")["gate"]["state"] == "waiting"
    train.approve("staging")
    train.promote("staging")

    # The state is in the database, nowhere on disk.
    keys = stored_keys(url)
    assert f".pulumi/stacks/{PROJECT}/staging.json" in keys
    assert any(k.startswith(f".pulumi/history/{PROJECT}/staging/") for k in keys)
    assert not any(p.is_file() for p in pg_harness.state_dir.rglob("*"))
    # Outputs read from the table (no engine run) equal the engine's own export, and the
    # CLI's `stack output` (secrets masked alike).
    fast = automation.checkpoint_outputs(url, PROJECT, "staging")
    assert fast is not None and fast["state"] == "merged"
    assert fast["releaseBranch"] == RELEASE
    assert automation.exported_outputs(train.project, "staging") == fast
    shown = pg_harness.engine.run(
        "stack", "output", "--json", "--stack", "staging", "--cwd", str(train.project.directory),
        env=pg_harness.env(),
    )  # fmt: skip
    assert json.loads(shown.stdout) == fast
    status = {row["environment"]: row for row in collect_status(train.project)}
    assert (status["staging"]["release"], status["staging"]["state"]) == (RELEASE, "merged")


def test_outputs_take_the_engines_path_when_the_database_cannot_be_read(
    pg_harness, seeded_sandbox, monkeypatch
):
    train = Train.start(pg_harness, seeded_sandbox, monkeypatch)
    train.promote("testing")
    fast = automation.outputs(train.project, "testing")
    assert fast["greenCommit"]

    def unreachable(url: str) -> object:
        raise backends.StoreError("down")

    monkeypatch.setattr(backends, "_connect", unreachable)
    assert automation.checkpoint_outputs(train.project.backend(), PROJECT, "testing") is None
    assert automation.outputs(train.project, "testing") == fast
    assert automation.outputs(train.project, "no-such-stack") == {}


def test_reading_the_record_of_a_stack_the_backend_lacks_creates_nothing(
    pg_harness, seeded_sandbox, monkeypatch
):
    """A stack the team's backend does not hold (a new environment's, before its first
    `promote`) reads as an empty record, directly or through the engine's export, and the
    read does not create it."""
    train = Train.start(pg_harness, seeded_sandbox, monkeypatch)
    train.promote("testing")
    backend = train.project.backend()
    assert backends.has_stack(backend, PROJECT, "testing")
    assert not backends.has_stack(backend, PROJECT, "canary")
    assert read_record(train.project, "canary") == EMPTY
    with monkeypatch.context() as down:
        down.setattr(backends, "_connect", _unreachable)
        assert read_record(train.project, "canary") == EMPTY  # the engine's path
        assert automation.resources(train.project, "canary") == []
    assert not backends.has_stack(backend, PROJECT, "canary")


def _unreachable(url: str) -> object:
    raise backends.StoreError("down")


def inject_lock(url: str, stack: str, holder: dict[str, object]) -> None:
    """A lock object written as the engine of another machine writes it."""
    key = f".pulumi/locks/organization/{PROJECT}/{stack}/0b5f3c2e-remote.json"
    content = json.dumps(holder).encode()
    store = backends.store_for(url)
    if isinstance(store, PostgresStore):
        data = json.dumps({"data": base64.b64encode(content).decode()})
        _connect(url).run(
            f"INSERT INTO {store.table} (key, data) VALUES (:k, CAST(:d AS json))",
            k=store.prefix + key,
            d=data,
        )
    else:
        path = Path(url.removeprefix("file://")) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@pytest.mark.parametrize("backend", ["file", "postgres"])
def test_a_locked_stack_refuses_at_once_naming_the_holder(
    backend, harness, pg_harness, seeded_sandbox, monkeypatch
):
    chosen = pg_harness if backend == "postgres" else harness
    monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(chosen.engine.bin_dir.parent))
    train = CliTrain.start(chosen, seeded_sandbox, Path(chosen.workdir))
    assert train.promote("testing").code == 0
    url = train.project.backend()
    assert url.startswith(f"{backend}://")
    inject_lock(
        url,
        "staging",
        {
            "pid": 4242,
            "username": "deploy",
            "hostname": "ci-runner-7",
            "timestamp": "2026-11-26T14:03:12.5Z",
        },
    )
    stack_file = (train.project.directory / "Pulumi.staging.yaml").read_text()
    started = time.monotonic()
    for args in (
        ("promote", "staging", "--date", RELEASE_DATE),
        ("cherry-pick", "staging", "a" * 40),
        ("rollback", "staging"),
    ):
        refused = train.release(*args)
        text = " ".join(refused.output.split())
        assert refused.code == 1, refused.describe()
        assert "another update of staging is running" in text, refused.describe()
        assert "deploy@ci-runner-7 (pid 4242) since 2026-11-26 14:03:12 UTC" in text, text
        assert "pulumi cancel --stack staging --yes" in text
        assert "Traceback" not in refused.output
        assert refused.writes == 0
    assert time.monotonic() - started < 60, "refused at once, not after an engine run"
    # Nothing of the refused commands' intent was written.
    assert (train.project.directory / "Pulumi.staging.yaml").read_text() == stack_file
    # A lock from another host is never taken for a crash: it is still there.
    assert [lock.hostname for lock in backends.locks(url, PROJECT, "staging")] == ["ci-runner-7"]


def test_a_running_promotion_on_postgres_refuses_a_second_command(pg_cli):
    train = pg_cli
    assert train.promote("testing").code == 0
    sb = train.sandbox
    held = sb.pause_after_writes(1)
    first, first_log = train.spawn("promote", "staging", "--date", RELEASE_DATE)
    try:
        assert held.wait(timeout=240), first_log.read_text()
        writes = ok_writes(sb)
        second = train.release("cherry-pick", "staging", "b" * 40, timeout=120)
        (lock,) = backends.locks(train.project.backend(), PROJECT, "staging")
        assert ok_writes(sb) == writes, "the refused command wrote to the forge"
    finally:
        sb.resume()
    try:
        first.wait(timeout=240)
    except subprocess.TimeoutExpired:
        first.kill()
        raise
    text = " ".join(second.output.split())
    assert second.code == 1, second.describe()
    assert lock.hostname == socket.gethostname() and lock.pid
    assert f"{lock.holder()} since" in text, text
    assert "recovered:" not in text, "a live run's lock is never cleared"
    assert "b" * 40 not in train.project.stack_file("staging").get("picks", "")
    assert "needs 1 more approval" in first_log.read_text()


def test_a_killed_promotion_on_postgres_is_recovered_by_the_next_command(pg_cli):
    train = pg_cli
    url = train.project.backend()
    assert train.promote("testing").code == 0
    # Killed between the ours-merge's commit and its ref update: the OursMerge is in flight.
    killed = train.promote("staging", kill_after_writes=2)
    assert killed.killed, killed.describe()
    # The dead run's lock and its operation in flight are in the database.
    (left,) = backends.locks(url, PROJECT, "staging")
    assert left.hostname == socket.gethostname()
    latest = backends.checkpoint(url, PROJECT, "staging")["checkpoint"]["latest"]
    pending = latest.get("pending_operations") or []
    assert pending, "the kill left an operation in flight"

    again = train.promote("staging")
    assert "recovered: removed the lock of a crashed update" in again.output, again.describe()
    assert f"(process {left.pid} is gone)" in again.output
    assert f"cleared {len(pending)} operation(s) left pending" in again.output, again.describe()
    assert backends.locks(url, PROJECT, "staging") == []
    assert "needs 1 more approval" in again.output, again.describe()
    train.approve("staging")
    final = train.promote("staging")
    assert final.code == 0, final.describe()
    assert automation.outputs(train.project, "staging")["state"] == "merged"
    repo = train.repo()
    assert len([p for p in repo.get_pulls(state="all") if p.head.ref == RELEASE]) == 1
    assert train.sandbox.forced_updates("acme/service") == []
