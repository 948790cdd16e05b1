"""Command line: `python -m sandbox serve|seed ...`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_LOGIN = "release-bot"
READ_ONLY_LOGIN = "auditor"
TOKENS_ENV = "SANDBOX_TOKENS"
READ_ONLY_TOKENS_ENV = "SANDBOX_READ_ONLY_TOKENS"


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


def _token_file(path: Path) -> list[str]:
    """The `TOKEN` or `LOGIN:TOKEN` entries of a file: one a line, `#` comments, blanks skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"cannot read token file {path}: {reason}") from exc
    entries = [line.strip() for line in text.splitlines()]
    return [e for e in entries if e and not e.startswith("#")]


def _env_tokens(name: str) -> list[str]:
    """`TOKEN` or `LOGIN:TOKEN` entries of an environment variable, separated by commas or
    whitespace."""
    return os.environ.get(name, "").replace(",", " ").split()


def gather_tokens(
    args: list[str], files: list[Path], env: str, default_login: str
) -> dict[str, str]:
    """{token: login} from the command line, token files and the environment variable `env`."""
    values = list(args)
    for path in files:
        values += _token_file(path)
    values += _env_tokens(env)
    return _tokens(values, default_login)


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
        "--token",
        action="append",
        default=[],
        help="TOKEN or LOGIN:TOKEN (repeatable; visible in `ps`, prefer --token-file or "
        f"${TOKENS_ENV})",
    )
    serve.add_argument(
        "--token-file",
        action="append",
        default=[],
        type=Path,
        help="file of TOKEN or LOGIN:TOKEN lines (# comments) (repeatable)",
    )
    serve.add_argument(
        "--read-only-token",
        action="append",
        default=[],
        help="TOKEN or LOGIN:TOKEN that may only read",
    )
    serve.add_argument(
        "--read-only-token-file",
        action="append",
        default=[],
        type=Path,
        help="file of read-only TOKEN or LOGIN:TOKEN lines",
    )
    serve.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="delay every API and git request by MS milliseconds (requests still overlap)",
    )
    serve.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        metavar="MS",
        help="vary each request's delay by up to +/- MS milliseconds",
    )
    seed = sub.add_parser("seed", help="create the acme/service example repository")
    seed.add_argument("--data", required=True, type=Path, help="data directory")
    parser.epilog = (
        f"Tokens may also come from ${TOKENS_ENV} and ${READ_ONLY_TOKENS_ENV} "
        "(TOKEN or LOGIN:TOKEN entries separated by commas or spaces)."
    )
    args = parser.parse_args(argv)

    if args.command == "serve":
        from .server import Sandbox

        try:
            tokens = gather_tokens(args.token, args.token_file, TOKENS_ENV, DEFAULT_LOGIN)
            read_only = gather_tokens(
                args.read_only_token,
                args.read_only_token_file,
                READ_ONLY_TOKENS_ENV,
                READ_ONLY_LOGIN,
            )
        except ValueError as exc:
            parser.error(str(exc))
        if not tokens:
            parser.error(
                f"serve needs at least one token: --token-file FILE, ${TOKENS_ENV} or --token"
            )
        try:
            sandbox = Sandbox(
                args.data,
                tokens=tokens,
                read_only_tokens=read_only,
                latency_ms=args.latency,
                jitter_ms=args.jitter,
            )
        except ValueError as exc:
            parser.error(f"--latency/--jitter: {exc}")
        sandbox.start(args.port)
        delay = f", {args.latency:g} ms latency" if args.latency else ""
        delay += f" +/- {args.jitter:g} ms" if args.jitter else ""
        print(
            f"sandbox forge serving {sandbox.base_url} (git at {sandbox.url}/OWNER/NAME.git"
            f"{delay})",
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
