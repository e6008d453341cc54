"""The MCP face of the toolbox, on the official MCP SDK: tools/list, tools/call, connecting an
app inside the conversation by URL elicitation, and the stdio and streamable HTTP transports.

Nothing the server sends carries a credential: tools run inside Scalekit, and every text and
structured result, error and log line passes the secret registry (even under --debug, which
only reveals secrets in sk's own stderr trace).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import mcp.types as types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError

from .. import __version__
from ..commands.runner import describe_failure, validate_connector
from ..connecting import AccountUnusable
from ..errors import CliError, ExitCode
from ..output import Output, printable
from ..scalekit.errors import ScalekitError
from ..scalekit.secrets import SecretRegistry, redact_document
from . import TOOL_SEARCH_THRESHOLD
from .search import RUN_TOOL, SEARCH_TOOLS, meta_tools, search
from .toolbox import Outcome, PendingConnection, Toolbox, ToolDefinition, ToolFailure

INSTRUCTIONS = (
    "Tools of the user's connected apps (Gmail, Slack, …), run through Scalekit for one user. "
    "When an app is not connected yet, a call answers with a link the user must open; "
    "scalekit_list_connections shows what is connected, scalekit_authorize makes a new link. "
    f"When the server lists {SEARCH_TOOLS}, find tools with it and run them with {RUN_TOOL}."
)
# The key of the connecting elicitation in a 2026-07-28 InputRequiredResult.
CONNECT_INPUT = "connect"
# Tool calls (and status checks) running at once; more wait their turn. Each holds a worker
# thread and a connection to Scalekit while it runs. Agents send parallel calls in batches of
# a few to a couple of dozen; this lets such a batch run together, with room for a few slow
# calls, while a runaway client cannot make sk open hundreds of threads and sockets. A call
# waiting for the user to approve a connection holds no slot between its status checks.
MAX_PARALLEL_CALLS = 32


@dataclass
class ServeSettings:
    transport: str = "stdio"  # or "http"
    host: str = "127.0.0.1"
    port: int = 8000
    # Host header names (besides the bound address and, on loopback, localhost) the HTTP
    # transport answers to: a request naming any other host is refused (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    loopback: bool = True
    connect_timeout: float = 300.0  # how long a call waits for the user to approve
    interval: float = 2.0  # seconds between status checks while waiting
    # Tool-search mode: True or False as --tool-search / --no-tool-search say; None switches
    # it on while the catalogue holds more than TOOL_SEARCH_THRESHOLD tools.
    tool_search: bool | None = None


@dataclass
class McpServer:
    toolbox: Toolbox
    out: Output
    secrets: SecretRegistry
    settings: ServeSettings = field(default_factory=ServeSettings)
    # The latest session of every live connection, to tell each that the tool list changed.
    _sessions: dict[int, Any] = field(default_factory=dict, repr=False)
    # Made at first use, inside the event loop: bounds every blocking toolbox call.
    _limiter: anyio.CapacityLimiter | None = field(default=None, repr=False)

    async def _blocking(self, function: Callable[..., Any], *args: Any) -> Any:
        """A blocking toolbox call (sync HTTP) in a worker thread: the event loop goes on
        serving other requests, and a slow tool delays no other answer."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(MAX_PARALLEL_CALLS)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)

    # -- what leaves the server -----------------------------------------------------------------

    def clean(self, text: str) -> str:
        """Text an agent may see: known secrets scrubbed, always (not only without --debug),
        and encodable: a lone surrogate (JSON may escape one) would make the SDK fail to
        write the answer, and the client would wait for it forever."""
        return self.secrets.scrub(text).encode("utf-8", "replace").decode("utf-8")

    def error_result(self, message: str) -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.TextContent(text=self.clean(message))], is_error=True
        )

    def data_result(self, outcome: Outcome) -> types.CallToolResult:
        text = self.clean(json.dumps(redact_document(outcome.data), ensure_ascii=False))
        return types.CallToolResult(
            content=[types.TextContent(text=text)],
            structured_content=json.loads(text),
            is_error=outcome.is_error,
        )

    # -- handlers -------------------------------------------------------------------------------

    def searching(self) -> bool:
        """Whether tools/list offers the search and run tools instead of every tool; decided
        at each listing, so a refresh that grows the catalogue past the threshold switches
        (and the tools/list_changed it sends tells the clients)."""
        if self.settings.tool_search is not None:
            return self.settings.tool_search
        return len(self.toolbox.tools()) > TOOL_SEARCH_THRESHOLD

    def _listed(self) -> list[ToolDefinition]:
        if self.searching():
            return meta_tools(self.toolbox.connectors)
        return self.toolbox.tools()

    def _serving(self) -> str:
        count = len(self.toolbox.tools())
        if self.searching():
            return f"{count} tools through {SEARCH_TOOLS} and {RUN_TOOL}"
        return f"{count} tools"

    def build(self) -> Server[Any]:
        return Server(
            "sk",
            version=__version__,
            title="Scalekit AgentKit tools (sk)",
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )

    def _remember(self, ctx: Any) -> None:
        connection = getattr(ctx.session, "_connection", ctx.session)
        self._sessions[id(connection)] = ctx.session

    async def list_tools(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        self._remember(ctx)
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=tool.input_schema,
                    annotations=(
                        types.ToolAnnotations.model_validate(dict(tool.hints))
                        if tool.hints
                        else None
                    ),
                )
                for tool in self._listed()
            ]
        )

    async def call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        try:
            return await self._call_tool(ctx, params)
        except MCPError:
            raise
        except Exception as exc:
            # The SDK would answer with the exception's text, which may quote a credential
            # or a local value: the client gets a generic error, sk's stderr the details.
            self.out.warn(
                self.clean(f"sk mcp: {printable(params.name)[:100]} failed: {_describe(exc)}")
            )
            raise MCPError(
                types.INTERNAL_ERROR, "sk could not run this tool; its log says why"
            ) from None

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        self._remember(ctx)
        name, arguments = params.name, params.arguments or {}
        through_run = False
        if self.searching() and name in (SEARCH_TOOLS, RUN_TOOL):
            meta = next(tool for tool in meta_tools(self.toolbox.connectors) if tool.name == name)
            problem = self.toolbox.check(meta, arguments)
            if problem:
                return self.error_result(f"{problem}; nothing was executed")
            if name == SEARCH_TOOLS:
                return await self._search(arguments)
            # The named tool, exactly as a direct call of it (a 2026-07-28 retry included).
            name, arguments, through_run = arguments["name"], arguments.get("arguments", {}), True
        tool = self.toolbox.find(name)
        if tool is None:
            shown = printable(name)[:100]
            if through_run:
                # The run tool exists: a name it does not know is its argument's fault.
                return self.error_result(
                    f"arguments.name: unknown tool: {shown}; {SEARCH_TOOLS} finds the tools "
                    "there are; nothing was executed"
                )
            # An unknown tool is a protocol error; arguments that break a schema are not.
            raise MCPError(types.INVALID_PARAMS, self.clean(f"unknown tool: {shown}"))
        problem = self.toolbox.check(tool, arguments)
        if problem:
            # A tool execution error (SEP-1303), so the model can correct its call.
            return self.error_result(f"{problem}; nothing was executed")
        if params.request_state is not None and params.input_responses:
            # The 2026-07-28 retry after the client opened the link (see _connect_then_run).
            answer = params.input_responses.get(CONNECT_INPUT)
            if not isinstance(answer, types.ElicitResult) or answer.action != "accept":
                return self.error_result("the user did not open the link; nothing was executed")
            connector = params.request_state
            try:
                validate_connector(connector)  # it came back from the client
            except CliError:
                return self.error_result("the request_state is not one this server made")
            return await self._after_approval(ctx, tool, arguments, connector, None)
        return await self._run(ctx, tool, arguments, allow_connect=True)

    async def _search(self, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            outcome = await self._blocking(search, self.toolbox, arguments)
        except ToolFailure as failure:
            return self.error_result(str(failure))
        except ScalekitError as exc:
            return self.error_result(describe_failure(exc)[1])
        return self.data_result(outcome)

    async def _run(
        self, ctx: Any, tool: ToolDefinition, arguments: dict[str, Any], *, allow_connect: bool
    ) -> types.CallToolResult | types.InputRequiredResult:
        try:
            outcome = await self._blocking(self.toolbox.run, tool, arguments)
        except AccountUnusable as unusable:
            if not allow_connect:
                return self.error_result(f"{unusable}; nothing was executed")
            return await self._connect_then_run(ctx, tool, arguments, unusable)
        except ToolFailure as failure:
            return self.error_result(str(failure))
        except ScalekitError as exc:
            # Scalekit's own fault: a clean tool error, and the server goes on serving.
            return self.error_result(describe_failure(exc)[1])
        return self.data_result(outcome)

    # -- connecting inside the conversation -----------------------------------------------------

    async def _connect_then_run(
        self, ctx: Any, tool: ToolDefinition, arguments: dict[str, Any], unusable: AccountUnusable
    ) -> types.CallToolResult | types.InputRequiredResult:
        connector = unusable.connector
        try:
            pending = await self._blocking(self.toolbox.start_connection, connector)
        except ScalekitError as exc:
            return self.error_result(describe_failure(exc)[1])
        if pending is None:  # it became ACTIVE meanwhile
            return await self._run(ctx, tool, arguments, allow_connect=False)
        if not _supports_url_elicitation(ctx):
            return self.error_result(self._connect_text(pending))
        # The elicitation leaves sk as the tool results do: through the one scrubber.
        message = self.clean(
            f"Connect {connector} for {self.toolbox.identifier}: open the link and approve, "
            f"then {tool.name} continues."
        )
        link = self.clean(pending.link)
        if not ctx.session.can_send_request:
            # 2026-07-28 has no server-to-client requests: the client opens the link and
            # calls again with the answer (and this state: which connector we wait for).
            request = types.ElicitRequest(
                params=types.ElicitRequestURLParams(message=message, url=link)
            )
            return types.InputRequiredResult(
                input_requests={CONNECT_INPUT: request}, request_state=connector
            )
        elicitation_id = uuid.uuid4().hex
        try:
            answer = await ctx.session.elicit_url(
                message=message,
                url=link,
                elicitation_id=elicitation_id,
                related_request_id=ctx.request_id,
            )
        except MCPError:
            # The client declared URL elicitation but failed it: the link goes in the answer.
            return self.error_result(self._connect_text(pending))
        if answer.action != "accept":
            return self.error_result(
                f"the user did not open the link to connect {connector}; nothing was executed. "
                + self._connect_text(pending)
            )
        return await self._after_approval(ctx, tool, arguments, connector, elicitation_id)

    async def _after_approval(
        self,
        ctx: Any,
        tool: ToolDefinition,
        arguments: dict[str, Any],
        connector: str,
        elicitation_id: str | None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """Wait until the account is ACTIVE, then run the original call (once)."""
        status = await self._wait_until_active(ctx, connector)
        if status != "ACTIVE":
            waiting = (
                " The user has approved; the account waits for custom user verification, "
                "which `sk mcp serve --verify-user` completes."
                if status == "PENDING_VERIFICATION" and not self.toolbox.verify_user
                else ""
            )
            return self.error_result(
                f"the {connector} account of {self.toolbox.identifier!r} is still "
                f"{status or 'absent'} after {self.settings.connect_timeout:g} s; nothing was "
                f"executed. Call {tool.name} again once the user has approved, or make a new "
                f"link with scalekit_authorize.{waiting}"
            )
        self.toolbox.connection_done(connector)
        if elicitation_id is not None:
            await ctx.session.send_elicit_complete(
                elicitation_id, related_request_id=ctx.request_id
            )
        return await self._run(ctx, tool, arguments, allow_connect=False)

    async def _wait_until_active(self, ctx: Any, connector: str) -> str:
        """Poll `/details` (as `sk connect` does) until ACTIVE or the timeout; the last status.
        Each status check is reported as progress (when the client asked for it with a
        progress token), so a host does not time out a call the user is still completing."""
        started = time.monotonic()
        deadline = started + self.settings.connect_timeout
        interval = max(self.settings.interval, 0.05)
        while True:
            polled_at = time.monotonic()
            try:
                status = await self._blocking(self.toolbox.account_status, connector)
            except ScalekitError:
                status = "unknown"  # a passing fault while waiting: try again next time
            if status == "ACTIVE" or polled_at >= deadline:
                return status
            await self._report_waiting(ctx, connector, status, polled_at - started)
            await anyio.sleep(max(0.0, min(polled_at + interval, deadline) - time.monotonic()))

    async def _report_waiting(self, ctx: Any, connector: str, status: str, waited: float) -> None:
        """One `notifications/progress` for the call (a no-op without a progress token): the
        seconds waited, out of the connect timeout."""
        message = self.clean(
            f"waiting for the user to approve {connector} (the account is {status or 'absent'})"
        )
        # A client that has gone: the wait ends at its cancellation or the timeout.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await ctx.session.report_progress(
                round(waited, 3), total=self.settings.connect_timeout, message=message
            )

    def _connect_text(self, pending: PendingConnection) -> str:
        state = f"is {pending.status}" if pending.status else "does not exist yet"
        return (
            f"{pending.connector} is not connected for {self.toolbox.identifier} (the account "
            f"{state}). Ask the user to open this link and approve access to {pending.connector}, "
            f"then call the tool again: {pending.link}"
        )

    # -- refreshing the catalogue ---------------------------------------------------------------

    async def refresh(self) -> None:
        """Read the catalogue again and tell every connected client its tool list changed."""
        try:
            await self._blocking(self.toolbox.refresh)
        except ScalekitError as exc:
            self.out.warn(f"could not refresh the tool catalogue: {describe_failure(exc)[1]}")
            return
        for key, session in list(self._sessions.items()):
            try:
                await session.send_tool_list_changed()
            except Exception:  # that client has gone; forget it
                self._sessions.pop(key, None)
        self.out.info(f"tool catalogue refreshed: {self._serving()}")

    async def _refresh_on_sighup(self) -> None:
        with anyio.open_signal_receiver(signal.SIGHUP) as signals:
            async for _ in signals:
                await self.refresh()

    # -- transports -----------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until the client goes (stdio) or the process is stopped (HTTP). The HTTP
        socket is bound first, so a port in use is one clear error before anything starts."""
        sock = self._listen() if self.settings.transport == "http" else None
        previous = None
        if sock is None:
            # asyncio's runner turns a first Ctrl-C into a cancellation, which then waits for
            # the thread blocked reading stdin: on a terminal, the server seemed to ignore it.
            # Our own handler makes the first Ctrl-C interrupt at once, as in any sk command.
            previous = signal.signal(signal.SIGINT, _interrupt)
        try:
            anyio.run(self._serve, sock)
        except BaseExceptionGroup as group:
            # A task group wraps what failed inside it; the failure itself is the message.
            raise _first_failure(group) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    async def _serve(self, sock: socket.socket | None) -> None:
        server = self.build()
        async with anyio.create_task_group() as tasks:
            if hasattr(signal, "SIGHUP"):
                tasks.start_soon(self._refresh_on_sighup)
            if sock is not None:
                await self._serve_http(server, sock)
            else:
                await self._serve_stdio(server)
            tasks.cancel_scope.cancel()

    async def _serve_stdio(self, server: Server[Any]) -> None:
        from mcp.server.stdio import stdio_server

        options = server.create_initialization_options(NotificationOptions(tools_changed=True))
        self.out.info(f"sk mcp: serving {self._serving()} for {self.toolbox.identifier} on stdio")
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, options)

    def _listen(self) -> socket.socket:
        host, port = self.settings.host, self.settings.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise CliError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", ExitCode.FAILURE
            ) from None
        return sock

    async def _serve_http(self, server: Server[Any], sock: socket.socket) -> None:
        import uvicorn

        host = self.settings.host
        shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
        port = sock.getsockname()[1]
        url = f"http://{shown}:{port}/mcp"
        # Explicit settings whatever the address: the SDK checks Host and Origin on its own
        # only when bound to the exact strings 127.0.0.1, localhost or ::1.
        app = server.streamable_http_app(
            host=host, transport_security=self._transport_security(shown, port)
        )
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", log_config=None
        )
        web = uvicorn.Server(config)

        async def announce() -> None:
            while not web.started:
                await anyio.sleep(0.02)
            self.out.info(
                f"sk mcp: serving {self._serving()} for {self.toolbox.identifier} "
                "over streamable HTTP"
            )
            self.out.result(url)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(announce)
            await web.serve(sockets=[sock])
            tasks.cancel_scope.cancel()

    def _transport_security(self, bound: str, port: int) -> TransportSecuritySettings:
        """A web page in the user's browser must not drive the server by DNS rebinding: the
        Host header must name the bound address, a loopback name when bound to loopback, or
        an --allowed-host; an Origin, when sent, must be one of those same hosts."""
        names = [bound, *self.settings.allowed_hosts]
        if self.settings.loopback:
            names += ["localhost", "127.0.0.1", "[::1]"]
        hosts = list(dict.fromkeys(f"{name}:{port}" for name in names))
        if port == 80:
            hosts += list(dict.fromkeys(names))
        origins = [f"http://{host}" for host in hosts]
        # An --allowed-host is a name behind which a TLS proxy may stand.
        origins += [
            f"https://{name}{suffix}"
            for name in self.settings.allowed_hosts
            for suffix in ("", f":{port}")
        ]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _describe(exc: BaseException) -> str:
    """An exception in a log line: its type and first line (no traceback: local values)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _first_failure(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_failure(first) if isinstance(first, BaseExceptionGroup) else first


def _supports_url_elicitation(ctx: Any) -> bool:
    """Whether the client declared URL-mode elicitation (`elicitation.url`; an empty
    `elicitation` object means form mode only)."""
    capabilities = ctx.session.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and elicitation.url is not None


class _ScrubbingHandler(logging.Handler):
    """The SDK's and the web server's log records, each as one `sk: mcp serve: …` line,
    scrubbed and made printable by Output (a Host or Origin header is the sender's text)."""

    def __init__(self, write: Callable[[str], None], secrets: SecretRegistry) -> None:
        super().__init__(logging.WARNING)
        self._write = write
        self._secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        # No traceback: it would hold local values; the first line names what failed.
        first = message.splitlines()[0] if message else record.levelname.lower()
        if record.name == "mcp.server.transport_security":
            first = f"refused an HTTP request ({first}); only local clients may call sk"
        self._write(self._secrets.scrub(f"mcp serve: {first[:300]}"))


# Every logger a library under `sk mcp serve` writes through; none reaches stderr raw.
LIBRARY_LOGGERS = ("mcp", "uvicorn", "starlette", "sse_starlette", "hypercorn", "anyio")


def capture_logs(out: Output, secrets: SecretRegistry) -> None:
    handler = _ScrubbingHandler(out.error, secrets)
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.WARNING)
