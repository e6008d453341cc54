"""`sk config show` — every resolved setting and the layer it came from (flag, environment,
`.env`, profile, default), the client secret always redacted. Exit 5 when the credentials are
incomplete, with the reason on the last line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..config import gmail_destination_note
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.secrets import mask
from ._common import DebugOption, JsonOption, VerboseOption, execute


@dataclass
class ConfigShowOptions:
    json: bool = False


def run(options: ConfigShowOptions, runtime: Runtime) -> int:
    out = runtime.out
    runtime.credentials = "optional"
    settings = runtime.settings
    sources = settings.sources
    rows: list[tuple[str, str | None, str]]
    if settings.sandbox:
        rows = [
            ("profile", None, "not used with the sandbox"),
            ("env_url", "sandbox", sources.get("env_url", "")),
            ("client_id", None, "the sandbox's own"),
            ("client_secret", None, "the sandbox's own"),
        ]
    else:
        rows = [
            ("profile", settings.profile, sources.get("profile", "")),
            ("env_url", settings.env_url or None, sources.get("env_url", "not set")),
            ("client_id", settings.client_id or None, sources.get("client_id", "not set")),
            (
                "client_secret",
                # Always redacted, even under --debug: this command is for showing settings.
                mask(settings.client_secret) if settings.client_secret else None,
                sources.get("client_secret", "not set"),
            ),
        ]
    rows += [
        ("gmail_url", settings.gmail_url, sources.get("gmail_url", "default")),
        ("timeout", f"{settings.timeout:g}", sources.get("timeout", "default")),
    ]
    note = gmail_destination_note(settings)
    if note:
        out.warn(note)
    if options.json:
        document: dict[str, Any] = {
            name: {"value": value, "source": source} for name, value, source in rows
        }
        document["timeout"]["value"] = settings.timeout
        out.json(
            {**document, "ignored_dotenv": settings.ignored_dotenv, "problems": settings.problems}
        )
    else:
        if settings.ignored_dotenv:
            rows.append(
                (
                    "ignored",
                    ", ".join(settings.ignored_dotenv),
                    ".env (only the environment may set these)",
                )
            )
        out.table(["setting", "value", "source"], [(n, v or "—", s) for n, v, s in rows])
    if settings.problems:
        raise CliError(settings.problems[0], ExitCode.CONFIG)
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(
        name="config",
        epilog="""
            sk config show
            sk config show --profile staging --json
        """,
        cls=SkSubGroup,
        help="Inspect the resolved configuration.",
        no_args_is_help=True,
    )

    @config_app.command(
        "show",
        cls=SkCommand,
        epilog="""
            sk config show
            sk config show --profile staging --json
        """,
    )
    def show_command(
        ctx: typer.Context,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Print every resolved setting and where it came from (the secret redacted)."""
        execute(
            ctx,
            run,
            ConfigShowOptions(json_mode),
            json_mode=json_mode,
            verbose=verbose,
            debug=debug,
        )

    app.add_typer(config_app)
