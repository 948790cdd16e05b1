"""Bad input stops before any forge write, with a message naming what is wrong and the fix.

Command-line arguments are checked by `release` itself (no engine run); the forge's own
settings (merge commits disallowed, no environment branch, a release branch already cut
elsewhere) are found by the program's reads or the branch provider, under the real engine.
Config keys given malformed values are covered by tests/unit/test_config.py and
tests/e2e/test_promotion.py; here they go through the command line once each.
"""

from __future__ import annotations

import os
import re

import pytest
from pulumi import automation as auto

from release.engine import automation
from sandbox.seed import seed
from tests.conftest import start_sandbox
from tests.e2e.harness import Harness
from tests.reliability.cli_train import RELEASE, CliTrain

pytestmark = pytest.mark.e2e
SHA = "6b7d8cb04ae5c35c2f599aea92b4404526c84d64"


def refused(train: CliTrain, *args: str, traceback: bool = False) -> str:
    """Run `release ARGS`: it must fail, having written nothing to the forge.

    An error of a dynamic provider reaches the engine's output with its traceback; the
    command line's own refusals never show one.
    """
    sb = train.sandbox
    sb.reset_counters()
    outcome = train.release(*args)
    assert outcome.code not in (0, None), outcome.describe()
    assert sb.writes() == 0, (sb.counters(), outcome.describe())
    assert traceback or "Traceback" not in outcome.output, outcome.describe()
    return " ".join(outcome.output.split())


ARGUMENTS = [
    (("promote", "stagin"), r"unknown environment 'stagin'.*choose one of .*staging"),
    (("plan", "prod"), r"unknown environment 'prod'.*production"),
    (("promote", "staging", "--commit", "6b7d8cb"), r"--commit.*full 40-character"),
    (("promote", "staging", "--commit", "xyz" * 14), r"--commit.*full 40-character"),
    (("promote", "staging", "--date", "2026-13-45"), r"--date.*YYYY-MM-DD"),
    (("promote", "staging", "--date", "26/11/2026"), r"--date.*YYYY-MM-DD"),
    (("plan", "staging", "--date", "20261126"), r"--date.*YYYY-MM-DD"),
    (("promote", "testing", "--commit", SHA), r"testing tracks its source branch.*--commit"),
    (
        ("promote", "staging"),
        r"testing has recorded nothing to promote yet.*release promote testing",
    ),
]


@pytest.fixture(scope="module")
def arg_train(engine, pulumi_home, seed_cache, tmp_path_factory):  # noqa: F811
    """One project on one sandbox for every argument case (none of them changes anything)."""
    work = tmp_path_factory.mktemp("bad-args")
    seed(work / "forge", cache_dir=seed_cache)
    sandbox = start_sandbox(work / "forge")
    harness = Harness(engine=engine, pulumi_home=pulumi_home, workdir=work / "e2e")
    root = os.environ.get("RELEASE_TRAIN_PULUMI_ROOT")
    os.environ["RELEASE_TRAIN_PULUMI_ROOT"] = str(engine.bin_dir.parent)
    try:
        yield CliTrain.start(harness, sandbox, work / "e2e")
    finally:
        sandbox.stop()
        if root is None:
            os.environ.pop("RELEASE_TRAIN_PULUMI_ROOT", None)
        else:
            os.environ["RELEASE_TRAIN_PULUMI_ROOT"] = root


@pytest.mark.parametrize(("args", "message"), ARGUMENTS, ids=[" ".join(a) for a, _ in ARGUMENTS])
def test_a_malformed_argument_stops_before_any_write(arg_train, args, message):
    text = refused(arg_train, *args)
    assert re.search(message, text), text


@pytest.mark.slow
def test_forge_settings_that_forbid_the_promotion_stop_before_any_write(cli_train):
    train = cli_train
    assert train.promote("testing").code == 0
    repo = train.repo()

    # A commit that is no commit of the repository: named, and nothing cut.
    text = refused(train, "promote", "staging", "--commit", "f" * 40, "--date", "2026-11-26")
    assert "--commit" in text and "f" * 40 in text and "no such commit" in text

    # The repository does not allow merge commits (a release is never squashed or rebased).
    repo.edit(allow_merge_commit=False)
    text = refused(train, "promote", "staging", "--date", "2026-11-26")
    assert "does not allow merge commits" in text and "Allow merge commits" in text
    repo.edit(allow_merge_commit=True)

    # The environment branch is missing.
    automation.pin(train.project, "staging", {"environment": "stage"})
    text = refused(train, "promote", "staging", "--date", "2026-11-26")
    assert "release-train:environment" in text and "no such branch" in text
    automation.pin(train.project, "staging", {"environment": "staging"})

    # The release branch already exists at another commit: nothing is moved.
    elsewhere = repo.get_git_ref("heads/release/2026-11-19").object.sha
    repo.create_git_ref(f"refs/heads/{RELEASE}", elsewhere)
    text = refused(train, "promote", "staging", "--date", "2026-11-26", traceback=True)
    assert f"{RELEASE} already exists at {elsewhere[:12]}" in text
    assert f"release promote ENV --commit {elsewhere} --date 2026-11-26" in text
    assert "or cut under another --date" in text
    assert repo.get_git_ref(f"heads/{RELEASE}").object.sha == elsewhere
    assert [p for p in repo.get_pulls(state="all") if p.head.ref == RELEASE] == []

    # Intent left in the stack file, its old place: `release promote` and a plain `pulumi up`
    # both refuse it before any forge write, naming the keys, how to remove them and the
    # command that records the same pin in the stack's record.
    green = str(automation.outputs(train.project, "testing")["greenCommit"])
    automation.pin(train.project, "staging", {"commit": green, "releaseDate": "2026-11-26"})
    text = refused(train, "promote", "staging")
    assert "Pulumi.staging.yaml: sets release-train:commit, release-train:releaseDate" in text
    assert "pulumi config rm release-train:commit -s staging" in text
    assert f"release promote staging --commit {green} --date 2026-11-26" in text
    stack = automation.stack(train.project, "staging")
    train.sandbox.reset_counters()
    with pytest.raises(auto.CommandError) as caught:
        stack.up()
    engine = " ".join(str(caught.value).split())
    assert "Pulumi.staging.yaml sets release-train:commit, release-train:releaseDate" in engine
    assert f"release promote staging --commit {green} --date 2026-11-26" in engine
    assert train.sandbox.writes() == 0, train.sandbox.counters()
    stack.remove_config("release-train:commit")
    stack.remove_config("release-train:releaseDate")
    assert [p for p in repo.get_pulls(state="all") if p.head.ref == RELEASE] == []
