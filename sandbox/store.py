"""Forge metadata that git itself does not hold, kept as JSON files in the data dir.

Layout under DATA/forge/:
    meta.json                 {"next_id": n}  (ids shared by every object kind)
    repos/OWNER/NAME.json     one repository's settings, pulls, statuses, check runs,
                              reviews, comments, dispatches, deployments and forced-update log

Each file is rewritten atomically (temp file, fsync, rename) on every change, so the
state survives a crash or restart of the server.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from . import validate


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _atomic_write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read(path: Path, default: dict[str, Any]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default


def empty_repo_meta(repo_id: int, default_branch: str) -> dict[str, Any]:
    return {
        "id": repo_id,
        "created_at": now_iso(),
        "default_branch": default_branch,
        "settings": {
            "allow_merge_commit": True,
            "allow_squash_merge": True,
            "allow_rebase_merge": True,
            "delete_branch_on_merge": False,
            "description": None,
            "homepage": None,
            "private": False,
        },
        "next_number": 1,
        "pulls": {},
        "statuses": [],
        "check_runs": [],
        "check_suites": {},
        "reviews": [],
        "comments": [],
        "dispatches": [],
        "deployments": [],
        "forced_updates": [],
    }


class Store:
    """Thread-safe access to the JSON metadata; one lock per repository."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "forge"
        self._global = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        self._cache: dict[str, dict[str, Any]] = {}

    def repo_lock(self, full_name: str) -> threading.RLock:
        with self._global:
            lock = self._locks.get(full_name)
            if lock is None:
                lock = self._locks[full_name] = threading.RLock()
            return lock

    def new_id(self) -> int:
        with self._global:
            path = self.root / "meta.json"
            meta = _read(path, {"next_id": 1001})
            value = int(meta["next_id"])
            meta["next_id"] = value + 1
            _atomic_write(path, meta)
            return value

    def _repo_path(self, full_name: str) -> Path:
        if not validate.valid_full_name(full_name):
            raise ValueError(f"invalid repository name {full_name!r}")
        owner, name = full_name.split("/", 1)
        return self.root / "repos" / owner / f"{name}.json"

    def load(self, full_name: str) -> dict[str, Any] | None:
        """The repository's metadata (caller holds the repo lock), None when unknown."""
        cached = self._cache.get(full_name)
        if cached is not None:
            return cached
        path = self._repo_path(full_name)
        if not path.exists():
            return None
        data = _read(path, {})
        self._cache[full_name] = data
        return data

    def save(self, full_name: str, data: dict[str, Any]) -> None:
        _atomic_write(self._repo_path(full_name), data)
        self._cache[full_name] = data

    def ensure(self, full_name: str, default_branch: str) -> dict[str, Any]:
        with self.repo_lock(full_name):
            data = self.load(full_name)
            if data is None:
                data = empty_repo_meta(self.new_id(), default_branch)
                self.save(full_name, data)
            return data
