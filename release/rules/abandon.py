"""What `release abandon` does, decided before its first write (pure, on plain data).

The release to abandon is the one its open pull request names. The stack goes back to the
newest successful update that ran ANOTHER RELEASE (another release date): two cuts may share
a commit (nothing new was green), so the commit alone does not tell releases apart. A stack
with no earlier release (its first) has nothing to pin back to: its pins are removed and the
closed pull request is forgotten by the stack, so the next `promote` opens a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PIN_KEYS = ("commit", "releaseDate", "picks", "reverts")


@dataclass(frozen=True)
class AbandonPlan:
    release: str
    pins: Mapping[str, Any] = field(default_factory=dict)  # empty: the stack's first release

    @property
    def first(self) -> bool:
        return not self.pins

    @property
    def previous(self) -> str | None:
        if self.first:
            return None
        date = self.pins.get("releaseDate")
        return f"release/{date}" if date else str(self.pins["commit"])


def previous_pins(
    entries: Sequence[Mapping[str, Any]], release: str, namespace: str
) -> dict[str, Any]:
    """The pins of the newest successful update that ran another release than `release`
    (history entries as plain dicts: version, kind, result, config {key: value}); {} if none."""
    abandoned = release.removeprefix("release/")
    for entry in sorted(entries, key=lambda e: e.get("version") or 0, reverse=True):
        if entry.get("result") != "succeeded" or entry.get("kind", "update") != "update":
            continue
        config = entry.get("config") or {}
        commit = config.get(f"{namespace}:commit")
        if commit in (None, ""):
            continue
        if str(config.get(f"{namespace}:releaseDate") or "") == abandoned:
            continue  # the abandoned release itself, whatever its commit
        return {k: config[f"{namespace}:{k}"] for k in PIN_KEYS if f"{namespace}:{k}" in config}
    return {}


def plan_abandon(
    pull: Mapping[str, Any], env: str, entries: Sequence[Mapping[str, Any]], namespace: str
) -> AbandonPlan:
    """The whole abandon, or ValueError saying why there is nothing to abandon."""
    release, number = pull.get("head"), pull.get("number")
    if not release or not number:
        raise ValueError(f"{env} has no release pull request to abandon")
    if pull.get("state") == "merged":
        raise ValueError(
            f"{release} is already merged into {env}; roll it back instead (release rollback {env})"
        )
    return AbandonPlan(str(release), previous_pins(entries, str(release), namespace))
