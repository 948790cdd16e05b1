"""Drive dynamic providers the way the engine does: serialized, restored, configured."""

from __future__ import annotations

import base64
from typing import Any

import dill
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider

from release.rules.config import NAMESPACE


def engine_copy(provider: ResourceProvider, token: str | None) -> ResourceProvider:
    """`provider` after the engine's round trip: dill-serialized, restored, configured.

    An unpicklable capture fails here, as it would in `pulumi up`.
    """
    restored = dill.loads(base64.b64decode(serialize_provider(provider)))
    raw: dict[str, Any] = {f"{NAMESPACE}:token": token} if token else {}
    restored.configure(ConfigureRequest(Config(raw, NAMESPACE)))
    return restored
