"""release-train: the Pulumi program. The stack's config decides its role; see release/program.py."""

from release.program import main

main()
