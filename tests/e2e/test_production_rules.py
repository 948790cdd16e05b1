"""Production promotes only the release staging merged, after its soak counted from that
merge (issue #13 item 4), under the real engine through the `release` command: --date and
--commit cannot bypass it; --force needs --reason, names every rule it overrides and leaves
it in history."""

from __future__ import annotations

import json

import pytest

from tests.reliability.cli_train import RELEASE, CliTrain

pytestmark = pytest.mark.e2e
UNSTAGED = "release/2026-11-01"


@pytest.fixture
def cli(harness, seeded_sandbox):
    return CliTrain.start(harness, seeded_sandbox, harness.workdir)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_production_refuses_an_unstaged_or_unsoaked_release_unless_forced(cli):
    repo = cli.repo()
    assert cli.release("promote", "testing").code == 0
    cli.run_to_merge("staging")  # staging merged release/2026-11-26 today (the soak's start)
    staged = cli.outputs("staging")
    assert staged["releaseBranch"] == RELEASE and staged["state"] == "merged"

    # Its soak counts from today's staging merge, not from the 26th in the branch's name.
    unsoaked = cli.release("promote", "production")
    assert unsoaked.code != 0 and unsoaked.writes == 0, unsoaked.describe()
    assert "[soak]" in unsoaked.output and "since its staging merge" in flat(unsoaked.output)
    assert "[staged]" not in unsoaked.output

    # --date: a release staging never ran, old enough by its name: unstaged and unsoaked.
    unstaged = cli.release("promote", "production", "--date", "2026-11-01")
    assert unstaged.code != 0 and unstaged.writes == 0, unstaged.describe()
    assert "[staged]" in unstaged.output and "[soak]" in unstaged.output
    assert UNSTAGED not in [b.name for b in repo.get_branches()]

    # --commit: another commit than the one staging merged.
    other = repo.get_branch("master").commit.sha
    assert other != staged["releaseHead"]
    moved = cli.release("promote", "production", "--commit", other)
    assert moved.code != 0 and moved.writes == 0 and "[staged]" in moved.output

    # --force alone is refused: it needs a reason, kept in history.
    bare = cli.release("promote", "production", "--date", "2026-11-01", "--force")
    assert bare.code != 0 and bare.writes == 0 and "--reason" in bare.output
    assert not list(repo.get_pulls(state="open", base="production"))

    # Forced with a reason: every overridden rule is named, and the reason is in history.
    reason = "drill: production restore test"
    forced = cli.release(
        "promote", "production", "--date", "2026-11-01", "--force", "--reason", reason
    )
    assert f"--force overrides staged, soak: {reason}" in flat(forced.output), forced.describe()
    history = cli.release("history", "production", "--json")
    assert history.code == 0, history.describe()
    rows = json.loads(history.output[history.output.index("[") :])
    assert any(f"overrides staged, soak: {reason}" in row["summary"] for row in rows), rows
