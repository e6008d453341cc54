"""`sk sandbox snapshot [-o FILE] [--json]` — the configured environment as a seed file.

Read-only on the source: it lists the connections (`GET /api/v1/connections/app`), the
connected accounts (ListConnectedAccounts) and each connection's tools (ListTools), every
list paged with the service's page tokens and bounded, and writes what `sk sandbox seed`
and `sk sandbox serve --seed` load (the keys of the seed format, nothing else).

What the file never holds: a token, a refresh token, a static credential or the client
secret. The list answers carry none (`ConnectedAccountForList` has no authorization
details), and no account is read one by one, so none is ever fetched; the sandbox makes its
own. For the same reason accounts carry no scopes, and connections none either (a
`ListConnection` has no scopes field).

Tools: those of a connection that an emulated app backs (`app = "gmail"`, …) are left out,
since that app provides its own catalogue; every other connection's tools are written with
their name, description and input schema (no canned result: the service does not say one).

Every server string is hostile until written: control, bidi and separator characters are
escaped (the value stays the same once parsed), lone surrogates become U+FFFD, descriptions
are cut at a bound, and an entry whose name, id or schema is too big or too deep to be a
real one, or whose schema holds NaN or Infinity, is left out with a note on stderr; so is
what the seed loader would refuse (an account listed twice, a name or id against the
contract's rules, an expiry that is no zoned RFC 3339 time).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import click
import typer

from ..cli.commands import SkCommand
from ..errors import CliError, ExitCode
from ..output import json_text
from ..runtime import Runtime
from ..scalekit import limits
from ..scalekit.errors import ApiError, is_unsupported
from ..scalekit.models import AccountStatus
from ..toml_output import toml_text
from ._common import VerboseOption, execute
from .runner import account_id_problem, connector_problem

if TYPE_CHECKING:
    from ..scalekit.client import ScalekitClient
    from ..scalekit.models import AppConnection, ConnectedAccount, Tool

T = TypeVar("T")

SEED_VERSION = 1
DEFAULT_ACCOUNT_LIMIT = 10_000
# Guards against a server that pages for ever (fresh tokens each time, which follow_pages'
# repeated-token check cannot see): at most this many items of each list are read.
MAX_CONNECTIONS = 5_000
MAX_TOOLS_PER_CONNECTION = 2_000
# A name, identifier or id longer than this is no real one: the entry is left out.
MAX_NAME = 1_024
MAX_DESCRIPTION = 8_192
MAX_SCHEMA_DEPTH = 32
MAX_SCHEMA_CHARS = 256 * 1024

# The apps the sandbox emulates and the provider each belongs to. The real catalogue names a
# connection after its app (`gmail`, `GMAIL`, `gmail-prod`, `google_calendar`), and its
# provider is the app's provider (GOOGLE) or the app itself.
EMULATED_APPS = {
    "googlecalendar": "google",
    "gmail": "google",
    "slack": "slack",
    "notion": "notion",
    "github": "github",
    "exa": "exa",
}


@dataclass
class SnapshotOptions:
    output: Path | None = None
    json: bool = False
    limit: int = DEFAULT_ACCOUNT_LIMIT


@dataclass
class Notes:
    """What stderr says after the file is written: each kind of leaving-out, counted."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def lines(self) -> Iterator[str]:
        for what, count in self.counts.items():
            yield what if count == 1 else f"{count} × {what}"


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def emulated_app(name: str, provider: str) -> str | None:
    """The emulated app behind a connection, by its name and provider; None when none is."""
    key, owner = _squash(name), _squash(provider)
    for app, app_provider in EMULATED_APPS.items():
        if key.startswith(app) and owner in (app_provider, app):
            return app
    return None


def _bounded(items: Iterable[T], cap: int, what: str, notes: Notes) -> list[T]:
    """At most `cap` items; the rest is never requested, and a note says so."""
    taken = list(islice(items, cap + 1))
    if len(taken) > cap:
        notes.add(f"{what}: stopped after {cap}, more exist")
        return taken[:cap]
    return taken


