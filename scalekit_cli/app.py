"""The Typer app: root options, and one module per command registered on it."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from . import __version__
from .config import Flags
from .errors import ExitCode


class SkGroup(TyperGroup):
    """Usage errors end in one line on stderr (`sk: …`), never a usage block or a traceback."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        position = non_utf8_argument(sys.argv[1:] if args is None else list(args))
        if position:
            # A byte that is not UTF-8 reaches Python as a lone surrogate, which no request can
            # carry: refuse it here, for every option, before anything is sent.
            sys.stderr.write(f"sk: argument {position} holds bytes that are not UTF-8\n")
            if standalone_mode:
                sys.exit(ExitCode.USAGE)
            return ExitCode.USAGE
        try:
            code = super().main(
                args=args,
                prog_name=prog_name or "sk",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except typer.Abort:
            sys.stderr.write("sk: aborted\n")
            code = ExitCode.INTERRUPTED
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                # Bare `sk` or `sk gmail`: the help is the answer, as with gh.
                sys.stdout.write(exc.format_message().rstrip() + "\n")
                code = ExitCode.OK
            else:
                sys.stderr.write(f"sk: {usage_line(exc)}\n")
                code = exc.exit_code
        code = int(code) if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def non_utf8_argument(args: list[str]) -> int:
    """The 1-based position of the first argument holding a lone surrogate, or 0."""
    for position, arg in enumerate(args, start=1):
        if isinstance(arg, str) and any("\ud800" <= char <= "\udfff" for char in arg):
            return position
    return 0


def usage_line(exc: typer.TyperException) -> str:
    message = exc.format_message().strip().replace("\n", " ")
    message = message[:1].lower() + message[1:].rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and exc.exit_code == ExitCode.USAGE:
        return f"{message} (see '{ctx.command_path} --help')"
    return message


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"sk {__version__}\n")
        raise typer.Exit(0)


app = typer.Typer(
    name="sk",
    cls=SkGroup,
    help="Connect your users' apps through Scalekit AgentKit and get fresh tokens.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Run against the local embedded sandbox (no credentials needed).",
        ),
    ] = False,
    env_url: Annotated[
        str | None,
        typer.Option(
            "--env-url", help="Scalekit environment URL (else SCALEKIT_ENV_URL).", metavar="URL"
        ),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="Client id (else SCALEKIT_CLIENT_ID).", metavar="ID"),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Stored profile (sk login) to fall back on (else SK_PROFILE, else 'default').",
            metavar="NAME",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_show_version
        ),
    ] = False,
) -> None:
    ctx.obj = Flags(sandbox=sandbox, env_url=env_url, client_id=client_id, profile=profile)


def _register() -> None:
    from .commands import (
        accounts,
        connect,
        demo,
        disconnect,
        doctor,
        exec_tool,
        gmail,
        mcp,
        sandbox,
        status,
        token,
        tools,
    )

    for module in (
        connect,
        status,
        token,
        gmail,
        exec_tool,
        tools,
        accounts,
        disconnect,
        doctor,
        demo,
        sandbox,
        mcp,
    ):
        module.register(app)
    _register_profiles_and_ci()


def _register_profiles_and_ci() -> None:
    from .commands import config_cmd, login, logout, request, run

    for module in (login, logout, config_cmd, run, request):
        module.register(app)


_register()
