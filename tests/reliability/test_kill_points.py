"""Crash at every step: SIGKILL the engine right after each forge write of a promotion.

The uninterrupted staging promotion is run first and its engine writes counted (sandbox
counters). Then, for each k in 1..N, the same promotion starts from the same forge and state,
the sandbox pauses right after the k-th write, and `release promote` (CLI, engine, language
host and providers: the whole process tree) is SIGKILLed. A request the engine had in flight is
still served after the kill, as when a client dies mid-request. Then `release promote` is
simply run again (it clears the dead run's lock and pending operations itself), CI and the
partner approve when the gate asks, until merged. The end state must equal the
uninterrupted run's, up to the timestamps inside new commits.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

import pytest

from release.sandbox.seed import REPO
from tests.e2e.harness import Harness
from tests.reliability.cli_train import RELEASE, CliTrain, git_refs
from tests.reliability.conftest import start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@dataclass(frozen=True)
class EndState:
    """The shape of a finished staging promotion, independent of commit timestamps."""

    ref_names: frozenset[str]
    unchanged_refs: dict[str, str]
    release_parents: tuple[str, ...]
    release_tree: str
    staging_parents: tuple[str, ...]
    staging_is_release_merge: bool
    new_commits_on_staging: int
    pulls: tuple[tuple[str, str, str, bool], ...]
    forced_updates: int
    outputs: dict[str, Any]
    pending_operations: int


def end_state(train: CliTrain, before: dict[str, str]) -> EndState:
    repo = train.repo()
    refs = git_refs(train.sandbox)
    release_head = refs[f"refs/heads/{RELEASE}"]
    staging_head = refs["refs/heads/staging"]
    release = repo.get_git_commit(release_head)
    staging = repo.get_git_commit(staging_head)
    staging_parents = tuple(p.sha for p in staging.parents)
    pulls = tuple(
        sorted(
            (p.head.ref, p.base.ref, p.state, bool(p.merged))
            for p in repo.get_pulls(state="all")
            if p.head.ref == RELEASE
        )
    )
    outputs = train.outputs("staging")
    return EndState(
        ref_names=frozenset(refs),
        unchanged_refs={k: v for k, v in refs.items() if k in before and k != "refs/heads/staging"},
        release_parents=tuple(p.sha for p in release.parents),
        release_tree=release.tree.sha,
        staging_parents=(staging_parents[0],),
        staging_is_release_merge=staging_parents[1:] == (release_head,),
        new_commits_on_staging=repo.compare(
            before["refs/heads/staging"], staging_head
        ).total_commits,
        pulls=pulls,
        forced_updates=len(train.sandbox.forced_updates(REPO)),
        outputs={
            "state": outputs.get("state"),
            "releaseBranch": outputs.get("releaseBranch"),
            "prNumber": outputs.get("prNumber"),
            "mergeCommitIsStaging": outputs.get("mergeCommit") == staging_head,
            "releaseHeadIsBranch": outputs.get("releaseHead") == release_head,
        },
        pending_operations=len(train.deployment("staging").get("pending_operations") or []),
    )


@pytest.mark.timeout(1800)
def test_staging_promotion_survives_a_kill_at_every_write(
    cli_train, harness, seeded_sandbox, tmp_path
):
    train = cli_train
    assert train.promote("testing").code == 0
    template = tmp_path / "template"
    seeded_sandbox.stop()
    shutil.copytree(seeded_sandbox.data_dir, template / "forge")
    shutil.copytree(harness.workdir, template / "e2e", symlinks=True)
    port = seeded_sandbox.port

    def fresh(name: str) -> tuple[Any, CliTrain, dict[str, str]]:
        dest = tmp_path / name
        shutil.copytree(template, dest, symlinks=True)
        sandbox = start_sandbox(dest / "forge", port)
        copy = Harness(harness.engine, harness.pulumi_home, dest / "e2e")
        copy.passphrase = harness.passphrase
        return sandbox, CliTrain.attach(copy, sandbox, dest / "e2e" / "release-train"), {}

    # The uninterrupted run: how many writes the promotion's own runs make.
    sandbox, reference_train, _ = fresh("reference")
    try:
        before = git_refs(sandbox)
        runs = reference_train.run_to_merge("staging")
        total = sum(o.writes for o in runs)
        reference = end_state(reference_train, before)
    finally:
        sandbox.stop()
    assert reference.outputs["state"] == "merged" and reference.pulls == (
        (RELEASE, "staging", "closed", True),
    )
    assert total >= 5, [o.describe() for o in runs]

    passed: list[int] = []
    failures: list[str] = []
    for k in range(1, total + 1):
        sandbox, train, _ = fresh(f"kill-{k}")
        try:
            runs = train.run_to_merge("staging", kill_at=k)
            assert any(o.killed for o in runs), f"kill point {k} never fired"
            state = end_state(train, before)
            if state == reference:
                passed.append(k)
                print(f"kill point {k}/{total}: converged", flush=True)
            else:
                failures.append(f"kill point {k}: {state} != {reference}\n{train.transcript()}")
        except AssertionError as err:
            failures.append(f"kill point {k}: {err}")
        finally:
            sandbox.stop()
    print(f"\nstaging promotion: {total} kill points tried, {len(passed)} passed")
    assert not failures, "\n\n".join(failures)
    assert passed == list(range(1, total + 1))
