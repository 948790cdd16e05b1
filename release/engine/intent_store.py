"""Reading a stack's record of intent from outside the engine (for the command line).

The record is the `TrainRecord` resource's outputs in the stack's state (see
release/providers/train_record.py). The command line reads it before it builds a delta
(to refuse a bad op early and to show the record in `status` and `plan`). The program
reads it again under the stack's lock and applies the delta there, so what is read here
only informs; it is never written back.

On a `file://` or `postgres://` backend the checkpoint is read directly (no engine run, no
passphrase); on any other backend (object stores, Pulumi Cloud) through `pulumi stack
export`, which creates nothing for a stack the backend does not have. The record holds no
secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
    """The record in the stack's checkpoint, read from the backend where it is read directly
    (`file://`, `postgres://`: release.engine.backends); None when it cannot be read there."""
    found = automation.checkpoint_resources(backend_url, project, name)
    return None if found is None else record_of_resources(found)


def read_record(project: automation.Project, name: str) -> Record:
    """The stack's record as stored now; EMPTY for a stack that has none yet, or that the
    backend does not hold (reading never creates the stack)."""
    return record_of_resources(automation.stored_resources(project, name))
