"""The forge memo: answers of the forge that can never change, kept between runs of a stack.

A compare of two commits, a file's content at a commit, a commit's parents, the merges on
the first-parent line below a commit: once read, each is the same forever, because a SHA
names its content. The program's plan (release/program/planning.py) reads them on every
run; the memo keeps what it read, in the stack's state (the `forgeMemo` stack output, read
back through the engine with the stack's record of intent), so the next run of the same
stack, by any operator or CI runner, does not read it again.

What is kept, and how it stays safe:
- Only answers keyed by full SHAs (`memo_key` refuses anything else: a branch name, a short
  SHA). Refs, pull requests, statuses, reviews, "is X on branch B" are never kept: they
  change. A hotfix pushed to a release branch gives it a new head, so new keys, so reads.
- Also what a resource of the run made is known to answer (the ours-merge's head: the
  plan's answers about the cut, moved to it; release.program.planning.ours_merge_memo), only
  when its parents and tree are the ones it was made with.
- Small derived results, never raw JSON: a pin's value rather than the file, a payload's
  lines rather than the compare, a count rather than a commit list.
- Bounded: a run writes back only the entries it used (hit or read), at most
  `MAX_ENTRIES` and `MAX_BYTES`, each at most `MAX_ENTRY_BYTES` (the smallest kept first).
- Scoped to the repository (API URL and name), and versioned: a memo of another repository
  or format, missing or corrupt, or an entry of the wrong shape, is an empty memo (the forge
  is read), never an error.

Pure: no forge, no engine.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

MEMO_OUTPUT = "forgeMemo"
"""The stack output that holds the memo (a compact JSON string)."""
STACK_TYPE = "pulumi:pulumi:Stack"
VERSION = 1
MAX_ENTRIES = 200
MAX_BYTES = 48_000
MAX_ENTRY_BYTES = 16_000

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")

T = TypeVar("T")


def is_full_sha(text: object) -> bool:
    """A 40-hex-digit commit SHA (lower case): the only names the memo keys on."""
    return isinstance(text, str) and bool(_FULL_SHA.match(text))


def digest(*parts: str) -> str:
    """A short stable id of some config (a pin's path and pattern, a list of picks)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def memo_key(kind: str, *shas: str, extra: str = "") -> str | None:
    """The memo key of an answer about `shas`, or None (not to be kept) when any of them is
    not a full SHA: a ref or a short SHA names something that can move."""
    if not all(is_full_sha(s) for s in shas):
        return None
    return ":".join((kind, *shas, *((extra,) if extra else ())))


class Memo:
    """Immutable forge answers by key, and which of them this run used. Thread-safe: reads
    sent together (`forge.together`) look up and add entries at once."""

    def __init__(self, scope: str = "", entries: Mapping[str, Any] | None = None) -> None:
        self.scope = scope
        self._entries: dict[str, Any] = dict(entries or {})
        self._used: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, name: str | None, valid: Callable[[Any], bool]) -> tuple[bool, Any]:
        """(True, value) when `name` is kept and its value passes `valid`, else (False,
        None). A hit is kept for the next run."""
        if name is None:
            return False, None
        with self._lock:
            if name in self._entries:
                value = self._entries[name]
                try:
                    ok = bool(valid(value))
                except Exception:  # noqa: BLE001 - a malformed entry is a miss
                    ok = False
                if ok:
                    self._used[name] = value
                    self.hits += 1
                    return True, value
            self.misses += 1
            return False, None

    def put(self, name: str | None, value: Any) -> None:
        """Keep `value` (plain JSON) under `name`; nothing when `name` is None."""
        if name is None:
            return
        with self._lock:
            self._entries[name] = value
            self._used[name] = value

    def recall(
        self,
        name: str | None,
        read: Callable[[], T],
        valid: Callable[[Any], bool],
        encode: Callable[[T], Any] = lambda value: value,
        decode: Callable[[Any], T] = lambda value: value,
    ) -> T:
        """The kept answer under `name`, else `read()` (then kept, as `encode` makes it)."""
        found, value = self.get(name, valid)
        if found:
            return decode(value)
        result = read()
        self.put(name, encode(result))
        return result

    def dump(self) -> str:
        """What to write back: the entries this run used, within the bounds, as compact JSON
        with sorted keys (the same entries give the same text, so a no-op re-run leaves the
        stack output unchanged)."""
        with self._lock:
            used = dict(self._used)
        sized = []
        for name, value in used.items():
            text = json.dumps(value, separators=(",", ":"), sort_keys=True)
            size = len(name) + len(text) + 4
            if size <= MAX_ENTRY_BYTES:
                sized.append((size, name, value))
        kept: dict[str, Any] = {}
        total = 0
        for size, name, value in sorted(sized, key=lambda item: (item[0], item[1])):
            if len(kept) >= MAX_ENTRIES or total + size > MAX_BYTES:
                break
            kept[name] = value
            total += size
        body = {"v": VERSION, "scope": self.scope, "e": dict(sorted(kept.items()))}
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def load(cls, text: object, scope: str) -> Memo:
        """The memo in `text` (a `dump`) for `scope`; an empty one when `text` is missing,
        corrupt, of another version or of another repository."""
        entries: dict[str, Any] = {}
        try:
            data = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            data = None
        if (
            isinstance(data, dict)
            and data.get("v") == VERSION
            and data.get("scope") == scope
            and isinstance(data.get("e"), dict)
        ):
            entries = {str(k): v for k, v in data["e"].items()}
        return cls(scope, entries)


def memo_in(resources: Mapping[str, Any], scope: str) -> Memo:
    """The memo in a checkpoint's resources ({urn: {type, outputs}}, as the engine's
    `readStackResourceOutputs` returns them): the stack's `forgeMemo` output."""
    for resource in resources.values():
        if isinstance(resource, Mapping) and resource.get("type") == STACK_TYPE:
            outputs = resource.get("outputs")
            if isinstance(outputs, Mapping):
                return Memo.load(outputs.get(MEMO_OUTPUT), scope)
    return Memo(scope)


def scope_of(api_url: str, repository: str) -> str:
    """What a memo is valid for: one repository on one forge."""
    return f"{api_url.rstrip('/')}/repos/{repository.lower()}"


# Shapes of the kept values (`Memo.get`'s `valid`).


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def is_sha_list(value: Any) -> bool:
    return isinstance(value, list) and all(is_full_sha(v) for v in value)
