"""Reading a stack's record of intent from outside the engine (for the command line).

The record is the `TrainRecord` resource's outputs in the stack's state (see
release/providers/train_record.py). The command line reads it before it builds a delta
(to refuse a bad op early and to show the record in `status` and `plan`). The program
reads it again under the stack's lock and applies the delta there, so what is read here
only informs; it is never written back.

On a `file://` backend the checkpoint is read directly (no engine run, no passphrase);
on any other backend (PostgreSQL, object stores, Pulumi Cloud) through `pulumi stack
export`. The record holds no secret.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi import automation as auto

from release.engine import automation
from release.providers.train_record import RESOURCE_NAME, TYPE
from release.rules.intent import EMPTY, Record, record_from_dict


def record_of_resources(resources: Iterable[Mapping[str, Any]]) -> Record:
    """The record among a deployment's resources (`stack export` shape); EMPTY if none."""
    for resource in resources:
        urn = str(resource.get("urn", ""))
        if resource.get("type") == TYPE and urn.endswith(f"::{RESOURCE_NAME}"):
            if resource.get("delete"):
                continue  # a pending delete of an old copy
            return record_from_dict((resource.get("outputs") or {}).get("record"))
    return EMPTY


def checkpoint_record(backend_url: str, project: str, name: str) -> Record | None:
    """The record in a `file://` backend's checkpoint; None when it cannot be read there."""
    path = automation.checkpoint_path(backend_url, project, name)
    if path is None:
        return None
    try:
        raw = path.read_bytes()
        data = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
        resources = (data["checkpoint"].get("latest") or {}).get("resources") or []
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return record_of_resources(resources)


def read_record(project: automation.Project, name: str) -> Record:
    """The stack's record as stored now; EMPTY for a stack that has none yet."""
    found = checkpoint_record(project.backend(), automation.project_name(project), name)
    if found is not None:
        return found
    try:
        deployment = automation.stack(project, name).export_stack().deployment or {}
    except auto.CommandError:
        return EMPTY
    return record_of_resources(deployment.get("resources") or [])
