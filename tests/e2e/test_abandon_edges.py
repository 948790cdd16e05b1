"""`release abandon` at its edges (issue #13 item 4), under the real engine through the
`release` command: a stack's first release, and two cuts that share a commit. Each leaves a
history row; the first lets the same day's promotion open a new pull request."""

from __future__ import annotations

import json

import pytest

from release.engine.intent_store import read_record
from tests.reliability.cli_train import RELEASE, RELEASE_DATE, CliTrain

pytestmark = pytest.mark.e2e
NEXT = "2026-12-03"


@pytest.fixture
def cli(harness, seeded_sandbox):
    return CliTrain.start(harness, seeded_sandbox, harness.workdir)


def abandon_rows(cli: CliTrain, env: str) -> list[dict]:
    out = cli.release("history", env, "--json")
    assert out.code == 0, out.describe()
    return [r for r in json.loads(out.output[out.output.index("[") :]) if r["kind"] == "abandon"]


def test_abandoning_a_stacks_first_release_then_promoting_again_that_day(cli):
    repo = cli.repo()
    assert cli.release("promote", "testing").code == 0
    cut = cli.promote("staging")
    assert cut.code != 0 and "approval" in cut.output, cut.describe()
    (first,) = repo.get_pulls(state="open", base="staging")

    gone = cli.release("abandon", "staging", "--reason", "wrong commit")
    assert gone.code == 0, gone.describe()
    assert repo.get_pull(first.number).state == "closed"
    (row,) = abandon_rows(cli, "staging")
    assert row["release"] == RELEASE and "wrong commit" in row["summary"]
    assert "commit" not in cli.project.stack_file("staging")
    dropped = read_record(cli.project, "staging")  # the record's pins are removed too
    assert (dropped.commit, dropped.release) == (None, None)
    assert [e["op"] for e in dropped.log][-1] == "abandon"

    again = cli.release("promote", "staging", "--date", RELEASE_DATE)
    assert "is closed" not in again.output and "approval" in again.output, again.describe()
    (second,) = repo.get_pulls(state="open", base="staging")
    assert second.number != first.number


def test_abandoning_a_cut_that_shares_its_commit_goes_back_one_release(cli):
    repo = cli.repo()
    assert cli.release("promote", "testing").code == 0
    cli.run_to_merge("staging")  # staging runs release/2026-11-26
    pinned = read_record(cli.project, "staging")
    # Nothing new is green: next week's cut is the same commit under another name.
    cut = cli.release("promote", "staging", "--date", NEXT)
    assert cut.code != 0 and "approval" in cut.output, cut.describe()
    cut_record = read_record(cli.project, "staging")
    assert (cut_record.commit, cut_record.release) == (pinned.commit, f"release/{NEXT}")

    gone = cli.release("abandon", "staging", "--reason", "skip this week")
    assert gone.code == 0, gone.describe()
    assert f"pinned back to {RELEASE}" in " ".join(gone.output.split())
    after = read_record(cli.project, "staging")
    assert (after.commit, after.release_date) == (pinned.commit, RELEASE_DATE)
    assert "commit" not in cli.project.stack_file("staging")  # never in the stack file
    assert not list(repo.get_pulls(state="open", base="staging"))
    (row,) = abandon_rows(cli, "staging")
    assert row["release"] == f"release/{NEXT}" and row["result"] == "succeeded"
    assert cli.outputs("staging")["releaseBranch"] == RELEASE
