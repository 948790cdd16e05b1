"""The package: its metadata matches requirements.txt, and `release --version` answers."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import release

ROOT = Path(__file__).resolve().parents[2]


def runtime_pins() -> list[str]:
    """The pins of requirements.txt above its `# Tests and checks.` line."""
    text = (ROOT / "requirements.txt").read_text().split("# Tests and checks.")[0]
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_project_metadata_matches_the_runtime_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    meta = project["project"]
    assert meta["name"] == "release-train"
    assert meta["requires-python"] == ">=3.11"
    assert sorted(meta["dependencies"]) == sorted(runtime_pins())
    assert meta["scripts"] == {"release": "release.cli:run"}
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == [
        "release",
        "release.*",
    ]
    assert re.fullmatch(r"\d+\.\d+\.\d+", release.__version__)


def test_release_version_prints_the_version():
    out = subprocess.run(
        [sys.executable, "-m", "release", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == f"release-train {release.__version__}"
