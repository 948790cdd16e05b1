"""GitHub's rules for the combined state of a commit's statuses (pure logic)."""

from __future__ import annotations

from typing import Any


def latest_per_context(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest status of each context, newest first (input in creation order)."""
    seen: set[str] = set()
    latest = []
    for s in reversed(statuses):
        if s["context"] not in seen:
            seen.add(s["context"])
            latest.append(s)
    return latest


def combined_state(states: list[str]) -> str:
    """failure if any error/failure; pending if none or any pending; else success."""
    if any(s in ("error", "failure") for s in states):
        return "failure"
    if not states or any(s == "pending" for s in states):
        return "pending"
    return "success"


def latest_check_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For `filter=latest`: the newest run of each name (input in creation order)."""
    seen: set[str] = set()
    latest = []
    for r in reversed(runs):
        if r["name"] not in seen:
            seen.add(r["name"])
            latest.append(r)
    return latest


def checks_green(runs: list[dict[str, Any]]) -> bool | None:
    """True when every latest run completed successfully (or neutral/skipped);
    False when one failed; None when some are still running."""
    latest = latest_check_runs(runs)
    if any(
        r["status"] == "completed" and r.get("conclusion") not in ("success", "neutral", "skipped")
        for r in latest
    ):
        return False
    if any(r["status"] != "completed" for r in latest):
        return None
    return True
