"""`sk exec-tool TOOL --user ID` — run a Scalekit tool (`POST /api/v1/execute_tool`).

Arguments come from `-d` (a JSON object, `@FILE`, or `-` for stdin) and `--param KEY=VALUE`
(values parsed as JSON where they can be: `5`, `true`, `["a"]`; strings otherwise), and are
sent as `params` — the field the schema names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from ..cli.commands import SkCommand
from ..cli.completion import complete_data, complete_tool
from ..connecting import AccountUnusable, execute_tool
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.errors import ApiError, InvalidResponse, NotFound
from ._common import (
    DebugOption,
    JsonOption,
    VerboseOption,
    connector_name,
    execute,
    refuse_empty,
    user_id,
    validate_connector,
    validate_identifier,
)

TOOL_NAME_MAX = 256


@dataclass
class ExecToolOptions:
    tool: str
    identifier: str | None
    connector: str | None = None
    account_id: str | None = None
    data: str | None = None
    params: list[str] = field(default_factory=list)
    json: bool = False
    check: bool = True  # --no-check: send the params without reading the tool's schema
    dry_run: bool = False  # --dry-run: print the request instead of sending it


def read_document(source: str, stdin) -> dict[str, Any]:
    """The `-d` argument: inline JSON, `@FILE`, or `-` for standard input; an object."""
    if source == "-":
        try:
            text, origin = stdin.read(), "standard input"
        except UnicodeDecodeError:
            raise CliError("standard input is not UTF-8 text", ExitCode.USAGE) from None
    elif source.startswith("@"):
        path = Path(source[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(
                f"-d {source}: cannot read the file ({exc.__class__.__name__})", ExitCode.USAGE
            ) from None
        origin = str(path)
    else:
        text, origin = source, "-d"
    try:
        document = json.loads(text, parse_constant=_not_json)
    except ValueError as exc:
        raise CliError(f"{origin} is not valid JSON: {exc}", ExitCode.USAGE) from None
    except RecursionError:
        raise CliError(f"{origin} is nested too deeply", ExitCode.USAGE) from None
    if not isinstance(document, dict):
        raise CliError(
            f"{origin} must hold a JSON object, not {type(document).__name__}", ExitCode.USAGE
        )
    return document


def _not_json(constant: str) -> Any:
    """Python's json takes NaN and Infinity; JSON (and every server) does not."""
    raise ValueError(f"{constant} is not a JSON value")


def parse_param(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        shown = repr(item) if len(item) <= 60 else repr(item[:57]) + "…"
        raise CliError(f"--param {shown} is not KEY=VALUE", ExitCode.USAGE)
    try:
        value: Any = json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):
        value = raw
    return key.strip(), value


