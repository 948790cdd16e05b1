"""release.deployments against the sandbox: find-or-create, idempotent statuses, retire,
fail, and the PPC deployments."""

from __future__ import annotations

import pytest

from release import deployments


@pytest.fixture
def repo(acme, github_client):
    return github_client(seconds_between_requests=0, seconds_between_writes=0).get_repo(
        acme.full_name
    )


def _states(deployment):
    return [s.state for s in deployment.get_statuses()]


def test_ensure_deployment_finds_before_it_creates(repo, sandbox):
    sha = repo.get_branch("master").commit.sha
    first = deployments.ensure_deployment(repo, "staging", sha, "release/2026-11-19")
    again = deployments.ensure_deployment(repo, "staging", sha, "release/2026-11-19")
    assert again.id == first.id and repo.get_deployments().totalCount == 1
    assert first.payload == {"release": "release/2026-11-19"}
    assert (first.environment, first.task, first.sha) == ("staging", "deploy", sha)
    assert first.production_environment is False
    other = deployments.ensure_deployment(repo, "production", sha, "release/2026-11-19")
    assert other.id != first.id and other.production_environment is True
    # a create answered 502 (before or after it happened) is looked for, then sent again
    sandbox.inject("POST", "/repos/acme/service/deployments", "502")
    third = deployments.ensure_deployment(repo, "staging", sha, "r", task="deploy:verify")
    assert repo.get_deployments(task="deploy:verify").totalCount == 1 and third.task == (
        "deploy:verify"
    )


def test_set_status_adds_a_state_once_with_its_log_url(repo):
    sha = repo.get_branch("master").commit.sha
    d = deployments.ensure_deployment(repo, "staging", sha, "release/2026-11-19")
    deployments.set_status(d, "in_progress", log_url="https://forge.example/pull/7")
    deployments.set_status(d, "in_progress", log_url="https://forge.example/pull/7")
    status = deployments.set_status(d, "success", description="x" * 300)
    assert _states(d) == ["success", "in_progress"]
    assert len(status["description"]) == deployments.DESCRIPTION_LIMIT
    latest = deployments.latest_status(d)
    assert latest is not None and latest["state"] == "success"
    record = deployments.current(repo, "staging")
    assert record is not None and (record.id, record.state, record.release) == (
        d.id,
        "success",
        "release/2026-11-19",
    )
    with pytest.raises(ValueError, match="unknown deployment state"):
        deployments.set_status(d, "done")


def test_retire_replaced_and_fail_open(repo, commit_files):
    first = repo.get_branch("master").commit.sha
    second = commit_files(repo, "master", {"a.txt": "a\n"}, "Add a")
    old = deployments.ensure_deployment(repo, "production", first, "release/2026-11-12")
    deployments.set_status(old, "success")
    new = deployments.ensure_deployment(repo, "production", second, "release/2026-11-19")
    deployments.set_status(new, "in_progress")
    assert deployments.current(repo, "production").id == old.id  # still what runs
    deployments.set_status(new, "success")  # production: GitHub's auto_inactive does not act
    assert _states(old)[0] == "success"
    assert deployments.retire_replaced(repo, "production", new.id, "replaced") == [old.id]
    assert _states(old)[0] == "inactive" and _states(new)[0] == "success"
    assert deployments.retire_replaced(repo, "production", new.id, "replaced") == []
    running = deployments.ensure_deployment(repo, "staging", second, "release/2026-11-19")
    deployments.set_status(running, "in_progress")
    done = deployments.ensure_deployment(repo, "staging", first, "release/2026-11-12")
    deployments.set_status(done, "success")
    failed = deployments.fail_open(repo, "staging", "release promote staging failed")
    assert failed == [running.id]
    assert _states(running)[0] == "failure" and _states(done)[0] == "success"
    assert deployments.fail_open(repo, "staging", "again") == []
    assert deployments.current(repo, "qa") is None


def test_ppc_deployments_one_per_ppc_and_commit(repo):
    sha = repo.get_branch("master").commit.sha
    assert deployments.ppc_environment("globex") == "ppc/globex"
    d = deployments.ensure_ppc_deployment(repo, "globex", sha, "release/2026-11-19", 1)
    assert (d.environment, d.task) == ("ppc/globex", deployments.PPC_TASK)
    assert d.payload == {"release": "release/2026-11-19", "ppc": "globex", "wave": 1}
    deployments.set_ppc_status(repo, "globex", sha, "release/2026-11-19", 1, "in_progress")
    deployments.set_ppc_status(
        repo, "globex", sha, "release/2026-11-19", 1, "success", log_url="https://ci/run/1"
    )
    deployments.set_ppc_status(repo, "initech", sha, "release/2026-11-19", 2, "failure")
    assert repo.get_deployments(task=deployments.PPC_TASK).totalCount == 2
    states = deployments.ppc_states(repo, ["globex", "initech", "hooli"])
    assert states["globex"] is not None and states["globex"].state == "success"
    assert states["globex"].log_url == "https://ci/run/1"
    assert states["initech"] is not None and states["initech"].state == "failure"
    assert states["hooli"] is None
    assert states["globex"].to_dict()["environment"] == "ppc/globex"


