"""Command line: `python -m sandbox serve|seed ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_LOGIN = "release-bot"


def _tokens(values: list[str], default_login: str = DEFAULT_LOGIN) -> dict[str, str]:
    """`TOKEN` (login `default_login`) or `LOGIN:TOKEN` -> {token: login}."""
    tokens: dict[str, str] = {}
    for value in values:
        login, sep, token = value.partition(":")
        if sep and login and token:
            tokens[token] = login
        else:
            tokens[value] = default_login
    return tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Local GitHub-compatible forge."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the REST API under /api/v3 and git smart HTTP")
    serve.add_argument(
        "--data", required=True, type=Path, help="data directory (repos and forge state)"
    )
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    serve.add_argument(
        "--token", action="append", default=[], help="TOKEN or LOGIN:TOKEN (repeatable)"
    )
    serve.add_argument(
        "--read-only-token",
        action="append",
        default=[],
        help="TOKEN or LOGIN:TOKEN that may only read",
    )
    seed = sub.add_parser("seed", help="create the acme/service example repository")
    seed.add_argument("--data", required=True, type=Path, help="data directory")
    args = parser.parse_args(argv)

    if args.command == "serve":
        from .server import Sandbox

        if not args.token:
            parser.error("serve needs at least one --token")
        read_only = _tokens(args.read_only_token, "auditor")
        sandbox = Sandbox(args.data, tokens=_tokens(args.token), read_only_tokens=read_only)
        sandbox.start(args.port)
        print(
            f"sandbox forge serving {sandbox.base_url} (git at {sandbox.url}/OWNER/NAME.git)",
            flush=True,
        )
        try:
            sandbox.serve_forever_started()
        except KeyboardInterrupt:
            pass
        finally:
            sandbox.stop()
        return 0

    try:
        from .seed import seed as run_seed
    except ImportError as exc:
        print(
            f"seed is not available: sandbox/seed.py cannot be imported ({exc})",
            file=sys.stderr,
        )
        return 2
    run_seed(args.data)
    print(f"seeded {args.data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
