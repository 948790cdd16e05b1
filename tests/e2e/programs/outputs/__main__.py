"""Outputs of every shape: plain, nested, listed, secret at the top and secret inside."""

import pulumi

config = pulumi.Config()
word = config.require("word")

pulumi.export("plain", word)
pulumi.export("number", 7)
pulumi.export("nested", {"commit": "abc", "checks": {"test": "success"}, "none": None})
pulumi.export("listed", [{"sha": "abc", "reason": "red"}, 3, "x"])
pulumi.export("secret", pulumi.Output.secret(config.require_secret("hidden")))
pulumi.export("inner", {"open": word, "closed": config.require_secret("hidden")})
