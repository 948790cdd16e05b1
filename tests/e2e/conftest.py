"""Fixtures of the end-to-end suite; see harness.py.

When the engine is not installed these tests fail (never skip), saying to run `make pulumi`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import Engine, EngineMissing, Harness, find_engine, prepare_pulumi_home


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return find_engine()
    except EngineMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def pulumi_home(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pulumi-home")
    prepare_pulumi_home(engine, home)
    return home


@pytest.fixture
def harness(engine: Engine, pulumi_home: Path, tmp_path: Path) -> Harness:
    return Harness(engine=engine, pulumi_home=pulumi_home, workdir=tmp_path / "e2e")
