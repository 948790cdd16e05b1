"""`python -m release`: see release/cli/."""

from release.cli.promotion import main

main()
