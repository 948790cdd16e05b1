"""release-train: the Pulumi program. The stack's config decides its role; see release/program/entry.py."""

from release.program.entry import main

main()
