"""Injected faults, per-route request counters, requests in flight, the log of requests
served (and the sequential steps it shows) and added latency (thread-safe, no I/O)."""

from __future__ import annotations

import fnmatch
import math
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("500", "502", "secondary_rate_limit", "429", "delay", "drop")
MAX_LATENCY_MS = 60_000.0


@dataclass
class Fault:
    method: str
    path_pattern: str
    kind: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, method: str, path: str, route: str) -> bool:
        if self.method not in ("*", "") and self.method.upper() != method.upper():
            return False
        pattern = self.path_pattern
        candidates = {path, route}
        if path.startswith("/api/v3"):
            candidates.add(path[len("/api/v3") :])
        return any(c == pattern or fnmatch.fnmatchcase(c, pattern) for c in candidates)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, method: str, path_pattern: str, kind: str, count: int = 1, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            )
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(Fault(method or "*", path_pattern, kind, count, dict(params)))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, route: str) -> Fault | None:
        """The first fault matching this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, route):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "method": f.method,
                    "path_pattern": f.path_pattern,
                    "kind": f.kind,
                    "count": f.remaining,
                    **f.params,
                }
                for f in self._faults
            ]


class Counters:
    """Requests served per "METHOD /route/template", reads and writes apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}
        self._writes_at: list[float] = []

    def record(self, key: str, write: bool) -> None:
        with self._lock:
            entry = self._counts.setdefault(key, {"reads": 0, "writes": 0})
            entry["writes" if write else "reads"] += 1
            if write:
                self._writes_at.append(time.monotonic())

    def writes_at(self) -> list[float]:
        """When each write since the last reset was served (`time.monotonic()`), oldest first."""
        with self._lock:
            return list(self._writes_at)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in sorted(self._counts.items())}

    def reads(self) -> int:
        with self._lock:
            return sum(v["reads"] for v in self._counts.values())

    def writes(self) -> int:
        with self._lock:
            return sum(v["writes"] for v in self._counts.values())

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._writes_at.clear()


class InFlight:
    """Requests being served right now, and the most served at once since the last reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._current = 0
        self._max = 0

    def __enter__(self) -> InFlight:
        with self._lock:
            self._current += 1
            self._max = max(self._max, self._current)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._current -= 1
            if not self._current:
                self._idle.notify_all()

    def settle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until no request is being served (a client may hold
        its answer before the server has finished recording it); whether none is."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._current, timeout)

    def current(self) -> int:
        with self._lock:
            return self._current

    def maximum(self) -> int:
        with self._lock:
            return self._max

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"current": self._current, "max": self._max}

    def reset(self) -> None:
        """Start the maximum again from the requests in flight now."""
        with self._lock:
            self._max = self._current


@dataclass(frozen=True)
class Served:
    """One request as the forge served it: when it arrived and when its answer was sent
    (`time.monotonic()`, latency included), its "METHOD /route/template" and the path it
    asked for."""

    started: float
    finished: float
    key: str
    path: str = ""


class RequestLog:
    """The requests served since the last reset, oldest first (at most `limit`: a
    long-running sandbox keeps only the newest)."""

    def __init__(self, limit: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._served: deque[Served] = deque(maxlen=limit)

    def record(self, served: Served) -> None:
        with self._lock:
            self._served.append(served)

    def snapshot(self) -> list[Served]:
        with self._lock:
            return sorted(self._served, key=lambda s: s.started)

    def reset(self) -> None:
        with self._lock:
            self._served.clear()


def sequential_steps(served: Iterable[Served]) -> int:
    """The critical path of `served`: the longest chain of requests each of which started
    only after the one before it in the chain was answered. Requests sent one after another
    make a chain as long as their number; requests in flight together count as one step.
    With a network delay per request, a run lasts at least this many delays."""
    ordered = sorted(served, key=lambda s: s.started)
    depth: list[int] = []
    finished: list[float] = []
    for item in ordered:
        before = [d for d, end in zip(depth, finished, strict=True) if end <= item.started]
        depth.append(1 + max(before, default=0))
        finished.append(item.finished)
    return max(depth, default=0)


class Latency:
    """A delay added to every request: `ms` milliseconds, give or take up to `jitter_ms`."""

    def __init__(self, ms: float = 0.0, jitter_ms: float = 0.0, rng: random.Random | None = None):
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self.ms = 0.0
        self.jitter_ms = 0.0
        self.set(ms, jitter_ms)

    def set(self, ms: float, jitter_ms: float = 0.0) -> None:
        ms, jitter_ms = float(ms), float(jitter_ms)
        for name, value in (("latency", ms), ("jitter", jitter_ms)):
            if not math.isfinite(value) or value < 0 or value > MAX_LATENCY_MS:
                raise ValueError(
                    f"{name} must be between 0 and {MAX_LATENCY_MS:g} ms, got {value:g}"
                )
        with self._lock:
            self.ms, self.jitter_ms = ms, jitter_ms

    def settings(self) -> dict[str, float]:
        with self._lock:
            return {"ms": self.ms, "jitter_ms": self.jitter_ms}

    def sample(self) -> float:
        """One request's delay in seconds: uniform in [ms - jitter, ms + jitter], at least 0."""
        with self._lock:
            ms, jitter = self.ms, self.jitter_ms
            offset = self._rng.uniform(-jitter, jitter) if jitter else 0.0
        return max(0.0, ms + offset) / 1000.0
