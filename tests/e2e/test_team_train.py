"""The release train as a team runs it: several working copies, one backend, one record.

Each working copy has its own folder (the project's files, stack files included, as git
gives them) and its own PULUMI_HOME; the copies share only the backend URL and the
passphrase. Operator A promotes staging and cherry-picks; operator B plans and promotes
from another copy; a third copy reads status and history. Intent lives in the stack's
record (release/rules/intent.py), never in a stack file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from pulumi import automation as auto

from devtools.demo import prepare_project
from devtools.train import TrainProject
from release.cli.promotion import collect_status
from release.engine import automation, day_two
from release.engine.intent_store import read_record
from release.rules.intent import Record
from tests.e2e.harness import Harness, prepare_pulumi_home, run_release
from tests.e2e.train import RELEASE_DATE, Train

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"
INTENT_KEYS = ("commit", "releaseDate", "picks", "reverts", "rollback", "rolledBack", "carry")


class Copy(Train):
    """Another working copy of the project A runs: same files, own folder and PULUMI_HOME."""

    @classmethod
    def of(cls, first: Train, name: str) -> Copy:
        harness = first.harness
        home = harness.workdir / name / "pulumi-home"
        prepare_pulumi_home(harness.engine, home)
        directory = prepare_project(first.project.directory, harness.workdir / name / "repo")
        env = {**harness.env(), "PULUMI_HOME": str(home)}
        project = automation.Project(directory, backend_url=env["PULUMI_BACKEND_URL"], env=env)
        return cls(harness, TrainProject(project, first.sandbox))

    def release(self, *args: str, actor: str) -> subprocess.CompletedProcess[str]:
        """`python -m release ARGS` in this copy, as its operator runs it."""
        env = {
            **os.environ,
            **self.project.env,
            "RELEASE_TRAIN_PROJECT_DIR": str(self.project.directory),
            "RELEASE_TRAIN_PULUMI_ROOT": str(self.harness.engine.bin_dir.parent),
            "RELEASE_TRAIN_ACTOR": actor,
            "COLUMNS": "200",
        }
        return run_release(env, *args)


def record(train: Train) -> Record:
    return read_record(train.project, "staging")


def waits_at_gate(train: Train) -> bool:
    """The stack's promotion waits at its merge gate (a recorded state, not a failure)."""
    return (train.outputs("staging").get("gate") or {}).get("state") == "waiting"


def through_gate(train: Train, step: Callable[[], object]) -> None:
    """Run a flow, which stops at the merge gate (a recorded waiting state); play CI and the
    partner, then `up` again with no delta (the recorded intent, unchanged)."""
    step()
    assert waits_at_gate(train), "the gate let an unapproved pull request through"
    train.approve("staging")
    train.stack("staging").up(on_output=train.harness_log)


def no_intent_in_stack_files(*copies: Train) -> None:
    for copy in copies:
        for path in Path(copy.project.directory).glob("Pulumi.*.yaml"):
            text = path.read_text()
            for key in INTENT_KEYS:
                assert f"release-train:{key}:" not in text, f"{path} holds {key}"


@pytest.fixture
def team(harness, seeded_sandbox, monkeypatch):
    first = Train.start(harness, seeded_sandbox, monkeypatch)
    first.promote("testing")
    through_gate(first, lambda: first.promote("staging"))
    return first, Copy.of(first, "operator-b"), Copy.of(first, "operator-c")


def test_team_pick_by_a_is_seen_and_kept_by_b_and_shown_to_a_third_copy(team):
    a, b, c = team
    repo = a.repo()
    skipped = a.outputs("testing")["skipped"]
    pick = skipped[-1]["sha"]

    # A cherry-picks; the new head waits for approval, and the pick is recorded already.
    day_two.cherry_pick(a.project, a.settings("staging"), [pick], by="ana")
    assert waits_at_gate(a)
    assert record(b).picks == (pick,)

    # B's plan (another folder, another PULUMI_HOME) shows A's pick on the release.
    b.log.clear()
    b.plan("staging")
    assert f"intent: queued pick {pick[:12]}" in b.transcript()
    shown = b.release("plan", "staging", "--date", RELEASE_DATE, actor="ben")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"recorded queued pick {pick[:12]}" in shown.stdout

    # B promotes the same release through the gate: the pick is merged and stays recorded.
    a.approve("staging")
    b.promote("staging")
    assert record(c).picks == (pick,)
    head = repo.get_branch(RELEASE).commit
    assert f"(cherry picked from commit {pick})" in head.commit.message
    assert b.outputs("staging")["state"] == "merged"
    # B's plain `pulumi up` (no delta) keeps it too.
    b.stack("staging").up(on_output=b.harness_log)
    assert record(c).picks == (pick,)

    # A third copy sees everything: the record, the release, who did what.
    rows = {row["environment"]: row for row in collect_status(c.project, live=False)}
    assert rows["staging"]["release"] == RELEASE
    assert f"queued pick {pick[:12]}" in rows["staging"]["intent"]
    assert f"pinned: {RELEASE}" in rows["staging"]["intent"][0]
    history = day_two.history(c.project, "staging")
    assert {"promotion", "pick"} <= {row.kind for row in history}
    assert "ana" in {row.who for row in history if row.kind == "pick"}
    status = c.release("status", "--json", actor="cleo")
    assert status.returncode == 0, status.stderr
    staging = next(r for r in json.loads(status.stdout) if r["environment"] == "staging")
    assert f"queued pick {pick[:12]}" in staging["intent"]
    no_intent_in_stack_files(a, b, c)


