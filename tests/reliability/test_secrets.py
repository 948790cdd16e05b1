"""No secret anywhere: after a whole weekly release and its failures, the forge token and the
state passphrase occur 0 times in the state files, the stack files, the command line's and
the engine's output, PULUMI_HOME, the forge's records (PR bodies, comments) and the errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from release.engine import automation
from sandbox.seed import REPO
from tests.reliability.cli_train import CliTrain

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def text_files(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every readable file under `root` as text (binary files included, decoded loosely)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not any(p in path.parts for p in skip):
            found[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return found


def forge_records(train: CliTrain) -> dict[str, str]:
    """Every pull request's title, body and comments, as the forge serves them."""
    repo = train.repo()
    records = {}
    for pull in repo.get_pulls(state="all"):
        comments = [c.body for c in pull.get_issue_comments()]
        reviews = [r.body or "" for r in pull.get_reviews()]
        records[f"PR #{pull.number}"] = "\n".join(
            [pull.title, pull.body or "", *comments, *reviews]
        )
    return records


def test_no_secret_after_a_weekly_release_and_its_failures(cli_train):
    train = cli_train
    sb = train.sandbox
    secrets = {
        "token": sb.token,
        "partner token": sb.reviewer_token,
        "passphrase": train.harness.passphrase,
    }
    errors: list[str] = []

    assert train.promote("testing").code == 0
    bad = train.release("promote", "staging", "--commit", "not-a-sha")
    assert bad.code == 1
    errors.append(bad.output)

    # The forge keeps failing the pull request's creation: the run gives up, clearly.
    sb.inject("POST", "/repos/{owner}/{repo}/pulls", "500", count=50)
    flaky = train.promote("staging")
    sb.clear_faults()
    assert flaky.code == 1 and "gave up" in flaky.output, flaky.describe()
    errors.append(flaky.output)

    # A wrong token in the stack: refused by the forge, the bad value is not echoed either.
    wrong = "wrong-token-" + "9" * 28
    secrets["wrong token"] = wrong
    automation.set_secret(train.project, "production", "token", wrong)
    refused = train.release("plan", "production")
    assert refused.code == 1
    errors.append(refused.output)
    automation.set_secret(train.project, "production", "token", sb.token)

    train.run_to_merge("staging")
    train.run_to_merge("production")
    assert train.outputs("production")["state"] == "merged"

    places: dict[str, str] = {
        "state files": train.harness.state_files_text(),
        "release output": train.transcript(),
        "errors": "\n".join(errors),
        **text_files(train.project.directory, skip=(".venv", "release")),
        **text_files(train.harness.pulumi_home, skip=("plugins",)),
        **text_files(Path(sb.data_dir), skip=("repos",)),
        **{
            f"forge {k}": v
            for k, v in text_files(Path(sb.data_dir) / "repos").items()
            if k.endswith(".json")
        },
        **forge_records(train),
    }
    assert places["state files"] and "PR #1" in places
    leaks = [
        f"{name} in {where}"
        for where, text in places.items()
        for name, secret in secrets.items()
        if secret in text
    ]
    assert leaks == [], leaks
    assert REPO in places["release output"] or "acme" in places["state files"]
