"""A ref in the sandbox forge through a dynamic provider, and a local command."""

import pulumi
import pulumi_command as command
from smoke_ref import SmokeRef

config = pulumi.Config()

ref = SmokeRef(
    "smoke-ref",
    base_url=config.require("forgeUrl"),
    repo=config.require("repo"),
    ref=config.require("ref"),
    sha=config.require("sha"),
)

greeting = command.local.Command(
    "smoke-greeting",
    create='printf "smoke %s" "$SMOKE_WORD"',
    environment={"SMOKE_WORD": config.require("word")},
)

pulumi.export("ref", ref.ref)
pulumi.export("sha", ref.sha)
pulumi.export("greeting", greeting.stdout)
