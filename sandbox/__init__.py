"""A local GitHub-compatible forge over real bare git repositories (see server.py)."""

from .server import Sandbox

__all__ = ["Sandbox"]
