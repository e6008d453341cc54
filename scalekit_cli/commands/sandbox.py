"""`sk sandbox …` — run and manage the local AgentKit sandbox."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import click
import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..cli.completion import choices
from ..config import is_loopback
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ._common import (
    ConnectorArgument,
    DebugOption,
    UserOption,
    VerboseOption,
    confirm,
    execute,
    validate_connector,
    validate_identifier,
)
from .sandbox_seed import register_seed
from .sandbox_snapshot import register_snapshot

FORCEABLE = ("ACTIVE", "EXPIRED", "DISCONNECTED", "PENDING_VERIFICATION", "PENDING_AUTH")


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    client_id: str | None = None
    client_secret: str | None = None
    user_verification: str = "dashboard"
    state: Path | None = None
    memory: bool = False
    tls: bool = False
    seed: Path | None = None


def run_serve(options: ServeOptions, runtime: Runtime) -> int:
    from ..install_hint import require_sandbox_extra

    require_sandbox_extra("sk sandbox serve")
    from ..sandbox import EmbeddedSandbox, SandboxSettings, default_state_path, serve
    from ..sandbox.server import ServeError

    out = runtime.out
    if options.user_verification not in ("dashboard", "custom"):
        raise CliError("--user-verification must be dashboard or custom", ExitCode.USAGE)
    if options.memory and options.state:
        raise CliError("--state and --memory exclude each other", ExitCode.USAGE)
    if not 0 <= options.port <= 65535:
        raise CliError("--port must be between 0 and 65535", ExitCode.USAGE)
    if options.state is not None and options.state.is_dir():
        raise CliError(
            f"--state: {options.state} is a folder; give the path of the state file",
            ExitCode.USAGE,
        )
    if bool(options.client_id) != bool(options.client_secret):
        raise CliError("give both --client-id and --client-secret, or neither", ExitCode.USAGE)
    seed = None
    if options.seed is not None:
        from .sandbox_seed import load_seed_file

        seed = load_seed_file(options.seed, runtime)
    if options.client_id and options.client_secret:
        client_id, client_secret = options.client_id, options.client_secret
    else:
        persisted = EmbeddedSandbox.credentials()
        client_id, client_secret = persisted.client_id, persisted.client_secret
    if seed is not None and not options.client_id:  # the seed's environment, unless told
        client_id = seed.environment.get("client_id", client_id)
        client_secret = seed.environment.get("client_secret", client_secret)
    settings = SandboxSettings(
        client_id=client_id,
        client_secret=client_secret,
        user_verification=options.user_verification,
        state_path=None if options.memory else (options.state or default_state_path()),
    )
    tls = None
    if options.tls:
        from ..sandbox.tls import load_or_create_tls

        tls = load_or_create_tls(default_state_path().parent)

    def ready(base_url: str) -> None:
        if not is_loopback(options.host):  # told once bound: a host that fails is one line
            out.warn(
                f"binding {options.host}: the sandbox is reachable from the network "
                "(its admin surface still answers loopback callers only)"
            )
        if tls is not None:  # the name the certificate is for
            base_url = f"https://localhost:{base_url.rsplit(':', 1)[1]}"
        # eval-able lines on stdout; the secret is the sandbox's own, made for this machine.
        exports = {
            "SCALEKIT_ENV_URL": base_url,
            "SCALEKIT_CLIENT_ID": client_id,
            "SCALEKIT_CLIENT_SECRET": client_secret,
            "SK_GMAIL_API_URL": base_url,
            **(tls.trust_variables() if tls is not None else {}),
        }
        for name, value in exports.items():
            out.stdout.write(f"export {name}={shlex.quote(value)}\n")
        out.stdout.flush()
        out.info(f"sandbox listening on {base_url}, REST and gRPC (Ctrl-C to stop)")

    try:
        serve(
            settings,
            host=options.host,
            port=options.port,
            ready=ready,
            grpc=True,
            tls=tls,
            warn=out.warn,
            seed=seed,
        )
    except ServeError as error:
        raise CliError(str(error), ExitCode.FAILURE) from None
    out.info("sandbox stopped")
    return ExitCode.OK


@dataclass
class ResetOptions:
    yes: bool = False


def run_reset(options: ResetOptions, runtime: Runtime) -> int:
    """Empty the persisted state: every account and token of the embedded sandbox. Like
    `sk disconnect`, it asks on a terminal, and a script must say --yes."""
    from ..install_hint import require_sandbox_extra

    require_sandbox_extra("sk sandbox reset")
    from ..sandbox import default_state_path, reset_state

    out = runtime.out
    path = default_state_path()
    if not options.yes:
        if not out.stdin_tty:
            raise CliError(
                "refusing to reset the sandbox without --yes: standard input is not a "
                "terminal to ask on",
                ExitCode.USAGE,
            )
        question = f"Empty the sandbox state in {path}? Every account and token goes. [y/N] "
        if not confirm(out, question):
            raise CliError("not reset: the sandbox state is left as it was", ExitCode.FAILURE)
    reset_state(path)
    out.success("sandbox state emptied")
    return ExitCode.OK


@dataclass
class ForceOptions:
    connector: str
    identifier: str
    status: str


def run_force(options: ForceOptions, runtime: Runtime) -> int:
    validate_connector(options.connector)
    validate_identifier(options.identifier)
    status = options.status.upper()
    if status not in FORCEABLE:
        raise CliError(f"--status must be one of {', '.join(FORCEABLE)}", ExitCode.USAGE)
    runtime.flags.sandbox = True
    sandbox = runtime.sandbox
    assert sandbox is not None
    answer = runtime.session().send(
        "POST",
        f"{sandbox.base_url}/_sandbox/accounts/status",
        idempotent=True,
        json={"connector": options.connector, "identifier": options.identifier, "status": status},
    )
    if answer.status_code == 404:
        raise CliError(
            f"no {options.connector} account for {options.identifier!r} in the sandbox",
            ExitCode.NOT_CONNECTED,
        )
    if not answer.is_success:
        raise CliError(f"the sandbox refused: HTTP {answer.status_code}", ExitCode.FAILURE)
    runtime.out.success(f"{options.connector} of {options.identifier} is now {status}")
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    sandbox_app = typer.Typer(
        name="sandbox",
        epilog="""
            sk sandbox serve
            sk sandbox force gmail --user user_123 --status EXPIRED
        """,
        cls=SkSubGroup,
        help="The local AgentKit sandbox: serve it, seed or export it, reset it, force "
        "account states.",
        no_args_is_help=True,
    )

    @sandbox_app.command(
        "serve",
        cls=SkCommand,
        epilog="""
            sk sandbox serve
            sk sandbox serve --port 8790 --memory --seed examples/seed.toml
            sk sandbox serve --tls --state sandbox.db
        """,
    )
    def serve_command(
        ctx: typer.Context,
        host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option("--port", help="Port to bind (0: any free port).")
        ] = 8765,
        client_id: Annotated[
            str | None,
            typer.Option(
                "--client-id",
                help="Client id the sandbox accepts (with --client-secret; default: its own).",
                metavar="ID",
            ),
        ] = None,
        client_secret: Annotated[
            str | None,
            typer.Option(
                "--client-secret",
                help="Client secret the sandbox accepts (with --client-id).",
                metavar="SECRET",
            ),
        ] = None,
        user_verification: Annotated[
            str,
            typer.Option(
                "--user-verification",
                help="Who verifies users after consent: Scalekit's dashboard, or your app.",
                metavar="dashboard|custom",
            ),
        ] = "dashboard",
        state: Annotated[
            Path | None,
            typer.Option(
                "--state",
                help="SQLite state file.",
                metavar="PATH",
                # Click's Path, not Typer's: Typer's completes nothing, Click's completes files.
                click_type=click.Path(dir_okay=False, path_type=Path),
            ),
        ] = None,
        memory: Annotated[
            bool, typer.Option("--memory", help="Keep state in memory only.")
        ] = False,
        tls: Annotated[
            bool,
            typer.Option(
                "--tls",
                help="Serve HTTPS with a local CA kept in the data directory (the Python "
                "SDK's gRPC needs TLS); prints the variables that trust it.",
            ),
        ] = False,
        seed: Annotated[
            Path | None,
            typer.Option(
                "--seed",
                help="Start from this seed file (TOML or JSON): it replaces the state, so use "
                "it with --memory or a fresh --state file.",
                metavar="FILE",
                click_type=click.Path(dir_okay=False, path_type=Path),
            ),
        ] = None,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Serve the sandbox on loopback and print `export` lines for its settings."""
        options = ServeOptions(
            host, port, client_id, client_secret, user_verification, state, memory, tls, seed
        )
        execute(ctx, run_serve, options, verbose=verbose, debug=debug)

    @sandbox_app.command(
        "reset",
        cls=SkCommand,
        epilog="""
            sk sandbox reset
            sk sandbox reset --yes
        """,
    )
    def reset_command(
        ctx: typer.Context,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask (needed without a terminal).")
        ] = False,
    ) -> None:
        """Empty the persisted sandbox state (asks first unless --yes)."""
        execute(ctx, run_reset, ResetOptions(yes))

    @sandbox_app.command(
        "force",
        cls=SkCommand,
        epilog="""
            sk sandbox force gmail --user user_123 --status EXPIRED
            sk sandbox force gmail --user user_123 --status ACTIVE
        """,
    )
    def force_command(
        ctx: typer.Context,
        connector: ConnectorArgument,
        user: UserOption,
        status: Annotated[
            str,
            typer.Option(
                "--status",
                help="The status to force: " + ", ".join(FORCEABLE) + ".",
                autocompletion=choices(FORCEABLE),
            ),
        ],
    ) -> None:
        """Force an embedded-sandbox account into a status (EXPIRED, DISCONNECTED, …)."""
        execute(ctx, run_force, ForceOptions(connector, user, status))

    register_seed(sandbox_app)
    register_snapshot(sandbox_app)
    app.add_typer(sandbox_app)
