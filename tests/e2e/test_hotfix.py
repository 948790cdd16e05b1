"""A hotfix pushed straight onto the running release is never lost (issue #13), under the real
engine, through the `release` command as oncall runs it; and the promotion then waiting at the
gate is continued by `release promote` without --date, whatever today's date is."""

from __future__ import annotations

import time

import pytest

from release.engine import automation
from tests.reliability.cli_train import RELEASE, CliTrain

pytestmark = pytest.mark.e2e
NEXT = "2026-12-03"


@pytest.fixture
def cli(harness, seeded_sandbox):
    return CliTrain.start(harness, seeded_sandbox, harness.workdir)


def test_a_hotfix_on_the_running_release_stops_plan_and_promote_until_carried(cli, commit_files):
    sb, repo = cli.sandbox, cli.repo()
    assert cli.release("promote", "testing").code == 0
    cli.run_to_merge("staging")  # staging runs release/2026-11-26
    # The common hotfix: one commit pushed straight onto the running release branch, on no
    # other branch, not merged into staging.
    fix = commit_files(repo, RELEASE, {"app/hotfix.py": "PATCHED = True\n"}, "Hotfix on 11-26")
    time.sleep(0.5)  # the sandbox counts a write after answering it: let the count settle

    plan = cli.release("plan", "staging", "--date", NEXT)
    assert plan.code != 0 and plan.writes == 0, plan.describe()
    assert f"staging runs {RELEASE}" in plan.output or "would be lost" in plan.output
    assert "would be lost" in plan.output and fix[:12] in plan.output, plan.describe()
    assert f"--carry {fix}" in plan.output and "land each fix on master" in plan.output

    refused = cli.release("promote", "staging", "--date", NEXT)
    assert refused.code != 0 and refused.writes == 0, refused.describe()
    assert "would be lost" in refused.output and fix[:12] in refused.output
    assert f"release/{NEXT}" not in [b.name for b in repo.get_branches()]

    no_reason = cli.release("promote", "staging", "--date", NEXT, "--carry", fix)
    assert no_reason.code != 0 and no_reason.writes == 0 and "--reason" in no_reason.output

    # Carried explicitly: cherry-picked onto the new release before the ours-merge.
    reason = "customer outage, fix lands on master next week"
    carried = cli.release("promote", "staging", "--date", NEXT, "--carry", fix, "--reason", reason)
    assert carried.code != 0 and "approval" in carried.output, carried.describe()
    new_head = repo.get_branch(f"release/{NEXT}").commit.sha
    assert repo.get_contents("app/hotfix.py", ref=new_head).decoded_content == b"PATCHED = True\n"
    messages = [c.commit.message for c in repo.get_commits(sha=new_head)[:4]]
    assert any(f"(cherry picked from commit {fix})" in m for m in messages), messages
    stack = automation.stack(cli.project, "staging")
    assert any(reason in (entry.message or "") for entry in stack.history())

    # The promotion waits at the gate; the machine's date is not 2026-12-03, yet `release
    # promote` without --date continues release/2026-12-03 rather than cutting today's.
    cli.approve("staging")
    again = cli.release("promote", "staging")
    assert again.code == 0, again.describe()
    assert f"continues release/{NEXT}" in again.output
    out = cli.outputs("staging")
    assert out["releaseBranch"] == f"release/{NEXT}" and out["state"] == "merged"
    assert sb.forced_updates("acme/service") == []
