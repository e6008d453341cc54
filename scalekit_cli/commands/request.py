"""`sk request CONNECTOR --user ID [METHOD] PATH [-d JSON|@FILE|-] [-H 'Name: value']
[-q key=value]` — a raw call to the provider's API through Scalekit's `/proxy`, like `gh api`.

Scalekit adds the account's credentials; sk sends the machine token and names the account
with the `connection_name` and `identifier` headers. The response body goes to stdout as it
came (highlighted JSON on a terminal); `--verbose` adds the status and headers on stderr; a
4xx/5xx answer exits 1 after printing its body.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TextIO
from urllib.parse import unquote, urlencode

import typer

from ..cli.commands import SkCommand
from ..cli.completion import complete_data
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

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Headers sk sets itself: the proxy's account selection, the machine token, the framing; and
# the hop-by-hop ones (RFC 9110 §7.6.1, RFC 9112 §6), which belong to each connection: a user's
# `Transfer-Encoding` beside sk's own `Content-Length` would make a request that servers and
# proxies in between read differently (RFC 9112 §6.2 forbids sending both).
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "connection_name",
        "identifier",
        "content-length",
        "host",
        "connection",
        "transfer-encoding",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    }
)
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 9110 token
# The gateway's error codes for "this account cannot be used" (not the provider's).
ACCOUNT_UNUSABLE = frozenset({"CONNECTED_ACCOUNT_NOT_FOUND", "CONNECTED_ACCOUNT_NOT_ACTIVE"})


@dataclass
class RequestOptions:
    connector: str
    identifier: str
    target: list[str]  # [METHOD] PATH
    data: str | None = None
    headers: list[str] = field(default_factory=list)
    query: list[str] = field(default_factory=list)
    json: bool = False


def method_and_path(target: list[str], has_body: bool) -> tuple[str, str]:
    """`[METHOD] PATH`; without METHOD, GET — or POST when a body is given (as `gh api`)."""
    if len(target) not in (1, 2):
        raise CliError(f"expected [METHOD] PATH, got {len(target)} arguments", ExitCode.USAGE)
    if len(target) == 1:
        method, path = ("POST" if has_body else "GET"), target[0]
    else:
        first, path = target
        method = first.upper()
        if method not in METHODS:
            raise CliError(
                f"{first!r} is not an HTTP method ({', '.join(METHODS)})", ExitCode.USAGE
            )
    return method, proxy_path(path)


def proxy_path(path: str) -> str:
    """PATH as it is appended to `{env}/proxy`: it must stay under `/proxy`. An absolute URL,
    a backslash, or a dot segment (`.`, `..`, also percent-encoded — `%2e`, `%2f` inside a
    segment — or spelt `..;x` or with full-width dots, as some servers read them) is exit 2;
    repeated slashes are folded into one. The query is left as typed."""
    if "://" in path.split("?", 1)[0] or path.startswith("//"):
        raise CliError(
            f"the path must be a path under the proxy, not a URL (got {path!r})", ExitCode.USAGE
        )
    if not path.startswith("/"):
        raise CliError(
            f"the path must start with '/', e.g. /gmail/v1/users/me/profile (got {path!r})",
            ExitCode.USAGE,
        )
    if any(unicodedata.category(char) == "Cc" for char in path):
        raise CliError("the path holds control characters", ExitCode.USAGE)
    route, question, query = path.partition("?")
    if "\\" in route:
        raise CliError(f"the path holds a backslash (got {path!r})", ExitCode.USAGE)
    segments = [segment for segment in route.split("/") if segment]
    for segment in segments:
        if _is_dot_segment(segment):
            raise CliError(
                f"the path segment {segment!r} is a dot segment or hides a separator; "
                "PATH must stay under the proxy",
                ExitCode.USAGE,
            )
    return (
        "/"
        + "/".join(segments)
        + ("/" if route.endswith("/") and segments else "")
        + (question + query)
    )


def _is_dot_segment(segment: str) -> bool:
    """`.` or `..` however a server in the chain may come to read it: percent-decoded (as
    often as it takes), holding an encoded `/` or `\\`, with `;parameters`, or NFKC-folded."""
    decoded = segment
    for _ in range(4):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if decoded != segment and any(char in decoded for char in "/\\"):
        return True  # %2f, %5c: a separator the server decodes into the path
    folded = unicodedata.normalize("NFKC", decoded).split(";", 1)[0]
    return folded in (".", "..")


def parse_header(item: str) -> tuple[str, str]:
    name, sep, value = item.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not HEADER_NAME.fullmatch(name):
        raise CliError(f"-H {item!r} is not 'Name: value'", ExitCode.USAGE)
    if name.lower() in RESERVED_HEADERS:
        raise CliError(f"-H {name}: sk sets this header itself", ExitCode.USAGE)
    if any(unicodedata.category(char) == "Cc" and char != "\t" for char in value):
        raise CliError(f"-H {name}: the value holds control characters", ExitCode.USAGE)
    return name, value


def with_query(path: str, items: list[str]) -> str:
    """PATH with `-q key=value` pairs appended; a query already in PATH is kept as typed."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"-q {item!r} is not key=value", ExitCode.USAGE)
        pairs.append((key, value))
    if not pairs:
        return path
    return path + ("&" if "?" in path else "?") + urlencode(pairs)