def hold_lock(train: Train, holder: subprocess.Popen[bytes]) -> Path:
    """A lock on staging as another operator's running update leaves it: a live process
    of this host named in the backend's lock file."""
    folder = Path(train.project.backend().removeprefix("file://"))
    locks = folder / ".pulumi" / "locks" / "organization" / "release-train" / "staging"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{uuid.uuid4()}.json"
    path.write_text(
        json.dumps(
            {
                "pid": holder.pid,
                "username": "ana",
                "hostname": socket.gethostname(),
                "timestamp": "2026-11-26T10:00:00Z",
            }
        )
    )
    return path


def test_team_pick_refused_by_the_lock_leaves_nothing_behind(team):
    a, b, _ = team
    repo = a.repo()
    pick = a.outputs("testing")["skipped"][-1]["sha"]
    before = record(a)
    head = repo.get_branch(RELEASE).commit.sha
    holder = subprocess.Popen(["sleep", "300"])
    try:
        lock = hold_lock(a, holder)
        refused = b.release("cherry-pick", "staging", pick, actor="ben")
    finally:
        holder.kill()
        holder.wait()
    lock.unlink()
    assert refused.returncode != 0
    assert "locked" in refused.stderr and "nothing was done or recorded" in refused.stderr
    assert "done" not in refused.stdout.replace("nothing was done", "")
    assert record(a) == before
    assert repo.get_branch(RELEASE).commit.sha == head
    no_intent_in_stack_files(a, b)

    # Next `promote` by A, meant to change nothing, changes nothing.
    a.sandbox.reset_counters()
    again = a.promote("staging")
    assert {k: v for k, v in again.summary.resource_changes.items() if k != "same"} == {}
    assert a.sandbox.writes() == 0


def test_team_pick_and_promote_started_together_both_recorded_or_refused(team):
    a, b, _ = team
    skipped = a.outputs("testing")["skipped"]
    pick = skipped[-1]["sha"]
    outcomes: dict[str, str] = {}

    def run(name: str, step: Callable[[], object]) -> None:
        try:
            step()
            outcomes[name] = "done"
        except auto.ConcurrentUpdateError:
            outcomes[name] = "refused"
        except (auto.CommandError, day_two.DayTwoError) as err:
            outcomes[name] = "gate" if "approval" in str(err) else f"failed: {str(err)[-1500:]}"

    threads = [
        threading.Thread(
            target=run,
            args=("pick", lambda: day_two.cherry_pick(a.project, a.settings("staging"), [pick])),
        ),
        threading.Thread(target=run, args=("promote", lambda: b.promote("staging", "2026-11-27"))),
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    assert set(outcomes.values()) <= {"done", "gate", "refused"}, outcomes
    after = record(a)
    # What ran is recorded; what the lock refused is not; nothing is lost.
    assert (pick in after.picks) == (outcomes["pick"] != "refused"), (outcomes, after)
    assert (after.release == "release/2026-11-27") == (outcomes["promote"] != "refused"), (
        outcomes,
        after,
    )
    no_intent_in_stack_files(a, b)


@pytest.fixture
def pg_team(engine, pulumi_home, tmp_path, postgres_backend, seeded_sandbox, monkeypatch):
    """Two working copies whose one shared backend is PostgreSQL (`postgres://`)."""
    harness = Harness(
        engine=engine,
        pulumi_home=pulumi_home,
        workdir=tmp_path / "e2e",
        extra_env={"PULUMI_BACKEND_URL": postgres_backend},
    )
    first = Train.start(harness, seeded_sandbox, monkeypatch)
    first.promote("testing")
    through_gate(first, lambda: first.promote("staging"))
    return first, Copy.of(first, "operator-b")


def test_team_record_on_postgres_is_shared_by_two_copies(pg_team):
    a, b = pg_team
    assert a.project.backend().startswith("postgres://")
    pick = a.outputs("testing")["skipped"][-1]["sha"]
    day_two.cherry_pick(a.project, a.settings("staging"), [pick], by="ana")
    assert waits_at_gate(a)
    # B, another folder and PULUMI_HOME on the same database, reads A's intent.
    seen = record(b)
    assert (seen.release, seen.picks) == (RELEASE, (pick,))
    # B's plain `up` (no delta) after the partner approved: A's pick is merged and kept.
    a.approve("staging")
    b.stack("staging").up(on_output=b.harness_log)
    assert record(a).picks == (pick,)
    assert b.outputs("staging")["state"] == "merged"
    no_intent_in_stack_files(a, b)
