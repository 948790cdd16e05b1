"""Two `release promote staging` at once: one proceeds, the other is refused, state intact.

The first run is held by the sandbox right after its first forge write (it holds the stack's
lock then); the second starts meanwhile and must be refused at once with a message that
says another update is running, without touching the forge. The first then finishes
normally, and the promotion completes as usual.
"""

from __future__ import annotations

import subprocess

import pytest

from release.cli.common import GATE_WAIT_EXIT_CODE
from tests.reliability.cli_train import RELEASE, RELEASE_DATE, ok_writes

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_a_second_promote_is_refused_while_the_first_runs(cli_train):
    train = cli_train
    sb = train.sandbox
    assert train.promote("testing").code == 0
    args = ("promote", "staging", "--date", RELEASE_DATE)

    held = sb.pause_after_writes(1)
    first, first_log = train.spawn(*args)
    try:
        assert held.wait(timeout=240), first_log.read_text()
        writes = ok_writes(sb)
        second = train.release(*args, timeout=120)
        assert ok_writes(sb) == writes, "the refused run wrote to the forge"
    finally:
        sb.resume()
    try:
        first.wait(timeout=240)
    except subprocess.TimeoutExpired:
        first.kill()
        raise
    text = " ".join(second.output.split())
    assert second.code == 1, second.describe()
    assert "another update of staging is running" in text, second.describe()
    assert "recovered:" not in text, "a live run's lock must never be cancelled"

    # The first run went on to the merge gate, as a lone run does.
    first_text = first_log.read_text()
    assert first.returncode == GATE_WAIT_EXIT_CODE and "needs 1 more approval" in first_text, (
        first_text
    )
    deployment = train.deployment("staging")
    assert not deployment.get("pending_operations")
    types = sorted(r["type"].rsplit(":", 1)[-1] for r in deployment["resources"])
    assert {"ReleaseBranch", "OursMerge", "PullRequest"} <= set(types)

    train.approve("staging")
    final = train.promote("staging")
    assert final.code == 0, final.describe()
    assert train.outputs("staging")["state"] == "merged"
    repo = train.repo()
    assert len([p for p in repo.get_pulls(state="all") if p.head.ref == RELEASE]) == 1
    assert sb.forced_updates("acme/service") == []
