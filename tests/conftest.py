"""Shared fixtures: a running sandbox forge per test, and PyGithub clients for it; a
PostgreSQL server per session (scripts/postgres.sh) for the shared-backend tests."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import github
import pytest

from sandbox import Sandbox

TOKEN = "sandbox-token-release-bot"
REVIEWER_TOKEN = "sandbox-token-oncall-partner"
READ_ONLY_TOKEN = "sandbox-token-auditor"


def start_sandbox(data_dir: Path, port: int = 0) -> Sandbox:
    """A running sandbox on `data_dir` (and `port`) with the three test tokens."""
    sb = Sandbox(
        data_dir,
        tokens={TOKEN: "release-bot", REVIEWER_TOKEN: "oncall-partner"},
        read_only_tokens={READ_ONLY_TOKEN: "auditor"},
    )
    sb.start(port=port)
    sb.token = TOKEN  # type: ignore[attr-defined]
    sb.reviewer_token = REVIEWER_TOKEN  # type: ignore[attr-defined]
    sb.read_only_token = READ_ONLY_TOKEN  # type: ignore[attr-defined]
    return sb


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A running sandbox with an empty data dir; tokens for release-bot, oncall-partner, auditor."""
    sb = start_sandbox(tmp_path / "forge")
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="session")
def seed_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the seed is built once per test session and copied from."""
    return tmp_path_factory.mktemp("seed-cache")


@pytest.fixture
def seeded_sandbox(tmp_path: Path, seed_cache: Path) -> Iterator[Sandbox]:
    """Like `sandbox`, after seed(data_dir) created acme/service."""
    try:
        from sandbox.seed import seed
    except ImportError as exc:
        pytest.skip(f"sandbox/seed.py is not there yet: {exc}")
    data_dir = tmp_path / "forge"
    data_dir.mkdir(parents=True)
    seed(data_dir, cache_dir=seed_cache)
    sb = start_sandbox(data_dir)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def github_client(request: pytest.FixtureRequest) -> Callable[..., github.Github]:
    """Factory: github_client(token=None, **kwargs) -> Github pointed at the running sandbox."""
    sb = None
    for name in ("sandbox", "seeded_sandbox"):
        if name in request.fixturenames:
            sb = request.getfixturevalue(name)
            break
    if sb is None:
        sb = request.getfixturevalue("sandbox")
    clients: list[github.Github] = []

    def make(token: str | None = None, **kwargs: object) -> github.Github:
        kwargs.setdefault("retry", None)
        # PyGithub spaces requests out (0.25 s, 1 s per write) to be gentle with GitHub;
        # the local sandbox needs no such courtesy.
        kwargs.setdefault("seconds_between_requests", None)
        kwargs.setdefault("seconds_between_writes", None)
        client = github.Github(
            base_url=sb.base_url, auth=github.Auth.Token(token or sb.token), **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def commit_files() -> Callable[..., str]:
    """Factory: commit_files(repo, branch, {path: text|None}, message) -> new commit SHA.

    Builds the commit with the git data API (blobs, trees, commits, refs) through
    PyGithub and moves (or creates) `branch` to it; None as text deletes the file.
    """

    def make(
        repo: object,
        branch: str,
        files: dict[str, str | None],
        message: str,
        parents: list[str] | None = None,
    ) -> str:
        try:
            tip = repo.get_git_ref(f"heads/{branch}").object.sha
        except github.GithubException as exc:
            if exc.status != 404:
                raise
            tip = None
        if parents is None:
            parents = [tip] if tip else []
        base_tree = repo.get_git_commit(parents[0]).tree if parents else None
        elements = [
            github.InputGitTreeElement(path, "100644", "blob", content=text)
            if text is not None
            else github.InputGitTreeElement(path, "100644", "blob", sha=None)
            for path, text in files.items()
        ]
        tree = (
            repo.create_git_tree(elements, base_tree)
            if base_tree
            else repo.create_git_tree(elements)
        )
        parent_objs = [repo.get_git_commit(p) for p in parents]
        commit = repo.create_git_commit(message, tree, parent_objs)
        if tip is None:
            repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
        else:
            repo.get_git_ref(f"heads/{branch}").edit(commit.sha, force=True)
        return commit.sha

    return make


@pytest.fixture
def acme(sandbox: Sandbox, github_client: Callable[..., github.Github]) -> object:
    """acme/service in the empty sandbox, with README.md on master; a PyGithub Repository."""
    sandbox.create_repo("acme/service")
    repo = github_client().get_repo("acme/service")
    blob = repo.create_git_blob("# service\n", "utf-8")
    tree = repo.create_git_tree(
        [github.InputGitTreeElement("README.md", "100644", "blob", sha=blob.sha)]
    )
    commit = repo.create_git_commit("Initial commit", tree, [])
    repo.create_git_ref("refs/heads/master", commit.sha)
    return repo


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The case counts the property tests report (tests.support.figures)."""
    from tests.support import figures

    if figures.LINES:
        terminalreporter.section("property test cases")
        for line in figures.LINES:
            terminalreporter.write_line(line)


POSTGRES_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server's URL: RELEASE_TRAIN_POSTGRES_URL (.ci/run starts one), else a
    server this session starts with scripts/postgres.sh in a temporary folder and stops."""
    given = os.environ.get("RELEASE_TRAIN_POSTGRES_URL")
    if given:
        yield given
        return
    folder = tempfile.mkdtemp(prefix="release-train-pg-")
    env = {**os.environ, "RELEASE_TRAIN_PG_DIR": folder}
    started = subprocess.run(
        [str(POSTGRES_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=900
    )
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"scripts/postgres.sh start failed:\n{started.stderr}", pytrace=False)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(POSTGRES_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_backend(postgres_url: str) -> Iterator[str]:
    """A `postgres://` state backend of its own for one test: a fresh table of the server."""
    import pg8000.native

    from release.engine.backends import PostgresStore, _connect

    table = f"state_{secrets.token_hex(6)}"
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}table={table}"
    yield url
    try:
        connection = _connect(url)
        connection.run(f"DROP TABLE IF EXISTS {PostgresStore(url).table}")
        connection.close()
    except (pg8000.native.DatabaseError, pg8000.native.InterfaceError, OSError):
        pass
    _connect.cache_clear()