def read_body(source: str, stdin: TextIO) -> bytes:
    """`-d`: inline text, `@FILE`, or `-` for standard input — the bytes to send."""
    if source == "-":
        buffer: BinaryIO | None = getattr(stdin, "buffer", None)
        return buffer.read() if buffer is not None else stdin.read().encode("utf-8")
    if source.startswith("@"):
        try:
            return Path(source[1:]).read_bytes()
        except OSError as exc:
            raise CliError(
                f"-d {source}: cannot read the file ({exc.__class__.__name__})", ExitCode.USAGE
            ) from None
    return source.encode("utf-8")


def decoded_body(body: bytes, content_type: str) -> Any:
    """The body as JSON when it says it is and parses (within the depth bound); None otherwise,
    and it is then printed as it came."""
    if "json" not in content_type.lower() or not body:
        return None
    try:
        from ..scalekit.models import load_json

        return load_json(body)
    except (ValueError, UnicodeDecodeError):
        return None


def unusable_account_code(status: int, body: Any) -> str | None:
    """The gateway's error code when it refused the call because of the account itself."""
    if status not in (400, 404) or not isinstance(body, dict):
        return None
    details = body.get("details") if isinstance(body.get("code"), int) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and detail.get("error_code") in ACCOUNT_UNUSABLE:
            return str(detail["error_code"])
    return None