# The providers, after the engine's serialization round trip.


def test_deployment_provider_creates_once_and_the_status_finishes_it(repo, sandbox, commit_files):
    from release import forge
    from release.providers.deployment import DeploymentProvider, DeploymentStatusProvider
    from tests.support.providers import engine_copy

    first = repo.get_branch("master").commit.sha
    sha = commit_files(repo, "master", {"a.txt": "a\n"}, "Add a")
    common = {"api_url": sandbox.base_url, "repository": repo.full_name}
    provider = engine_copy(DeploymentProvider(), sandbox.token)
    inputs = {
        **common,
        "environment": "production",
        "sha": sha,
        "release": "release/2026-11-19",
        "task": "deploy",
        "description": "Promote release/2026-11-19 to production",
        "payload": {"pr": 7},
        "log_url": "http://forge/acme/service/pull/7",
    }
    try:
        assert provider.check({}, {**inputs, "sha": "abc"}).failures
        created = provider.create(inputs)
        assert created.outs["state"] == "in_progress"
        again = provider.create(inputs)  # a re-run after a lost state: adopted, not duplicated
        assert again.id == created.id and repo.get_deployments().totalCount == 1
        deployment = repo.get_deployment(int(created.id))
        assert deployment.payload == {"release": "release/2026-11-19", "pr": 7}
        assert _states(deployment) == ["in_progress"]
        old = deployments.ensure_deployment(repo, "production", first, "release/2026-11-12")
        deployments.set_status(old, "success")
        status = engine_copy(DeploymentStatusProvider(), sandbox.token)
        done_inputs = {
            **common,
            "environment": "production",
            "deployment_id": created.outs["deployment_id"],
            "state": "success",
            "log_url": "http://forge/acme/service/pull/7",
            "description": "release/2026-11-19 runs in production",
            "retire": "replaced by release/2026-11-19",
        }
        assert status.check({}, {**done_inputs, "state": "done"}).failures
        done = status.create(done_inputs)
        assert done.outs["retired"] == [old.id]
        assert _states(deployment) == ["success", "in_progress"]
        assert _states(old)[0] == "inactive"
        status.create(done_inputs)  # again: nothing added
        assert _states(deployment) == ["success", "in_progress"]
        # created again after success (state lost): the final status stays
        assert provider.create(inputs).outs["state"] == "success"
    finally:
        forge.set_token(None)


def test_a_ppc_wave_starts_and_finishes_its_deployments_once(repo, sandbox):
    from release.rules.ppc_jobs import PpcJob, PpcOutcome

    sha = repo.get_branch("master").commit.sha
    release = "release/2026-11-19"
    jobs = [PpcJob("globex", release, sha, 2), PpcJob("initech", release, sha, 2)]
    started = deployments.start_ppc_wave(repo, jobs)
    # created, and no status: started (GitHub shows it pending)
    assert {name: _states(s.deployment) for name, s in started.items()} == {
        "globex": [],
        "initech": [],
    }
    outcomes = [
        PpcOutcome("globex", True, "updated", "https://ci.example/run/1"),
        PpcOutcome("initech", False, "job exited 1"),
    ]
    assert deployments.finish_ppc_wave(repo, jobs, outcomes, started) == {
        "globex": "success",
        "initech": "failure",
    }
    globex = deployments.ppc_states(repo, ["globex"])["globex"]
    assert globex is not None and globex.log_url == "https://ci.example/run/1"
    # The rollout again (initech fixed): globex is not touched; initech, which had failed,
    # is in progress again while it runs.
    sandbox.reset_counters()
    again = deployments.start_ppc_wave(repo, jobs)
    assert _states(again["globex"].deployment) == ["success"]
    assert _states(again["initech"].deployment) == ["in_progress", "failure"]
    assert sandbox.writes() == 1
    deployments.finish_ppc_wave(repo, jobs[1:], [PpcOutcome("initech", True, "updated")])
    assert repo.get_deployments(task=deployments.PPC_TASK).totalCount == 2
    assert deployments.ppc_states(repo, ["initech"])["initech"].state == "success"
    # a job the executor never reported is left alone
    assert deployments.finish_ppc_wave(repo, jobs, []) == {}


