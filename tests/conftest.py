"""Shared fixtures: a running sandbox forge per test, and PyGithub clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import github
import pytest

from release.sandbox import Sandbox

TOKEN = "sandbox-token-release-bot"
REVIEWER_TOKEN = "sandbox-token-oncall-partner"
READ_ONLY_TOKEN = "sandbox-token-auditor"


def _start(data_dir: Path) -> Sandbox:
    sb = Sandbox(
        data_dir,
        tokens={TOKEN: "release-bot", REVIEWER_TOKEN: "oncall-partner"},
        read_only_tokens={READ_ONLY_TOKEN: "auditor"},
    )
    sb.start()
    sb.token = TOKEN  # type: ignore[attr-defined]
    sb.reviewer_token = REVIEWER_TOKEN  # type: ignore[attr-defined]
    sb.read_only_token = READ_ONLY_TOKEN  # type: ignore[attr-defined]
    return sb


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A running sandbox with an empty data dir; tokens for release-bot, oncall-partner, auditor."""
    sb = _start(tmp_path / "forge")
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def seeded_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """Like `sandbox`, after seed(data_dir) created acme/service."""
    try:
        from release.sandbox.seed import seed
    except ImportError as exc:
        pytest.skip(f"release/sandbox/seed.py is not there yet: {exc}")
    data_dir = tmp_path / "forge"
    data_dir.mkdir(parents=True)
    seed(data_dir)
    sb = _start(data_dir)
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
        client = github.Github(
            base_url=sb.base_url, auth=github.Auth.Token(token or sb.token), **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
