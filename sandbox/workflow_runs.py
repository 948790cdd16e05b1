"""Workflow runs as data: the test-controlled runner, a run's state at a moment, `run-name`
rendering and GitHub's `created` filter. Pure (no git, no HTTP); `api_actions` serves it.

A run's life is decided when it is dispatched, by the runner's plan for its key input
(`ppc` by default): it stays `queued` for `queue_seconds`, `in_progress` for the planned
`seconds`, then `completed` with the planned conclusion. It is listed only `appear_seconds`
after the dispatch, as GitHub lists a dispatched run only once its run is created. A cancel
completes it at once with conclusion `cancelled`. The state is computed from wall-clock
time when read, so it survives a restart of the sandbox.
"""

from __future__ import annotations

import datetime
import re
import threading
from dataclasses import dataclass
from typing import Any

CONCLUSIONS = ("success", "failure", "cancelled", "timed_out", "neutral", "skipped")


@dataclass(frozen=True)
class Plan:
    """What the runner does with one run: `seconds` in progress, then `conclusion`."""

    seconds: float
    conclusion: str

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {self.seconds}")
        if self.conclusion not in CONCLUSIONS:
            raise ValueError(
                f"unknown conclusion {self.conclusion!r}; expected one of {', '.join(CONCLUSIONS)}"
            )


class Runner:
    """The sandbox's runner: per key input value (a PPC), how long a run takes and how it
    ends; defaults for every other run. Thread-safe; tests set it through
    `Sandbox.actions` or the control route `/_sandbox/actions`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.key_input = "ppc"
        self.default = Plan(0.0, "success")
        self.queue_seconds = 0.0
        self.appear_seconds = 0.0
        self._plans: dict[str, Plan] = {}

    def plan(self, value: str, seconds: float, conclusion: str = "success") -> None:
        """Runs whose key input is `value` take `seconds` and end with `conclusion`."""
        with self._lock:
            self._plans[str(value)] = Plan(float(seconds), conclusion)

    def configure(
        self,
        seconds: float | None = None,
        conclusion: str | None = None,
        queue_seconds: float | None = None,
        appear_seconds: float | None = None,
        key_input: str | None = None,
    ) -> None:
        """Change the defaults: a run's duration and conclusion, its time queued, the delay
        before it is listed, and the input that names its plan."""
        with self._lock:
            self.default = Plan(
                self.default.seconds if seconds is None else float(seconds),
                conclusion or self.default.conclusion,
            )
            for name, value in (
                ("queue_seconds", queue_seconds),
                ("appear_seconds", appear_seconds),
            ):
                if value is not None:
                    if float(value) < 0:
                        raise ValueError(f"{name} must be >= 0, got {value}")
                    setattr(self, name, float(value))
            if key_input:
                self.key_input = key_input

    def reset(self) -> None:
        with self._lock:
            self._plans.clear()
            self.default = Plan(0.0, "success")
            self.queue_seconds = self.appear_seconds = 0.0
            self.key_input = "ppc"

    def decide(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The life of a run dispatched with `inputs`, as fields stored with the run."""
        with self._lock:
            plan = self._plans.get(str(inputs.get(self.key_input, "")), self.default)
            return {
                "queue_seconds": self.queue_seconds,
                "appear_seconds": self.appear_seconds,
                "seconds": plan.seconds,
                "planned_conclusion": plan.conclusion,
            }

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return {
                "key_input": self.key_input,
                "seconds": self.default.seconds,
                "conclusion": self.default.conclusion,
                "queue_seconds": self.queue_seconds,
                "appear_seconds": self.appear_seconds,
                "plans": {
                    k: {"seconds": p.seconds, "conclusion": p.conclusion}
                    for k, p in self._plans.items()
                },
            }


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def state(run: dict[str, Any], now: float) -> dict[str, Any]:
    """status, conclusion, run_started_at and updated_at of a stored run at time `now`."""
    created = run["created_ts"]
    started = created + run["queue_seconds"]
    finished = started + run["seconds"]
    cancelled = run.get("cancelled_ts")
    if cancelled is not None and cancelled < finished:
        return {
            "status": "completed",
            "conclusion": "cancelled",
            "run_started_at": iso(min(started, cancelled)),
            "updated_at": iso(cancelled),
        }
    if now < started:
        return {
            "status": "queued",
            "conclusion": None,
            "run_started_at": iso(created),
            "updated_at": iso(created),
        }
    if now < finished:
        return {
            "status": "in_progress",
            "conclusion": None,
            "run_started_at": iso(started),
            "updated_at": iso(started),
        }
    return {
        "status": "completed",
        "conclusion": run["planned_conclusion"],
        "run_started_at": iso(started),
        "updated_at": iso(finished),
    }


def visible(run: dict[str, Any], now: float) -> bool:
    """Whether the run is listed yet (GitHub creates a dispatched run a moment later)."""
    return now >= run["created_ts"] + run["appear_seconds"]


_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_INPUT = re.compile(r"^inputs\.([A-Za-z_][A-Za-z0-9_-]*)$")


def render_run_name(template: str, inputs: dict[str, Any], github: dict[str, str]) -> str:
    """`run-name` with `${{ inputs.x }}` and `${{ github.x }}` substituted (other
    expressions render empty, as a missing value does on GitHub)."""

    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        found = _INPUT.match(expr)
        if found:
            item = inputs.get(found.group(1))
            if isinstance(item, bool):
                return "true" if item else "false"
            return "" if item is None else str(item)
        if expr.startswith("github."):
            return github.get(expr[len("github.") :], "")
        return ""

    return _EXPR.sub(value, template)


_CREATED = re.compile(r"^(>=|<=|>|<)?(\S+)$")


def _moment(text: str, end_of_day: bool) -> float:
    """A date (`2026-11-29`) or date-time (`2026-11-29T10:00:00Z`) as epoch seconds; a bare
    date means its first second, or with `end_of_day` its last."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)
        if end_of_day:
            day += datetime.timedelta(days=1, seconds=-1)
        return day.timestamp()
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def created_filter(text: str) -> tuple[float, float]:
    """GitHub's `created` qualifier as an inclusive [low, high] range in epoch seconds:
    `2026-11-29`, `>=2026-11-29`, `>2026-11-29T10:00:00Z`, `<=...`, `<...`, `A..B`, `A..*`,
    `*..B`. ValueError for anything else."""
    text = text.strip()
    if ".." in text:
        low_text, high_text = text.split("..", 1)
        low = float("-inf") if low_text == "*" else _moment(low_text, False)
        high = float("inf") if high_text == "*" else _moment(high_text, True)
        return low, high
    found = _CREATED.match(text)
    if not found:
        raise ValueError(f"cannot read created={text!r}")
    op, value = found.groups()
    if op == ">=":
        return _moment(value, False), float("inf")
    if op == ">":
        return _moment(value, True) + 1, float("inf")
    if op == "<=":
        return float("-inf"), _moment(value, True)
    if op == "<":
        return float("-inf"), _moment(value, False) - 1
    return _moment(value, False), _moment(value, True)
