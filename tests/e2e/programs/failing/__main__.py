"""Fails while the engine runs it, after reading a secret from the stack configuration."""

import pulumi

config = pulumi.Config()
secret = config.require_secret("secret")
pulumi.export("secret", secret)
raise ValueError(f"failing on purpose: {config.require('marker')}")
