"""A closed gate is a state and an expected refusal is a short message, under the real engine:
`release promote` and `release cherry-pick` as a user runs them (exit codes, stderr)."""

from __future__ import annotations

import json

import pytest

from release.cli.common import GATE_WAIT_EXIT_CODE, REFUSED_EXIT_CODE
from tests.e2e.test_ppc_rollout import Cli, flat
from tests.e2e.test_ppc_rollout import train as train  # noqa: F401 - the fixture
from tests.e2e.train import RELEASE_DATE

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"
NOISE = ("Traceback", "Resource monitor has terminated", "Outputs:", "unexpected")


def test_gate_wait_exits_3_with_the_reasons_then_merges(train, monkeypatch):  # noqa: F811
    cli = Cli(monkeypatch)
    assert cli("promote", "testing")[0] == 0
    code, out = cli("promote", "staging", "--date", RELEASE_DATE)
    text = flat(out)
    assert code == GATE_WAIT_EXIT_CODE, out
    pull = next(p for p in train.repo().get_pulls(state="open", base="staging"))
    head = train.repo().get_branch(RELEASE).commit.sha
    assert f"{RELEASE} waits at the merge gate" in text
    assert f"pull request: #{pull.number}" in text and f"head: {head}" in text
    assert "missing approval: needs 1 more approval(s)" in text and "oncall-partner" in text
    # Opened by this very run: nobody can have approved it, so nothing of its gate was read;
    # the block says so, and names each configured check that must pass on the head.
    assert "the pull request was just opened by this run, nobody has reviewed it yet" in text
    for check in ("ci/travis", "test"):
        assert f"missing check: check {check} must pass on {head[:12]} (not read yet" in text
    assert "next: once the checks are green" in text and "`release promote staging`" in text
    for noise in NOISE:
        assert noise not in out, out
    assert "is up to date" not in out and "gate: waiting" in text
    assert "payload: " in text and "Resources:" not in out  # concise: no engine stream

    # status --json carries the same reasons, recorded and live.
    code, out = cli("status", "--json")
    row = {r["environment"]: r for r in json.loads(out[out.index("[") :])}["staging"]
    assert code == 0 and row["gate"]["state"] == "waiting"
    assert any("oncall-partner" in r for r in row["gate"]["reasons"])
    assert f"#{pull.number} waits" in row["waiting"]

    # Once approved, the same command merges and says so; --verbose shows the engine's stream.
    train.approve("staging")
    code, out = cli("promote", "staging", "--date", RELEASE_DATE, "--verbose")
    assert code == 0, out
    assert "Resources:" in out and "gate: merged (merge commit" in flat(out)
    values = train.outputs("staging")
    assert values["state"] == "merged" and values["gate"] == {"state": "merged", "reasons": []}
    assert train.repo().get_pull(pull.number).merged

    # The stack's outputs carry the payload in brief; `release payload` shows all of it.
    assert "payload" not in values
    code, out = cli("payload", "staging", "--json")
    whole = json.loads(out[out.index("{") :])
    assert code == 0 and len(whole["commits"]) == values["payloadSummary"]["commits"] > 0
    assert whole["pins"] == values["payloadSummary"]["pins"]


def test_a_conflicting_pick_is_refused_with_its_files_and_exit_4(
    train,  # noqa: F811
    monkeypatch,
    commit_files,
):
    cli = Cli(monkeypatch)
    assert cli("promote", "testing")[0] == 0
    assert cli("promote", "staging", "--date", RELEASE_DATE)[0] == GATE_WAIT_EXIT_CODE
    train.approve("staging")
    assert cli("promote", "staging", "--date", RELEASE_DATE)[0] == 0
    repo = train.repo()
    before = repo.get_branch(RELEASE).commit.sha
    # Two master commits on the same line: the second alone cannot apply to the release.
    commit_files(repo, "master", {"README.md": "first rewrite\n"}, "rewrite the readme")
    second = commit_files(repo, "master", {"README.md": "second rewrite\n"}, "again")

    code, out = cli("cherry-pick", "staging", second)
    text = flat(out)
    assert code == REFUSED_EXIT_CODE, out
    assert f"cherry-pick of {second[:12]} onto {RELEASE} conflicts in: - README.md" in text
    assert "Nothing was pushed" in text and "next:" in text
    assert "Traceback" not in out and "unexpected" not in out
    assert repo.get_branch(RELEASE).commit.sha == before
