"""A sandbox with many connections, in its own process.

A user has at most one account per connection, so measuring `sk status` for a user with
1 000 accounts needs 1 000 connections, which `sk sandbox serve` cannot configure. This serves
the sandbox app with the default connections plus `--connections N` test ones (app0000 …) and,
like `sk sandbox serve`, prints `export` lines once it listens; SIGTERM stops it.

    python -m bench.sandbox_proc --connections 1000 --client-id ID --client-secret SECRET
"""

from __future__ import annotations

import argparse
import shlex
import sys

from scalekit_cli.sandbox import Connection, SandboxSettings, default_connections, serve


def connection_name(index: int) -> str:
    return f"app{index:04d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox_proc")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    extra = [Connection(connection_name(i), "TEST", "OAUTH", []) for i in range(args.connections)]
    settings = SandboxSettings(
        client_id=args.client_id,
        client_secret=args.client_secret,
        connections=[*default_connections(), *extra],
    )

    def ready(base_url: str) -> None:
        for name, value in (
            ("SCALEKIT_ENV_URL", base_url),
            ("SCALEKIT_CLIENT_ID", args.client_id),
            ("SCALEKIT_CLIENT_SECRET", args.client_secret),
            ("SK_GMAIL_API_URL", base_url),
        ):
            sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
        sys.stdout.flush()

    serve(settings, port=args.port, ready=ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
