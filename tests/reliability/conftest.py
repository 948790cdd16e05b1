"""Fixtures of the reliability suites: the e2e engine fixtures, and a release CLI on a sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import engine, harness, pulumi_home  # noqa: F401 - shared fixtures
from tests.reliability import summary
from tests.reliability.cli_train import CliTrain


@pytest.fixture
def cli_train(harness, seeded_sandbox, monkeypatch) -> Iterator[CliTrain]:  # noqa: F811
    """The release CLI (`python -m release`, in subprocesses) on a copy of the project."""
    monkeypatch.setenv("RELEASE_TRAIN_PULUMI_ROOT", str(harness.engine.bin_dir.parent))
    yield CliTrain.start(harness, seeded_sandbox, Path(harness.workdir))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The kill-point counts (and other figures the suites report) at the end of the run."""
    if summary.LINES:
        terminalreporter.section("reliability figures")
        for line in summary.LINES:
            terminalreporter.write_line(line)
