"""`sk run CONNECTOR --user ID [--env NAME] -- COMMAND [ARGS…]` — run a command with the
account's fresh token in its environment, as `op run` and `doppler run` do with secrets.

The token goes to the child's environment only: sk prints nothing of it. Signals sent to sk
(SIGINT, SIGTERM, SIGHUP) are passed on to the child, and sk exits with the child's exit code
(128 + N when a signal N ended it).
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, field
from types import FrameType
from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ._common import (
    ConnectorArgument,
    DebugOption,
    UserOption,
    VerboseOption,
    execute,
    validate_connector,
    validate_identifier,
)

DEFAULT_TOKEN_VARIABLE = "SCALEKIT_ACCESS_TOKEN"
DEFAULT_REFRESH_VARIABLE = "SCALEKIT_REFRESH_TOKEN"
FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@dataclass
class RunOptions:
    connector: str
    identifier: str
    command: list[str] = field(default_factory=list)
    token_variable: str = DEFAULT_TOKEN_VARIABLE
    refresh_variable: str = DEFAULT_REFRESH_VARIABLE


def _terminal_reaches_child() -> bool:
    """True when sk runs in the foreground of its terminal: a Ctrl-C there goes to the whole
    process group, the child included, and passing it on would deliver it twice."""
    getpgrp = getattr(os, "getpgrp", None)
    if getpgrp is None:
        return False
    for descriptor in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(descriptor) and os.tcgetpgrp(descriptor) == getpgrp():
                return True
    return False


def run_child(command: list[str], env: dict[str, str]) -> int:
    """Start the child, forward signals to it, and return its exit code (128 + N for signal N)."""
    import subprocess

    child: subprocess.Popen[bytes] | None = None
    pending: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child is None:
            pending.append(signum)  # arrived while the child was starting: sent right after
            return
        if signum == signal.SIGINT and _terminal_reaches_child():
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        try:
            child = subprocess.Popen(command, env=env)
        except FileNotFoundError:
            raise CliError(f"command not found: {command[0]}", 127) from None
        except PermissionError:
            raise CliError(f"permission denied: {command[0]}", 126) from None
        except OSError as exc:
            raise CliError(f"cannot run {command[0]}: {exc.strerror}", 126) from None
        for signum in pending:
            forward(signum, None)
        code = child.wait()  # PEP 475: signals handled above do not interrupt the wait
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def run(options: RunOptions, runtime: Runtime) -> int:
    # Imported here: `sk run --help` needs none of them (start-up, docs/benchmarks.md).
    from ..github_actions import validate_name
    from .token import credential_fields, primary_secret, read_active_account

    validate_connector(options.connector)
    validate_identifier(options.identifier)
    validate_name(options.token_variable, "--env")
    validate_name(options.refresh_variable, "--refresh-env")
    if not options.command:
        raise CliError(
            "give the command to run after --, e.g. sk run gmail --user u -- env", ExitCode.USAGE
        )
    out = runtime.out
    account = read_active_account(runtime, options.connector, options.identifier)
    fields = credential_fields(account)
    _, token = primary_secret(account)
    out.secrets.add(token)
    env = dict(os.environ)
    env[options.token_variable] = token
    refresh = fields.get("refresh_token") if "access_token" in fields else None
    if isinstance(refresh, str) and refresh:
        out.secrets.add(refresh)
        env[options.refresh_variable] = refresh
    else:
        # A stale value inherited from the parent would pair with the wrong access token.
        env.pop(options.refresh_variable, None)
    # The child may print what it was given: under GitHub Actions have the runner mask it.
    out.mask_in_ci(token)
    if isinstance(refresh, str) and refresh:
        out.mask_in_ci(refresh)
    out.detail(f"running {options.command[0]} with {options.token_variable} set")
    return run_child(options.command, env)


def register(app: typer.Typer) -> None:
    @app.command(
        "run",
        cls=SkCommand,
        epilog="""
            sk run gmail --user user_123 -- env
            sk run gmail --user user_123 --env GMAIL_TOKEN -- python sync.py
        """,
    )
    def run_command(
        ctx: typer.Context,
        connector: ConnectorArgument,
        user: UserOption,
        command: Annotated[
            list[str] | None,
            typer.Argument(help="The command and its arguments, after --.", metavar="COMMAND"),
        ] = None,
        env: Annotated[
            str,
            typer.Option("--env", help="Variable that receives the access token.", metavar="NAME"),
        ] = DEFAULT_TOKEN_VARIABLE,
        refresh_env: Annotated[
            str,
            typer.Option(
                "--refresh-env",
                help="Variable that receives the refresh token, when there is one.",
                metavar="NAME",
            ),
        ] = DEFAULT_REFRESH_VARIABLE,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Run COMMAND with the account's fresh token in its environment (never printed)."""
        options = RunOptions(connector, user, list(command or []), env, refresh_env)
        execute(ctx, run, options, verbose=verbose, debug=debug)