def test_a_ppc_wave_lists_its_deployments_once_and_writes_two_per_ppc(repo, sandbox):
    from release.rules.ppc_jobs import PpcJob, PpcOutcome

    sha = repo.get_branch("master").commit.sha
    release = "release/2026-11-26"
    names = [f"ppc-{n:03d}" for n in range(120)]  # more than a page of deployments
    jobs = [PpcJob(name, release, sha, 1) for name in names]
    _reset(sandbox)
    started = deployments.start_ppc_wave(repo, jobs)
    deployments.finish_ppc_wave(
        repo, jobs, [PpcOutcome(n, True, "updated") for n in names], started
    )
    routes = _routes(sandbox)
    # one (empty) listing for the wave; per PPC the deployment and its final status
    assert routes.count("GET /repos/{owner}/{repo}/deployments") == 1
    assert routes.count("POST /repos/{owner}/{repo}/deployments") == len(names)
    assert routes.count("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses") == len(
        names
    )
    assert len(routes) == 1 + 2 * len(names)
    # A kill mid-wave, then the wave again: the listing (its pages) finds every deployment,
    # one status read each, and nothing is written again.
    pages = -(-len(names) // repo.requester.per_page)
    assert pages > 1
    _reset(sandbox)
    again = deployments.start_ppc_wave(repo, jobs)
    deployments.finish_ppc_wave(repo, jobs, [PpcOutcome(n, True, "updated") for n in names], again)
    routes = _routes(sandbox)
    assert sandbox.writes() == 0 and routes.count("GET /repos/{owner}/{repo}/deployments") == pages
    assert len(routes) == pages + len(names)
    assert repo.get_deployments(task=deployments.PPC_TASK).totalCount == len(names)
    assert {name: _states(s.deployment) for name, s in list(again.items())[:2]} == {
        "ppc-000": ["success"],
        "ppc-001": ["success"],
    }


def test_a_ppc_wave_resource_records_each_ppcs_deployment(repo, sandbox, tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    from release import forge
    from release.providers.ppc_wave import PpcWaveFailed, PpcWaveProvider, ppcs_text
    from release.rules.ppcs import Ppc
    from tests.support.providers import engine_copy

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # `python -m release.ppc_deploy`
    sha = repo.get_branch("master").commit.sha
    command = (
        f"{sys.executable} -m release.ppc_deploy --state {{state}} --ppc {{ppc}} "
        "--release {release} --commit {commit}"
    )
    props = {
        "wave": 2,
        "release": "release/2026-11-26",
        "commit": sha,
        "ppcs": ppcs_text([Ppc("globex", 2, {}), Ppc("initech", 2, {})]),
        "pins": {},
        "environment": {},
        "executor": {"kind": "command", "command": command, "state": str(tmp_path)},
        "deployments": {"api_url": sandbox.base_url, "repository": repo.full_name},
    }
    (tmp_path / "fail").write_text("initech\n")
    provider = engine_copy(PpcWaveProvider(), sandbox.token)
    try:
        with pytest.raises(PpcWaveFailed):
            provider.create(props)
        found = deployments.ppc_states(repo, ["globex", "initech"])
        assert found["globex"].state == "success" and found["initech"].state == "failure"
        (tmp_path / "fail").unlink()
        provider.create(props)  # again: initech is updated, globex only found again
        assert repo.get_deployments(task=deployments.PPC_TASK).totalCount == 2
        globex, initech = (
            repo.get_deployments(environment=f"ppc/{n}")[0] for n in ("globex", "initech")
        )
        assert _states(globex) == ["success"]
        assert _states(initech) == ["success", "in_progress", "failure"]
        # without `deployments`, a wave writes nothing to the forge
        sandbox.reset_counters()
        provider.create({**props, "deployments": None, "commit": "f" * 40})
        assert sandbox.writes() == 0
    finally:
        forge.set_token(None)


def _reset(sandbox) -> None:
    """Start counting afresh once the requests already answered are recorded."""
    sandbox.served()  # waits for the requests being served to be recorded
    sandbox.reset_counters()


def _routes(sandbox) -> list[str]:
    """The deployment routes served since the last reset, in order."""
    return [s.key for s in sandbox.served() if "/deployments" in s.key]


def test_a_deployment_and_its_final_status_read_nothing_they_already_know(
    repo, sandbox, commit_files
):
    from release import forge
    from release.providers.deployment import DeploymentProvider, DeploymentStatusProvider
    from tests.support.providers import engine_copy

    sha = commit_files(repo, "master", {"b.txt": "b\n"}, "Add b")
    common = {"api_url": sandbox.base_url, "repository": repo.full_name}
    inputs = {
        **common,
        "environment": "qa",
        "sha": sha,
        "release": "release/2026-11-26",
        "task": "deploy",
        "payload": {},
        "log_url": "http://forge/acme/service/pull/8",
        "run": "run-1",
    }
    listing = "GET /repos/{owner}/{repo}/deployments"
    add_status = "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
    read_status = "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
    provider = engine_copy(DeploymentProvider(), sandbox.token)
    status = engine_copy(DeploymentStatusProvider(), sandbox.token)
    try:
        _reset(sandbox)
        created = provider.create(inputs)
        # looked for, created, marked: the new deployment's statuses are not read
        assert _routes(sandbox) == [listing, "POST /repos/{owner}/{repo}/deployments", add_status]
        assert (created.outs["state"], created.outs["state_run"]) == ("in_progress", "run-1")
        done_inputs = {
            **common,
            "environment": "qa",
            "deployment_id": created.outs["deployment_id"],
            "state": "success",
            "description": "release/2026-11-26 runs in qa",
            "deployment_state": created.outs["state"],
            "deployment_run": created.outs["state_run"],
        }
        _reset(sandbox)
        status.create({**done_inputs, "run": "run-1"})  # the same run: its state is known
        assert _routes(sandbox) == [add_status]
        deployment = repo.get_deployment(int(created.id))
        assert _states(deployment) == ["success", "in_progress"]
        # The next run (say, after a kill right after that status): the Deployment's state
        # is an earlier run's, so the status is read, and not added again.
        _reset(sandbox)
        status.create({**done_inputs, "run": "run-2"})
        assert _routes(sandbox) == [read_status]
        assert _states(deployment) == ["success", "in_progress"]
        # A deployment found (not created) has its status read before anything is added.
        _reset(sandbox)
        assert provider.create({**inputs, "run": "run-2"}).outs["state"] == "success"
        assert _routes(sandbox) == [listing, read_status]
        # Its final status in the same run, nothing in between: no `in_progress` first.
        other = commit_files(repo, "master", {"c.txt": "c\n"}, "Add c")
        _reset(sandbox)
        quiet = provider.create({**inputs, "sha": other, "run": "run-3", "in_progress": False})
        assert _routes(sandbox) == [listing, "POST /repos/{owner}/{repo}/deployments"]
        assert quiet.outs["state"] is None and quiet.outs["state_run"] == "run-3"
        _reset(sandbox)
        status.create(
            {
                **done_inputs,
                "deployment_id": quiet.outs["deployment_id"],
                "deployment_state": None,
                "deployment_run": "run-3",
                "run": "run-3",
            }
        )
        assert _routes(sandbox) == [add_status]
        assert _states(repo.get_deployment(int(quiet.id))) == ["success"]
    finally:
        forge.set_token(None)


def test_the_deployment_of_a_merge_commit_this_run_made_is_created_without_a_lookup(
    repo, sandbox, commit_files
):
    from release import forge
    from release.providers.deployment import DeploymentProvider
    from tests.support.providers import engine_copy

    sha = commit_files(repo, "master", {"m.txt": "m\n"}, "a merge commit")
    inputs = {
        "api_url": sandbox.base_url,
        "repository": repo.full_name,
        "environment": "staging",
        "sha": sha,
        "release": "release/2026-11-26",
        "task": "deploy",
        "payload": {},
        "run": "run-1",
        "merge_run": "run-1",  # the Merge of this very run made `sha`
        "in_progress": False,
    }
    listing = "GET /repos/{owner}/{repo}/deployments"
    create = "POST /repos/{owner}/{repo}/deployments"
    provider = engine_copy(DeploymentProvider(), sandbox.token)
    try:
        _reset(sandbox)
        made = provider.create(inputs)
        assert _routes(sandbox) == [create]  # a brand-new commit has no deployment to find
        # A later run (after a kill before the state was written): the merge is an earlier
        # run's, so the deployment is looked for and adopted, not created twice.
        for merge_run in ("run-1", None):
            _reset(sandbox)
            again = provider.create({**inputs, "run": "run-2", "merge_run": merge_run})
            assert again.id == made.id and _routes(sandbox)[0] == listing
            assert create not in _routes(sandbox)
        assert repo.get_deployments(environment="staging").totalCount == 1
        # No run id at all: never taken for "this run".
        other = commit_files(repo, "master", {"n.txt": "n\n"}, "another")
        _reset(sandbox)
        provider.create({**inputs, "sha": other, "run": None, "merge_run": None})
        assert _routes(sandbox) == [listing, create]
        # A create that failed uncertainly is looked for before it is sent again.
        third = commit_files(repo, "master", {"o.txt": "o\n"}, "a third")
        sandbox.inject("POST", "/repos/acme/service/deployments", "502")
        provider.create({**inputs, "sha": third, "run": "run-3", "merge_run": "run-3"})
        assert repo.get_deployments(environment="staging", sha=third).totalCount == 1
    finally:
        forge.set_token(None)


@pytest.mark.parametrize("environment", ["qa", "production"])
def test_retiring_reads_only_the_statuses_it_does_not_know(
    repo, sandbox, commit_files, environment
):
    from release import forge
    from release.providers.deployment import DeploymentStatusProvider
    from tests.support.providers import engine_copy

    first = repo.get_branch("master").commit.sha
    second = commit_files(repo, "master", {"d.txt": "d\n"}, "Add d")
    old = deployments.ensure_deployment(repo, environment, first, "release/2026-11-19")
    deployments.set_status(old, "success")
    failed = deployments.ensure_deployment(repo, environment, second, "release/2026-11-12")
    deployments.set_status(failed, "failure")
    new = deployments.ensure_deployment(repo, environment, second, "release/2026-11-26", "x")
    status = engine_copy(DeploymentStatusProvider(), sandbox.token)
    inputs = {
        "api_url": sandbox.base_url,
        "repository": repo.full_name,
        "environment": environment,
        "deployment_id": new.id,
        "state": "success",
        "retire": "replaced by release/2026-11-26",
        "deployment_run": "run-1",
        "run": "run-1",
    }
    add_status = "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
    read_status = "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
    listing = "GET /repos/{owner}/{repo}/deployments"
    try:
        _reset(sandbox)
        done = status.create(inputs)
        if environment == "production":
            # a listing has no state: each earlier one is read (never the new one), and the
            # successful one is retired without reading it again
            assert _routes(sandbox) == [add_status, listing, read_status, read_status, add_status]
            assert done.outs["retired"] == [old.id]
        else:
            # outside production the success itself retired the earlier ones (GitHub's
            # auto_inactive): nothing older is read
            assert _routes(sandbox) == [add_status, listing]
            assert done.outs["retired"] == []
        assert _states(old)[0] == "inactive" and _states(failed) == ["failure"]
        assert _states(new) == ["success"]
        # again, from another run (the success is already there): nothing is written
        _reset(sandbox)
        assert status.create({**inputs, "run": "run-2"}).outs["retired"] == []
        assert sandbox.writes() == 0
    finally:
        forge.set_token(None)


def test_the_readers_read_each_status_they_need_once(repo, sandbox, commit_files):
    first = repo.get_branch("master").commit.sha
    second = commit_files(repo, "master", {"e.txt": "e\n"}, "Add e")
    for sha, release, names in (
        (first, "release/2026-11-19", ["globex", "initech", "hooli"]),
        (second, "release/2026-11-26", ["globex", "initech"]),
    ):
        for name in names:
            deployments.set_ppc_status(repo, name, sha, release, 1, "success")
    listing = "GET /repos/{owner}/{repo}/deployments"
    read_status = "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
    _reset(sandbox)
    found = deployments.ppc_states(repo, ["globex", "initech", "hooli", "acme"])
    # one listing of every PPC deployment; the one never deployed looked up on its own
    assert _routes(sandbox) == [listing, read_status, read_status, read_status, listing]
    assert {name: rec and rec.release for name, rec in found.items()} == {
        "globex": "release/2026-11-26",
        "initech": "release/2026-11-26",
        "hooli": "release/2026-11-19",
        "acme": None,
    }
    assert found["globex"].created_at.endswith("Z") and "T" in found["globex"].created_at
    assert deployments.ppc_states(repo, []) == {}
    for sha, release in ((first, "release/2026-11-19"), (second, "release/2026-11-26")):
        deployments.set_status(deployments.ensure_deployment(repo, "qa", sha, release), "success")
    _reset(sandbox)
    record = deployments.current(repo, "qa")
    # the newest is successful: it alone is read
    assert _routes(sandbox) == [listing, read_status]
    assert record is not None and record.release == "release/2026-11-26"
