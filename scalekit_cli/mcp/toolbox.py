"""What `sk mcp serve` offers an agent, and what each call does — on the wire library, without
the MCP SDK (the server module translates this to MCP).

The tools are the Scalekit tool catalogue of the environment, exactly as it describes them,
plus a few built-in ones. Every call runs inside Scalekit for the one user the server serves:
the agent never handles a token.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..connecting import AccountUnusable, execute_tool, request_link
from ..errors import CliError
from ..scalekit.errors import NotFound

if TYPE_CHECKING:
    from ..scalekit.client import ScalekitClient
    from ..verify_listener import VerifyListener

LIST_CONNECTIONS = "scalekit_list_connections"
AUTHORIZE = "scalekit_authorize"
REQUEST = "scalekit_request"
# A catalogue tool may not take a built-in's name: it would be listed twice, and a call would
# reach one of them with the other's arguments.
RESERVED = frozenset({LIST_CONNECTIONS, AUTHORIZE, REQUEST})
# MCP's tool annotations, taken from a catalogue definition that carries them (an
# `annotations` object, as MCP shapes it): the contract's `definition` is free-form, and
# nothing else in it says whether a tool only reads or changes the world, so a definition
# without them gets no hint at all (a wrong hint would let a host skip asking the user).
HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")

# Response headers of a proxied call that may carry a credential: never handed to the agent.
CREDENTIAL_HEADER = re.compile(r"auth|token|secret|cookie|api[-_]?key|session|password", re.I)


@dataclass(frozen=True)
class ToolDefinition:
    name: str
    description: str
    input_schema: dict[str, Any]
    connector: str | None = None  # the connection a catalogue tool runs on; None: built-in
    hints: tuple[tuple[str, bool], ...] = ()  # (HINTS name, value) the catalogue gave


@dataclass(frozen=True)
class Outcome:
    """A call's answer: its data (redacted by the server on its way out), and whether it is an
    error the agent should see as one."""

    data: dict[str, Any]
    is_error: bool = False


class ToolFailure(Exception):
    """A call that ends in a tool error whose text is this message."""


@dataclass(frozen=True)
class PendingConnection:
    connector: str
    status: str
    link: str
    expiry: str


@dataclass
class Toolbox:
    client: ScalekitClient
    identifier: str
    connectors: tuple[str, ...] = ()
    tool_names: tuple[str, ...] = ()
    allow_proxy: bool = False
    verify_user: bool = False
    notify: Callable[[str], None] = field(default=lambda message: None)
    _catalogue: dict[str, ToolDefinition] = field(default_factory=dict, repr=False)
    _listeners: dict[str, VerifyListener] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _warned: set[str] = field(default_factory=set, repr=False)

    # -- the tools ------------------------------------------------------------------------------

    def refresh(self) -> list[ToolDefinition]:
        """Read the catalogue again (`GET /api/v1/tools`, every page, filtered)."""
        catalogue: dict[str, ToolDefinition] = {}
        for tool, connector in self._read_catalogue():
            if tool.name in RESERVED:
                if tool.name not in self._warned:  # once, not at every refresh
                    self._warned.add(tool.name)
                    self.notify(
                        f"the tool catalogue has a tool named {tool.name}, the name of a "
                        "built-in tool of sk: it is not served"
                    )
                continue
            if tool.name and tool.name not in catalogue:
                catalogue[tool.name] = ToolDefinition(
                    tool.name,
                    tool.description,
                    tool.input_schema or {"type": "object"},
                    # As exec-tool does: the filter it was listed under, else the name's prefix.
                    connector or tool.name.split("_", 1)[0],
                    _hints(tool.raw),
                )
        with self._lock:
            self._catalogue = catalogue
        return self.tools()

    def _read_catalogue(self) -> Iterable[tuple[Any, str | None]]:
        if not self.connectors and not self.tool_names:
            for tool in self.client.iter_tools():
                yield tool, None
            return
        for connector in self.connectors:
            for tool in self.client.iter_tools(connector=connector):
                yield tool, connector
        if self.tool_names:
            for tool in self.client.iter_tools(tool_names=list(self.tool_names)):
                if tool.name in self.tool_names:
                    yield tool, None

    def tools(self) -> list[ToolDefinition]:
        with self._lock:
            catalogue = list(self._catalogue.values())
        return catalogue + self._builtins()

    def find(self, name: str) -> ToolDefinition | None:
        return next((tool for tool in self.tools() if tool.name == name), None)

    def _builtins(self) -> list[ToolDefinition]:
        connector: dict[str, Any] = {
            "type": "string",
            "description": "The connection's name, e.g. gmail, slack, notion.",
        }
        if self.connectors:
            connector["enum"] = list(self.connectors)
        builtins = [
            ToolDefinition(
                LIST_CONNECTIONS,
                "List the user's connected accounts (one per app) and their statuses: ACTIVE "
                "accounts can be used; any other status needs the user to authorize again "
                f"(see {AUTHORIZE}). No credentials are included.",
                {"type": "object", "properties": {}, "additionalProperties": False},
                hints=(("readOnlyHint", True), ("openWorldHint", False)),
            ),
            ToolDefinition(
                AUTHORIZE,
                "Get a fresh link the user opens in a browser to connect (or, with force, "
                "re-authorize) one of their apps. Show the link to the user; once they have "
                "approved, the app's tools work.",
                {
                    "type": "object",
                    "properties": {
                        "connector": connector,
                        "force": {
                            "type": "boolean",
                            "description": "Make a link even when the account is ACTIVE.",
                        },
                    },
                    "required": ["connector"],
                    "additionalProperties": False,
                },
                # It may create the account (PENDING_AUTH), never remove or replace anything.
                hints=(("readOnlyHint", False), ("destructiveHint", False)),
            ),
        ]
        if self.allow_proxy:
            from ..commands.request import METHODS

            text = {"type": "string"}
            builtins.append(
                ToolDefinition(
                    REQUEST,
                    "Call the app's own API through Scalekit's proxy, with the user's stored "
                    "credentials added by Scalekit (they are never shown). Answers "
                    "{status, headers, body}.",
                    {
                        "type": "object",
                        "properties": {
                            "connector": connector,
                            "method": {"type": "string", "enum": list(METHODS)},
                            "path": {
                                "type": "string",
                                "description": "The API path, starting with '/', e.g. "
                                "/gmail/v1/users/me/profile; it may carry a query string.",
                            },
                            "query": {
                                "type": "object",
                                "additionalProperties": text,
                                "description": "Query parameters to append.",
                            },
                            "headers": {"type": "object", "additionalProperties": text},
                            "body": {"description": "A JSON body (sent as application/json)."},
                        },
                        "required": ["connector", "path"],
                        "additionalProperties": False,
                    },
                )
            )
        return builtins

    def check(self, tool: ToolDefinition, arguments: dict[str, Any]) -> str | None:
        """How `arguments` break the tool's input schema, naming the field; None if they fit."""
        from ..scalekit.params import first_error

        return first_error(tool.input_schema, arguments, "arguments")

    # -- calls ----------------------------------------------------------------------------------

    def run(self, tool: ToolDefinition, arguments: dict[str, Any]) -> Outcome:
        """One call. Raises AccountUnusable when the user must connect the app first,
        ToolFailure for an answer the agent should see as an error, and the wire library's
        errors for Scalekit's own faults."""
        if tool.connector is None:  # a built-in (catalogue tools always have a connector)
            if tool.name == LIST_CONNECTIONS:
                return Outcome(self._list_connections())
            if tool.name == AUTHORIZE:
                return Outcome(self._authorize(arguments))
            if tool.name == REQUEST and self.allow_proxy:
                return self._request(arguments)
        result = execute_tool(
            self.client, tool.name, arguments, connector=tool.connector, identifier=self.identifier
        )
        return Outcome(result.data)

    def _list_connections(self) -> dict[str, Any]:
        accounts = [
            account.summary()
            for account in self.client.iter_accounts(identifier=self.identifier)
            if not self.connectors or account.connector in self.connectors
        ]
        return {"identifier": self.identifier, "connections": accounts}

    def _authorize(self, arguments: dict[str, Any]) -> dict[str, Any]:
        connector = self._connector(arguments)
        pending = self.start_connection(connector, force=bool(arguments.get("force")))
        if pending is None:
            return {
                "connector": connector,
                "status": "ACTIVE",
                "link": None,
                "expiry": None,
                "message": f"{connector} is already connected; its tools can be used.",
            }
        return {
            "connector": connector,
            "status": pending.status or None,
            "link": pending.link,
            "expiry": pending.expiry or None,
            "message": f"Ask the user to open the link to connect {connector}.",
        }

    def _connector(self, arguments: dict[str, Any]) -> str:
        from ..commands.runner import validate_connector

        connector = arguments.get("connector")
        try:
            return validate_connector(connector if isinstance(connector, str) else "")
        except CliError as exc:
            raise ToolFailure(exc.message) from None

    def _request(self, arguments: dict[str, Any]) -> Outcome:
        from ..commands.request import (
            decoded_body,
            method_and_path,
            parse_header,
            unusable_account_code,
            with_query,
        )

        connector = self._connector(arguments)
        body = arguments.get("body")
        method = arguments.get("method")
        target = [method, arguments["path"]] if isinstance(method, str) else [arguments["path"]]
        headers: dict[str, str | bytes] = {}
        try:
            method, path = method_and_path(target, body is not None)
            query = arguments.get("query") or {}
            path = with_query(path, [f"{key}={value}" for key, value in query.items()])
            for name, value in (arguments.get("headers") or {}).items():
                header, text = parse_header(f"{name}: {value}")
                headers[header] = text.encode("utf-8")
        except CliError as exc:
            raise ToolFailure(exc.message) from None
        content = None
        if body is not None:
            content = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        response = self.client.proxy(
            method,
            path,
            connector=connector,
            identifier=self.identifier,
            content=content,
            headers=headers,
        )
        document = decoded_body(response.content, response.headers.get("content-type", ""))
        if unusable_account_code(response.status_code, document) is not None:
            raise AccountUnusable(connector, self.identifier, self.account_status(connector))
        # Secrets found by what and where they are (headers, URLs in them, any depth of the
        # body whatever its Content-Type) are scrubbed from the result; a body that could not
        # be inspected whole is not handed to the agent at all.
        from ..scalekit.secrets import inspect_answer

        inspection = inspect_answer(
            response.content, response.headers.items(), response.headers.get("content-type", "")
        )
        for secret in inspection.secrets:
            self.client.secrets.add(secret)
        shown: Any = document
        if not inspection.complete:
            shown = "[withheld: the body looks like JSON but could not be checked for secrets]"
        elif shown is None and response.content:
            shown = response.content.decode("utf-8", "replace")
        data = {
            "status": response.status_code,
            "headers": {
                name: value
                for name, value in response.headers.items()
                if not CREDENTIAL_HEADER.search(name)
            },
            "body": shown,
        }
        return Outcome(data, is_error=response.status_code >= 400)

    # -- connecting -----------------------------------------------------------------------------

    def account_status(self, connector: str) -> str:
        """The account's status; "" when the user has none."""
        try:
            return self.client.get_account(connector, self.identifier).status
        except NotFound:
            return ""

    def start_connection(self, connector: str, *, force: bool = False) -> PendingConnection | None:
        """As `sk connect` does: get or create the account and make a magic link for it; None
        when it is ACTIVE already (and not `force`). In custom user verification mode, a
        loopback listener completes the verification once the user has approved."""
        account, _ = self.client.get_or_create_account(connector, self.identifier)
        if account.is_active and not force:
            return None
        listener = None
        if self.verify_user:
            from ..verify_listener import VerifyListener

            listener = VerifyListener(self.client, self.identifier, notify=self.notify).start()
            with self._lock:
                previous = self._listeners.pop(connector, None)
                self._listeners[connector] = listener
            if previous is not None:
                previous.close()
        link = request_link(self.client, connector, self.identifier, listener=listener)
        return PendingConnection(connector, account.status, link.link, link.expiry)

    def connection_done(self, connector: str) -> None:
        """The account is ACTIVE: its verification listener, if any, is no longer needed."""
        with self._lock:
            listener = self._listeners.pop(connector, None)
        if listener is not None:
            listener.close()

    def close(self) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
        for listener in listeners:
            listener.close()


def _hints(raw: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    """The boolean HINTS of a catalogue entry's `definition.annotations`; others are ignored."""
    definition = raw.get("definition")
    annotations = definition.get("annotations") if isinstance(definition, dict) else None
    if not isinstance(annotations, dict):
        return ()
    return tuple(
        (name, annotations[name]) for name in HINTS if isinstance(annotations.get(name), bool)
    )
