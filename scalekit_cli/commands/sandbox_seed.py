"""`sk sandbox seed FILE` and `sk sandbox export [-o FILE] [--json]`: the persisted sandbox
state from and to a seed file (format: docs/sandbox.md); `load_seed_file` also serves
`sk sandbox serve --seed`."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

from ..cli.commands import SkCommand
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..toml_output import toml_text
from ._common import execute
from .sandbox_snapshot import NULL_NOTE, Notes, write_seed_file

if TYPE_CHECKING:
    from ..sandbox.seed import Seed


def load_seed_file(path: Path, runtime: Runtime) -> Seed:
    """The checked seed; else every problem on stderr, one `sk:` line each, and exit 2."""
    from ..sandbox.seed import SeedError, load_seed
    from ..sandbox.settings import default_connections

    try:
        return load_seed(path, default_connections())
    except SeedError as error:
        *others, last = error.problems
        for problem in others:
            runtime.out.error(problem)
        raise CliError(last, ExitCode.USAGE) from None


def _state_error(path: Path, error: sqlite3.Error) -> CliError:
    """One line for a state file SQLite refuses: held by another process past the busy
    timeout (a `sk sandbox serve` mid-write), or no database at all."""
    busy = getattr(error, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
    reason = "another process holds it locked; retry when it is free" if busy else str(error)
    return CliError(f"cannot use the sandbox state {path}: {reason}", ExitCode.FAILURE)


def _save_credentials(directory: Path, client_id: str, client_secret: str) -> None:
    """The embedded sandbox's client credentials file, replaced whole (0600, as it is made)."""
    from ..sandbox.embedded import CREDENTIALS_FILE

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{CREDENTIALS_FILE}.", dir=directory)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"client_id": client_id, "client_secret": client_secret}, handle)
    os.replace(temporary, directory / CREDENTIALS_FILE)


@dataclass
class SeedOptions:
    file: Path


def run_seed(options: SeedOptions, runtime: Runtime) -> int:
    from ..install_hint import require_sandbox_extra

    require_sandbox_extra("sk sandbox seed")
    seed = load_seed_file(options.file, runtime)
    from ..sandbox import EmbeddedSandbox, SandboxSettings, default_state_path
    from ..sandbox.engine import SandboxEngine
    from ..sandbox.seed import apply_seed

    path = default_state_path()
    persisted = EmbeddedSandbox.credentials(path)
    client_id = seed.environment.get("client_id", persisted.client_id)
    client_secret = seed.environment.get("client_secret", persisted.client_secret)
    try:
        engine = SandboxEngine(
            SandboxSettings(client_id=client_id, client_secret=client_secret, state_path=path)
        )
        try:
            apply_seed(engine, seed)
        finally:
            engine.close()
    except sqlite3.Error as error:
        raise _state_error(path, error) from None
    if (client_id, client_secret) != (persisted.client_id, persisted.client_secret):
        _save_credentials(path.parent, client_id, client_secret)
    runtime.out.success(
        f"sandbox state replaced from {options.file}: {len(engine.settings.connections)} "
        f"connections, {len(seed.accounts)} accounts, {len(seed.tools)} seeded tools"
    )
    return ExitCode.OK


@dataclass
class ExportOptions:
    output: Path | None = None
    json: bool = False


def run_export(options: ExportOptions, runtime: Runtime) -> int:
    from ..install_hint import require_sandbox_extra

    require_sandbox_extra("sk sandbox export")
    from ..sandbox import EmbeddedSandbox, SandboxSettings, default_state_path
    from ..sandbox.engine import SandboxEngine
    from ..sandbox.seed import export_seed

    path = default_state_path()
    credentials = EmbeddedSandbox.credentials(path)
    # Credentials go to a file only (created 0600), never to the terminal or a pipe.
    secrets = options.output is not None
    try:
        engine = SandboxEngine(
            SandboxSettings(
                client_id=credentials.client_id,
                client_secret=credentials.client_secret,
                state_path=path,
            )
        )
        try:
            document = export_seed(engine, secrets=secrets)
        finally:
            engine.close()
    except sqlite3.Error as error:
        raise _state_error(path, error) from None
    if not secrets:
        runtime.out.warn(
            "tokens, static credentials and the client secret are left out on stdout; "
            "give -o FILE to keep them (seeding this makes new ones)"
        )
    as_json = options.json or (
        options.output is not None and options.output.suffix.casefold() == ".json"
    )
    if as_json:
        text = json.dumps(document, indent=2) + "\n"
    else:
        nulls = Notes()
        text = toml_text(
            document,
            ("Seed file written by `sk sandbox export`.",),
            dropped=lambda: nulls.add(NULL_NOTE),
        )
        for line in nulls.lines():
            runtime.out.warn(line)
    if options.output is None:
        runtime.out.raw(text.encode("utf-8"))
    else:
        write_seed_file(options.output, text)
        runtime.out.success(f"sandbox state written to {options.output}")
    return ExitCode.OK


def register_seed(sandbox_app: typer.Typer) -> None:
    @sandbox_app.command(
        "seed",
        cls=SkCommand,
        epilog="""
            sk sandbox seed examples/seed.toml
            sk sandbox seed seed.json
        """,
    )
    def seed_command(
        ctx: typer.Context,
        file: Annotated[
            Path,
            typer.Argument(
                help="Seed file: TOML, or JSON for a .json name.",
                metavar="FILE",
                click_type=click.Path(dir_okay=False, path_type=Path),
            ),
        ],
    ) -> None:
        """Replace the persisted sandbox state with a seed file (TOML or JSON).

        The state is the one `sk --sandbox` uses: every account, link and token in it goes.
        A bad file changes nothing. A running `sk sandbox serve` over that state sees the
        seed once restarted."""
        execute(ctx, run_seed, SeedOptions(file))

    @sandbox_app.command(
        "export",
        cls=SkCommand,
        epilog="""
            sk sandbox export
            sk sandbox export -o seed.toml
            sk sandbox export --json -o seed.json
        """,
    )
    def export_command(
        ctx: typer.Context,
        output: Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                help="Write here (TOML, or JSON for a .json name); default: stdout.",
                metavar="FILE",
                click_type=click.Path(dir_okay=False, path_type=Path),
            ),
        ] = None,
        json_mode: Annotated[
            bool, typer.Option("--json", help="Write JSON rather than TOML.")
        ] = False,
    ) -> None:
        """Write the persisted sandbox state as a seed file.

        With -o the file keeps the tokens and the client secret, so `sk sandbox seed` of it
        gives the same answers; on stdout they are left out."""
        execute(ctx, run_export, ExportOptions(output, json_mode), json_mode=json_mode)
