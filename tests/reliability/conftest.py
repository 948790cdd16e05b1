"""Fixtures of the reliability suites: the e2e engine fixtures, and a release CLI on a sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from release.sandbox import Sandbox
from tests.conftest import READ_ONLY_TOKEN, REVIEWER_TOKEN, TOKEN
from tests.e2e.conftest import engine, harness, pulumi_home  # noqa: F401 - shared fixtures
from tests.reliability.cli_train import CliTrain


def start_sandbox(data_dir: Path, port: int = 0) -> Sandbox:
    """A sandbox on `data_dir` with the test tokens of tests/conftest.py, on `port`."""
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
def cli_train(harness, seeded_sandbox, monkeypatch) -> Iterator[CliTrain]:  # noqa: F811
    """The release CLI (`python -m release`, in subprocesses) on a copy of the project."""
    monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(harness.engine.bin_dir.parent))
    yield CliTrain.start(harness, seeded_sandbox, Path(harness.workdir))
