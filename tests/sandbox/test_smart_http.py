"""git clone, fetch and push over smart HTTP; durability across a restart; the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import github
import pytest
import requests

from sandbox import Sandbox

GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=check
    )


def test_clone_and_push_over_http(sandbox, acme, tmp_path):
    work = tmp_path / "clone"
    git("clone", "--quiet", sandbox.git_url("acme/service", sandbox.token), str(work))
    assert (work / "README.md").read_text() == "# service\n"
    (work / "new.txt").write_text("pushed\n")
    git("add", "new.txt", cwd=work)
    git("commit", "--quiet", "-m", "Pushed over HTTP", cwd=work)
    git("push", "--quiet", "origin", "HEAD:master", "HEAD:refs/heads/pushed", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert acme.get_branch("master").commit.sha == head
    assert acme.get_branch("pushed").commit.commit.message == "Pushed over HTTP"
    assert sandbox.counters()["POST /{owner}/{repo}.git/git-receive-pack"]["writes"] == 1
    # an API change is fetched back
    acme.get_git_ref("heads/master").edit(acme.get_git_commit(head).parents[0].sha, force=True)
    git("fetch", "--quiet", "origin", cwd=work)
    assert git("rev-parse", "origin/master", cwd=work).stdout.strip() != head


def test_http_auth_for_git(sandbox, acme, tmp_path):
    denied = git(
        "clone", "--quiet", sandbox.git_url("acme/service"), str(tmp_path / "anon"), check=False
    )
    assert denied.returncode != 0
    wrong = git(
        "clone",
        "--quiet",
        sandbox.git_url("acme/service", "wrong"),
        str(tmp_path / "w"),
        check=False,
    )
    assert wrong.returncode != 0
    work = tmp_path / "ro"
    git("clone", "--quiet", sandbox.git_url("acme/service", sandbox.read_only_token), str(work))
    git("commit", "--quiet", "--allow-empty", "-m", "nope", cwd=work)
    push = git("push", "--quiet", "origin", "HEAD:master", cwd=work, check=False)
    assert push.returncode != 0
    assert "403" in push.stderr or "denied" in push.stderr.lower()
    missing = git("ls-remote", sandbox.git_url("acme/missing", sandbox.token), check=False)
    assert missing.returncode != 0


def test_state_survives_restart(tmp_path, commit_files):
    data = tmp_path / "forge"
    tokens = {"tok": "release-bot"}
    first = Sandbox(data, tokens=tokens)
    first.start()
    try:
        first.create_repo("acme/service")
        gh = github.Github(
            base_url=first.base_url,
            auth=github.Auth.Token("tok"),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        repo = gh.get_repo("acme/service")
        base = commit_files(repo, "master", {"a.txt": "a\n"}, "a")
        repo.create_git_ref("refs/heads/feature", base)
        head = commit_files(repo, "feature", {"b.txt": "b\n"}, "b")
        repo.create_pull(title="Feature", body="body", head="feature", base="master")
        repo.get_commit(head).create_status("success", context="ci/travis")
        repo.create_check_run("test", head, conclusion="success")
        repo.edit(allow_rebase_merge=False)
        repo.create_repository_dispatch("promote", {})
    finally:
        first.stop()
    second = Sandbox(data, tokens=tokens)
    second.start()
    try:
        gh = github.Github(
            base_url=second.base_url,
            auth=github.Auth.Token("tok"),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        repo = gh.get_repo("acme/service")
        assert repo.allow_rebase_merge is False
        pr = repo.get_pull(1)
        assert pr.title == "Feature" and pr.head.sha == head and pr.mergeable_state == "clean"
        assert repo.get_commit(head).get_combined_status().state == "success"
        assert repo.get_commit(head).get_check_runs().totalCount == 1
        assert len(second.dispatches("acme/service")) == 1
        new = repo.create_check_run("lint", head, conclusion="success")
        assert new.id > repo.get_commit(head).get_check_runs(check_name="test")[0].id
    finally:
        second.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serve(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--data",
            str(tmp_path / "d"),
            "--port",
            str(port),
            "--token",
            "plain",
            "--token",
            "oncall-partner:partner",
            "--read-only-token",
            "ro",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}/api/v3" in line
        base = f"http://127.0.0.1:{port}/api/v3"

        def who(tok: str) -> requests.Response:
            return requests.get(
                f"{base}/user", headers={"Authorization": f"token {tok}"}, timeout=5
            )

        assert who("plain").json()["login"] == "release-bot"
        assert who("partner").json()["login"] == "oncall-partner"
        assert who("ro").json()["login"] == "auditor"
        assert who("bad").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_cli_seed_reports_or_seeds(tmp_path):
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "sandbox", "seed", "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        import sandbox.seed  # noqa: F401
    except ImportError:
        assert out.returncode == 2 and "seed is not available" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "d" / "repos" / "acme" / "service.git" / "HEAD").exists()
    assert time.monotonic() - started < 300


@pytest.mark.parametrize("path", ["/nothing", "/api/v3/nothing/here"])
def test_unknown_paths_are_404(sandbox, path):
    r = requests.get(f"{sandbox.url}{path}", headers={"Authorization": f"token {sandbox.token}"})
    assert r.status_code == 404 and r.json()["message"] == "Not Found"
