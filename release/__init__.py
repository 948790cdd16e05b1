"""release-train: the weekly release process as a Pulumi program."""
