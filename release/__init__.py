"""release-train: the weekly release process as a Pulumi program."""

__version__ = "0.9.0"
