"""The command line (`python -m release`): the top layer, an edge (docs/architecture.md)."""