class _NotJson(ValueError):
    """A number JSON cannot hold (NaN, ±Infinity): Python's parser takes them, strict ones
    (and the sandbox's own answers) do not."""


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON value with every string made writable (lone surrogates → U+FFFD); raises
    ValueError when it is nested deeper than any real input schema, _NotJson when it holds
    a number JSON cannot."""
    if depth > MAX_SCHEMA_DEPTH:
        raise ValueError("nested too deep")
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise _NotJson(value)
    if isinstance(value, dict):
        return {_clean(k, depth): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return value


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def _text(value: str) -> str:
    if not _has_surrogate(value):
        return value
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)


def _name_ok(value: str) -> bool:
    return 0 < len(value) <= MAX_NAME


def _violations(connection: str, identifier: str, account_id: str = "ca_0") -> list[str]:
    """The contract's rules the values break (limits.py, from the descriptors), as the seed
    loader checks them: an entry that breaks one would make `serve --seed` refuse the whole
    file."""
    problems = [
        connector_problem(connection),
        "identifier: too long" if len(identifier) > limits.IDENTIFIER_MAX_LEN else None,
        account_id_problem(account_id),
    ]
    return [problem for problem in problems if problem]


def _connection_entries(
    connections: list[AppConnection], notes: Notes
) -> list[tuple[AppConnection, dict[str, Any]]]:
    entries: list[tuple[AppConnection, dict[str, Any]]] = []
    seen: set[str] = set()
    for connection in connections:
        if not _name_ok(connection.name) or len(connection.provider) > MAX_NAME:
            notes.add("connection left out: no name, or a name or provider too long")
            continue
        if connection.name in seen:
            notes.add("connection left out: its name repeats an earlier one")
            continue
        if _violations(connection.name, "x"):
            notes.add("connection left out: a name the contract's rules refuse")
            continue
        seen.add(connection.name)
        entry: dict[str, Any] = {"name": _text(connection.name)}
        if connection.provider:
            entry["provider"] = _text(connection.provider)
        if connection.authorization_type and len(connection.authorization_type) <= MAX_NAME:
            entry["authorization_type"] = _text(connection.authorization_type)
        app = emulated_app(connection.name, connection.provider)
        if app is not None:
            entry["app"] = app
        entries.append((connection, entry))
    return entries


def _account_entry(
    account: ConnectedAccount, connections: set[str], notes: Notes
) -> dict[str, Any] | None:
    """The seed entry of one account: never its credentials (the list carries none)."""
    if account.connector not in connections:
        notes.add("account left out: its connection is not among the environment's")
        return None
    if not (_name_ok(account.identifier) and len(account.id) <= MAX_NAME):
        notes.add("account left out: no identifier, or an identifier or id too long")
        return None
    if _violations(account.connector, account.identifier, account.id or "ca_0"):
        notes.add("account left out: an identifier or id the contract's rules refuse")
        return None
    if account.status not in AccountStatus.__members__:
        notes.add("account left out: a status the contract does not name")
        return None
    entry: dict[str, Any] = {
        "connection": _text(account.connector),
        "identifier": _text(account.identifier),
        "status": account.status,
    }
    if account.id:
        entry["id"] = _text(account.id)
    if account.token_expires_at and len(account.token_expires_at) <= MAX_NAME:
        if _zoned_time(account.token_expires_at):
            entry["expires_at"] = account.token_expires_at
        else:
            notes.add("account expiry left out: not an RFC 3339 time with a zone")
    return entry


def _zoned_time(text: str) -> bool:
    """Whether the seed loader takes `text` as an `expires_at`."""
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def _tool_entry(tool: Tool, connection: str, notes: Notes) -> dict[str, Any] | None:
    if not _name_ok(tool.name):
        notes.add("tool left out: no name, or a name too long")
        return None
    from ..sandbox.settings import TOOL_NAME

    if not TOOL_NAME.fullmatch(tool.name):
        notes.add("tool left out: not a tool name (letters, digits, _ . -)")
        return None
    try:
        schema = _clean(tool.input_schema)
    except _NotJson:
        notes.add("tool left out: a number in its input schema that JSON cannot hold")
        return None
    except ValueError:
        notes.add(f"tool left out: an input schema nested deeper than {MAX_SCHEMA_DEPTH}")
        return None
    if len(json_text(schema, indent=None)) > MAX_SCHEMA_CHARS:
        notes.add(f"tool left out: an input schema over {MAX_SCHEMA_CHARS} characters")
        return None
    description = _text(tool.description)
    if len(description) > MAX_DESCRIPTION:
        notes.add(f"tool description cut at {MAX_DESCRIPTION} characters")
        description = description[:MAX_DESCRIPTION]
    entry: dict[str, Any] = {"connection": _text(connection), "name": _text(tool.name)}
    if description:
        entry["description"] = description
    if schema:
        entry["input_schema"] = schema
    return entry


def read_environment(
    client: ScalekitClient, options: SnapshotOptions, notes: Notes, progress: Any
) -> dict[str, Any]:
    """The seed document of the environment `client` talks to (list calls only)."""
    progress("reading the connections")
    try:
        connections = _bounded(client.iter_app_connections(), MAX_CONNECTIONS, "connections", notes)
    except ApiError as error:
        if not is_unsupported(error):
            raise
        raise CliError(
            "this environment does not list its connections (it predates connections/app): "
            "there is nothing to snapshot them from",
            ExitCode.FAILURE,
        ) from None
    entries = _connection_entries(connections, notes)
    names = {connection.name for connection, _ in entries}

    progress("reading the accounts")
    accounts: list[dict[str, Any]] = []
    # Pages may overlap (offset paging while accounts change): the seed loader refuses an
    # account declared twice, by its (connection, identifier) or by its id.
    seen_accounts: set[tuple[str, str]] = set()
    for read, account in enumerate(client.iter_accounts()):
        if read == options.limit:
            notes.add(f"accounts: stopped at --limit {options.limit}, more exist")
            break
        if read and read % 100 == 0:
            progress(f"reading the accounts ({read} so far)")
        entry = _account_entry(account, names, notes)
        if entry is None:
            continue
        keys = {("key", f"{entry['connection']}\0{entry['identifier']}")}
        if entry.get("id"):
            keys.add(("id", entry["id"]))
        if keys & seen_accounts:
            notes.add("account left out: listed twice")
            continue
        seen_accounts |= keys
        accounts.append(entry)

    tools: list[dict[str, Any]] = []
    seen_tools: set[str] = set()
    for connection, entry in entries:
        if "app" in entry:
            continue  # the emulated app brings its own tools
        progress(f"reading the tools of {connection.name}")
        found = client.iter_tools(connector=connection.name)
        for tool in _bounded(found, MAX_TOOLS_PER_CONNECTION, "tools of a connection", notes):
            if tool.name in seen_tools:
                continue
            tool_entry = _tool_entry(tool, connection.name, notes)
            if tool_entry is not None:
                seen_tools.add(tool.name)
                tools.append(tool_entry)

    document: dict[str, Any] = {"version": SEED_VERSION}
    if client.client_id:
        document["environment"] = {"client_id": _text(client.client_id)}
    document["connections"] = [entry for _, entry in entries]
    document["accounts"] = accounts
    document["tools"] = tools
    return document


# -- TOML ---------------------------------------------------------------------------------------

NULL_NOTE = "null value left out (TOML has no null; --json keeps it)"


def to_toml(document: dict[str, Any], notes: Notes, stamp: str) -> str:
    return toml_text(
        document,
        (
            f"Seed file written by `sk sandbox snapshot` at {stamp}.",
            "It holds no token, static credential or client secret: the sandbox makes its own.",
            "Tools of connections backed by an emulated app are left out: the app brings its own.",
        ),
        dropped=lambda: notes.add(NULL_NOTE),
    )


# -- the command --------------------------------------------------------------------------------


def write_seed_file(path: Path, text: str) -> None:
    """All or nothing: a temporary file beside it, renamed over it once complete."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=directory
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise CliError(
            f"-o {path}: cannot write the file ({error.strerror or error.__class__.__name__})",
            ExitCode.FAILURE,
        ) from None


