"""The Automation API driver's own bookkeeping: the remembered CLI version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from release.engine import automation


def fake_pulumi(root: Path, version: str) -> Path:
    """A `pulumi` that answers `version` and notes each run in root/runs."""
    binary = root / "bin" / "pulumi"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text(f'#!/bin/sh\necho "$@" >> "{root}/runs"\necho v{version}\n')
    binary.chmod(0o755)
    return binary


def runs(root: Path) -> int:
    path = root / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "pulumi-versions.json"
    monkeypatch.setattr(automation, "VERSION_CACHE", path)
    automation._pulumi_command.cache_clear()
    yield path
    automation._pulumi_command.cache_clear()


def command_for(root: Path):
    automation._pulumi_command.cache_clear()  # a new process, as far as the cache goes
    return automation._pulumi_command(str(root))


def test_the_version_is_checked_once_per_binary(tmp_path, cache):
    root = tmp_path / "cli"
    binary = fake_pulumi(root, "3.274.1")

    first = command_for(root)
    assert runs(root) == 1 and str(first.version) == "3.274.1"
    second = command_for(root)
    assert runs(root) == 1, "a known binary is not asked again"
    assert str(second.version) == "3.274.1" and second.command == str(binary)

    # A new binary in the same place (an upgrade) is checked again.
    fake_pulumi(root, "3.280.0")
    os.utime(binary, ns=(1, 2))
    third = command_for(root)
    assert runs(root) == 2 and str(third.version) == "3.280.0"


def test_a_too_old_cli_is_still_refused(tmp_path, cache):
    root = tmp_path / "old"
    fake_pulumi(root, "3.0.0")
    with pytest.raises(Exception, match="[Mm]inimum"):
        command_for(root)
    assert not cache.exists() or "3.0.0" not in cache.read_text()


def test_an_unwritable_cache_only_costs_the_check(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(automation, "VERSION_CACHE", blocker / "sub" / "versions.json")
    root = tmp_path / "cli"
    fake_pulumi(root, "3.274.1")
    assert str(command_for(root).version) == "3.274.1"
    assert str(command_for(root).version) == "3.274.1"
    assert runs(root) == 2
    automation._pulumi_command.cache_clear()