def require_unicode(params: dict[str, Any]) -> None:
    """A `\\ud800` escape decodes to a lone surrogate, which UTF-8 cannot carry: refuse it."""
    try:
        json.dumps(params, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise CliError(
            "the params hold a lone surrogate (such as \\ud800), which is not Unicode text",
            ExitCode.USAGE,
        ) from None


def run(options: ExecToolOptions, runtime: Runtime) -> int:
    out = runtime.out
    tool = options.tool.strip()
    if (
        not tool
        or len(tool) > TOOL_NAME_MAX
        or any(c.isspace() or not c.isprintable() for c in tool)
    ):
        raise CliError(f"{options.tool!r} is not a tool name", ExitCode.USAGE)
    refuse_empty(("--account-id", options.account_id), ("--connector", options.connector))
    if options.account_id:
        if options.connector:
            raise CliError("--connector and --account-id exclude each other", ExitCode.USAGE)
    else:
        if options.identifier is None:
            raise CliError("--user is required (or --account-id)", ExitCode.USAGE)
        validate_identifier(options.identifier)
    # `-d ""` (an unset variable, say) is an empty document, not an absent one.
    params: dict[str, Any] = (
        read_document(options.data, out.stdin) if options.data is not None else {}
    )
    for item in options.params:
        key, value = parse_param(item)
        params[key] = value
    require_unicode(params)

    connector = options.connector
    if not options.account_id and not connector:
        connector = tool.split("_", 1)[0]
        out.detail(f"connector {connector!r} taken from the tool name (--connector overrides)")
    if connector is not None:
        validate_connector(connector)
    if options.check:
        _check_params(runtime, tool, params)
    if options.dry_run:
        return _dry_run(runtime, options, tool, params, connector)

    try:
        result = execute_tool(
            runtime.scalekit(),
            tool,
            params,
            connector=connector,
            identifier=options.identifier,
            connected_account_id=options.account_id,
        )
    except NotFound as missing:
        if missing.error_code != "TOOL_NOT_FOUND":
            raise
        from .known_names import unknown_tool

        raise unknown_tool(runtime, tool) from None
    except AccountUnusable as unusable:
        from .known_names import missing_account

        raise missing_account(
            runtime, unusable.connector, unusable.identifier, unusable.status
        ) from None
    except ApiError as refused:
        # A connector that names nothing is wrong input (exit 2 with the close names), however
        # the environment words its refusal; asked only now, so success costs no request.
        if connector is None or refused.status not in (400, 404):
            raise
        from .known_names import not_a_known_connector

        typo = not_a_known_connector(runtime, connector, options.identifier)
        if typo is None:
            raise
        raise typo from None
    out.detail(f"execution {result.execution_id}")
    if options.json:
        out.json(result.raw, redact=False)
    else:
        out.pretty_json(result.data)
    return ExitCode.OK


def _dry_run(
    runtime: Runtime,
    options: ExecToolOptions,
    tool: str,
    params: dict[str, Any],
    connector: str | None,
) -> int:
    """`--dry-run`: read the account (it must be ACTIVE, as execution needs), then print the
    request `execute_tool` would send — nothing is sent to it."""
    from ..errors import not_connected
    from .known_names import missing_account

    out = runtime.out
    client = runtime.scalekit()
    try:
        if options.account_id:
            account = client.get_account(account_id=options.account_id)
        else:
            assert connector is not None and options.identifier is not None
            account = client.get_account(connector, options.identifier)
    except NotFound:
        if options.account_id:
            raise CliError(
                f"no connected account with id {options.account_id!r}", ExitCode.NOT_CONNECTED
            ) from None
        assert connector is not None and options.identifier is not None
        raise missing_account(runtime, connector, options.identifier) from None
    if not account.is_active:
        raise not_connected(
            account.connector or connector or "",
            account.identifier or options.identifier or "",
            account.status or None,
            **runtime.connect_hint_args(),
        )
    method, url, body = client.execute_tool_request(
        tool,
        params,
        connector=connector,
        identifier=options.identifier,
        connected_account_id=options.account_id,
    )
    out.info(f"dry run: {account.connector} account {account.id or '(no id)'} is ACTIVE; not sent")
    if options.json:
        out.json({"method": method, "url": url, "body": body})
    else:
        out.result(f"{method} {url}")
        out.pretty_json(out.redact(body))
    return ExitCode.OK


def _check_params(runtime: Runtime, tool: str, params: dict[str, Any]) -> None:
    """Check `params` against the tool's input schema (one `GET /api/v1/tools`), exit 2 before
    executing when they do not fit — including a param the schema does not name, since the
    live service drops unknown fields silently. A tool the catalogue does not hold is exit 2
    with the closest names. A catalogue that cannot be read is no reason to refuse: the
    server then checks the params itself. An environment that cannot be reached at all is
    (a NetworkError propagates): the execution would only wait for the same host again."""
    out = runtime.out
    try:
        found = next(
            (t for t in runtime.scalekit().iter_tools(tool_names=[tool]) if t.name == tool), None
        )
    except (ApiError, InvalidResponse) as exc:
        out.detail(f"could not read the schema of {tool} ({exc}); sending the params unchecked")
        return
    if found is None:
        from .known_names import unknown_tool

        raise unknown_tool(runtime, tool)
    if not found.input_schema:
        out.detail(f"no input schema known for {tool}; sending the params unchecked")
        return
    from ..scalekit.params import first_error

    problem = first_error(found.input_schema, params, unknown_properties=True)
    if problem:
        prefix = runtime.sk_prefix()
        raise CliError(
            f"{problem} (see: {prefix} tools show {tool}; --no-check sends them as they are)",
            ExitCode.USAGE,
        )


def register(app: typer.Typer) -> None:
    @app.command(
        "exec-tool",
        cls=SkCommand,
        epilog="""
            sk exec-tool gmail_fetch_mails --user user_123 -d '{"query": "is:unread"}'
            sk exec-tool gmail_fetch_mails --user user_123 -p max_results=5
            sk exec-tool gmail_fetch_mails --account-id ca_123 -d @args.json
        """,
    )
    def exec_tool_command(
        ctx: typer.Context,
        tool: Annotated[
            str,
            typer.Argument(
                help="The tool's name, e.g. gmail_fetch_mails.",
                metavar="TOOL",
                autocompletion=complete_tool,
            ),
        ],
        user: Annotated[
            str | None,
            typer.Option(
                "--user", "-u", help="Your identifier for the user.", metavar="ID", parser=user_id
            ),
        ] = None,
        connector: Annotated[
            str | None,
            typer.Option(
                "--connector",
                help="The connection (default: the tool name's prefix).",
                parser=connector_name,
            ),
        ] = None,
        account_id: Annotated[
            str | None,
            typer.Option("--account-id", help="The connected account's id (ca_…).", metavar="ID"),
        ] = None,
        data: Annotated[
            str | None,
            typer.Option(
                "--data",
                "-d",
                help="Arguments: a JSON object, @FILE, or - for stdin.",
                metavar="JSON",
                autocompletion=complete_data,
            ),
        ] = None,
        param: Annotated[
            list[str] | None,
            typer.Option(
                "--param", "-p", help="One argument as KEY=VALUE (repeatable).", metavar="KEY=VALUE"
            ),
        ] = None,
        no_check: Annotated[
            bool,
            typer.Option(
                "--no-check",
                help="Send the params without checking them against the tool's input schema.",
            ),
        ] = False,
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run",
                help="Read the account, check the params, and print the request instead of "
                "sending it (secrets redacted).",
            ),
        ] = False,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Run a Scalekit tool for the user and print its data."""
        options = ExecToolOptions(
            tool, user, connector, account_id, data, list(param or []), json_mode, not no_check
        )
        options.dry_run = dry_run
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
