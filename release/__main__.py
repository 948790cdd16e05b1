"""`python -m release`: see release/cli/."""

from release.cli import run

run()
