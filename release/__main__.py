"""`python -m release`: see release/cli.py."""

from release.cli import main

main()