def run(options: RequestOptions, runtime: Runtime) -> int:
    validate_connector(options.connector)
    validate_identifier(options.identifier)
    for what, value in (("the connector", options.connector), ("--user", options.identifier)):
        # The proxy names the account in HTTP headers, whose values cannot start or end with a
        # space (RFC 9110 trims them): refuse rather than send another identifier.
        if value != value.strip(" "):
            raise CliError(
                f"{what} starts or ends with a space, which the proxy's header cannot carry",
                ExitCode.USAGE,
            )
    method, path = method_and_path(options.target, options.data is not None)
    path = with_query(path, options.query)
    headers: dict[str, str | bytes] = {}
    for item in options.headers:
        name, value = parse_header(item)
        headers[name] = value.encode("utf-8")
    out = runtime.out
    content: bytes | None = None
    if options.data is not None:
        content = read_body(options.data, out.stdin)
        if not any(name.lower() == "content-type" for name in headers):
            # Without a Content-Type of the user's, the body is JSON: check it before sending.
            from ..json_input import JsonInputError, parse_strict

            try:
                parse_strict(content)
            except JsonInputError as exc:
                raise CliError(
                    f"-d is not valid JSON ({exc}); give -H 'Content-Type: …' to send other data",
                    ExitCode.USAGE,
                ) from None
            headers["content-type"] = "application/json"

    runtime.out.bodies_printed_under = "/proxy/"
    response = runtime.scalekit().proxy(
        method,
        path,
        connector=options.connector,
        identifier=options.identifier,
        content=content,
        headers=headers,
    )
    content_type = response.headers.get("content-type", "")
    document = decoded_body(response.content, content_type)
    refusal = unusable_account_code(response.status_code, document)
    if refusal is not None:
        from .known_names import missing_account

        status = "not ACTIVE" if refusal.endswith("NOT_ACTIVE") else None
        raise missing_account(runtime, options.connector, options.identifier, status)
    # Secrets are found by what and where they are — credential headers, tokens in a header's
    # URL, credential fields at any depth of the body whatever its Content-Type — and scrubbed
    # from everything written (unless --debug). A body that could not be inspected whole is
    # shown only with --debug.
    from ..scalekit.secrets import inspect_answer

    inspection = inspect_answer(response.content, response.headers.items(), content_type)
    for secret in inspection.secrets:
        out.secrets.add(secret)
    withheld = not inspection.complete and not out.debug
    if withheld:
        out.warn(
            f"the answer's body ({len(response.content)} bytes) is not shown: it could not be "
            "checked for secrets whole (it looks like JSON but does not parse); rerun with "
            "--debug to see it"
        )

    if out.verbose:
        out.info(f"< HTTP {response.status_code} {response.reason_phrase}".rstrip())
        for name, value in response.headers.items():
            out.info(f"< {name}: {value}")
    if options.json:
        body: Any = document
        if body is None and response.content and not withheld:
            body = response.content.decode("utf-8", "replace")
        out.json({"status": response.status_code, "headers": dict(response.headers), "body": body})
    elif withheld:
        pass  # the note above says why, and how to see it
    elif document is not None and out.stdout_tty:
        out.pretty_json(out.redact(document))
    elif response.content:
        content = response.content
        if document is not None and not out.debug:
            # Credential fields masked by name, as --json does: the registry ignores values
            # too short to be safely scrubbed wherever they appear (`"password": "pw1"`).
            from ..scalekit.secrets import mask_json_fields

            text = mask_json_fields(content.decode("utf-8", "surrogateescape"))
            content = text.encode("utf-8", "surrogateescape")
        out.raw(content)
        if out.stdout_tty and not response.content.endswith(b"\n"):
            out.result("")

    if response.status_code >= 400:
        reason = _error_message(document) or response.reason_phrase
        raise CliError(
            f"{method} {path.split('?')[0]} answered HTTP {response.status_code}"
            + (f": {reason}" if reason else ""),
            ExitCode.FAILURE,
        )
    return ExitCode.OK


def _error_message(document: Any) -> str:
    """The message of a JSON error body: Google's `{"error": {"message"}}`, Scalekit's
    `{"message"}`, or OAuth's `{"error_description"}`."""
    if not isinstance(document, dict):
        return ""
    error = document.get("error")
    for candidate in (
        error.get("message") if isinstance(error, dict) else None,
        document.get("message"),
        document.get("error_description"),
        error if isinstance(error, str) else None,
    ):
        if isinstance(candidate, str) and candidate:
            return candidate.splitlines()[0][:200]
    return ""


def register(app: typer.Typer) -> None:
    @app.command(
        "request",
        cls=SkCommand,
        epilog="""
            sk request gmail --user user_123 /gmail/v1/users/me/profile
            sk request gmail --user user_123 /gmail/v1/users/me/messages -q maxResults=5 -v
            sk request gmail --user user_123 POST /gmail/v1/users/me/drafts -d @draft.json
        """,
    )
    def request_command(
        ctx: typer.Context,
        connector: ConnectorArgument,
        target: Annotated[
            list[str],
            typer.Argument(
                help="METHOD (GET, POST, …; optional) then PATH, e.g. /gmail/v1/users/me/profile.",
                metavar="[METHOD] PATH",
            ),
        ],
        user: UserOption,
        data: Annotated[
            str | None,
            typer.Option(
                "--data",
                "-d",
                help="Request body: JSON, @FILE, or - for standard input (implies POST).",
                metavar="JSON|@FILE|-",
                autocompletion=complete_data,
            ),
        ] = None,
        header: Annotated[
            list[str] | None,
            typer.Option("--header", "-H", help="A request header, 'Name: value'.", metavar="HDR"),
        ] = None,
        query: Annotated[
            list[str] | None,
            typer.Option("--query", "-q", help="A query parameter, key=value.", metavar="KEY=VAL"),
        ] = None,
        json_mode: Annotated[
            bool,
            typer.Option("--json", help="Print {status, headers, body} as JSON on stdout."),
        ] = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Call the provider's API through Scalekit's proxy with the account's credentials."""
        options = RequestOptions(
            connector, user, list(target), data, list(header or []), list(query or []), json_mode
        )
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