def run(options: SnapshotOptions, runtime: Runtime) -> int:
    if options.limit < 1:
        raise CliError("--limit must be at least 1", ExitCode.USAGE)
    as_json = options.json or (
        options.output is not None and options.output.suffix.casefold() == ".json"
    )
    out = runtime.out
    client = runtime.scalekit()
    notes = Notes()
    with out.spinner("reading the environment") as status:

        def progress(message: str) -> None:
            if status is not None:
                status.update(message)

        document = read_environment(client, options, notes, progress)
    if as_json:
        text = json_text(document) + "\n"
    else:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = to_toml(document, notes, stamp)
    if options.output is None:
        out.raw(text.encode("utf-8"))
    else:
        write_seed_file(options.output, text)
    for line in notes.lines():
        out.info(line)
    counts = (
        f"{len(document['connections'])} connections, {len(document['accounts'])} accounts, "
        f"{len(document['tools'])} tools"
    )
    if options.output is None:
        out.info(f"snapshot: {counts}")
    else:
        out.success(f"wrote {options.output}: {counts}")
    return ExitCode.OK


def register_snapshot(sandbox_app: typer.Typer) -> None:
    @sandbox_app.command(
        "snapshot",
        cls=SkCommand,
        epilog="""
            sk sandbox snapshot -o seed.toml
            sk sandbox snapshot --json -o seed.json
            sk sandbox snapshot --limit 500
        """,
    )
    def snapshot_command(
        ctx: typer.Context,
        output: Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                help="Write the seed file here (TOML, or JSON for a .json name); default: stdout.",
                metavar="FILE",
                click_type=click.Path(dir_okay=False, path_type=Path),
            ),
        ] = None,
        json_mode: Annotated[
            bool, typer.Option("--json", help="Write the seed file as JSON rather than TOML.")
        ] = False,
        limit: Annotated[
            int,
            typer.Option("--limit", help="Read at most this many accounts.", metavar="N", min=1),
        ] = DEFAULT_ACCOUNT_LIMIT,
        verbose: VerboseOption = False,
    ) -> None:
        """Write the configured environment's connections, accounts and tools as a seed
        file (never a token or secret)."""
        options = SnapshotOptions(output, json_mode, limit)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose)
