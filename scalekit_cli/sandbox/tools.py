"""The tool catalog: definitions, a small JSON-Schema check of params, and the executors.

Pure Python. Executors get a `ToolContext` (the account, its mailbox, the sandbox time) and
return the `data` object of `execute_tool`; the engine does lookups, status checks and errors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .mailbox import Mailbox, MailMessage, mailbox_address
from .store import AccountRecord

TOOLS_UPDATED_AT = "2025-01-15T00:00:00Z"


@dataclass
class ToolContext:
    account: AccountRecord
    now: datetime
    mailbox: Callable[[], Mailbox]


class ToolInputError(ValueError):
    """Params that do not fit the tool's input schema."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    connector: str  # the default connection name the tool runs against
    description: str
    input_schema: dict[str, Any]
    category: str
    tags: tuple[str, ...]
    run: Callable[[ToolContext, dict[str, Any]], dict[str, Any]] = field(compare=False)

    @property
    def tool_id(self) -> str:
        digits = int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 10**17
        return f"tol_{digits:017d}"


def _object_schema(
    properties: dict[str, Any], required: tuple[str, ...] = (), *, closed: bool = False
) -> dict[str, Any]:
    """An input schema. Read tools leave it open: unknown params are ignored, as the live
    service ignores unknown fields. Tools that act (send, search with a key) close it, so a
    misspelt param is refused instead of silently dropped."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if closed:
        schema["additionalProperties"] = False
    if required:
        schema["required"] = list(required)
    return schema


# --- input checking ------------------------------------------------------------------------

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def check_input(schema: dict[str, Any], value: Any, where: str = "params") -> None:
    """The subset of JSON Schema the catalog uses: type, required, properties,
    additionalProperties (false), items, enum, minimum, maximum, minLength."""
    expected = schema.get("type")
    if expected is not None and not _JSON_TYPES[expected](value):
        raise ToolInputError(f"{where} must be of type {expected}")
    if "enum" in schema and value not in schema["enum"]:
        raise ToolInputError(f"{where} must be one of {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ToolInputError(f"{where} must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ToolInputError(f"{where} must be <= {schema['maximum']}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise ToolInputError(f"{where} must not be empty")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            check_input(schema["items"], item, f"{where}[{index}]")
    if isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise ToolInputError(f"{where}.{name} is required")
        for name, item in value.items():
            if name in properties:
                check_input(properties[name], item, f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                raise ToolInputError(f"{where}.{name} is not a parameter of this tool")


# --- executors -----------------------------------------------------------------------------


def _message_summary(message: MailMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": message.snippet,
        "from": message.from_header,
        "to": message.to_header,
        "subject": message.subject,
        "date": message.date_header,
        "internalDate": str(message.internal_date_ms),
    }


def _fetch_mails(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    mailbox = context.mailbox()
    matches = mailbox.search(params.get("query", ""), params.get("label_ids", []), now=context.now)
    offset = 0
    if params.get("page_token"):
        if not re.fullmatch(r"\d+", params["page_token"]):
            raise ToolInputError("params.page_token is not a token this tool returned")
        offset = int(params["page_token"])
    limit = params.get("max_results", 5)
    page = matches[offset : offset + limit]
    data: dict[str, Any] = {
        "messages": [_message_summary(message) for message in page],
        "resultSizeEstimate": len(matches),
    }
    if offset + limit < len(matches):
        data["nextPageToken"] = str(offset + limit)
    return data


def _get_profile(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    mailbox = context.mailbox()
    return gmail_profile(mailbox)


def gmail_profile(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "emailAddress": mailbox.address,
        "messagesTotal": len(mailbox.messages),
        "threadsTotal": mailbox.threads_total,
        "historyId": str(mailbox.history_id),
    }


def _slack_send_message(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    seconds = context.now.timestamp()
    return {
        "ok": True,
        "channel": params["channel"],
        "ts": f"{seconds:.6f}",
        "message": {"text": params["text"], "type": "message"},
    }


def _calendar_list_events(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "calendar#events",
        "summary": mailbox_address(context.account.identifier),
        "items": [],
    }


def _github_get_user(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    login = re.sub(r"[^A-Za-z0-9-]+", "-", context.account.identifier.split("@")[0]).strip("-")
    return {"login": login or "sandbox-user", "type": "User"}


def _exa_search(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    count = params.get("num_results", 3)
    query = params["query"]
    return {
        "results": [
            {"title": f"{query} — result {rank}", "url": f"https://example.com/{rank}"}
            for rank in range(1, count + 1)
        ]
    }


def default_tools() -> list[ToolSpec]:
    return [
        ToolSpec(
            name="gmail_fetch_mails",
            connector="gmail",
            description="Fetch emails from the connected Gmail account, newest first, "
            "optionally filtered with a Gmail search query.",
            input_schema=_object_schema(
                {
                    "query": {
                        "type": "string",
                        "description": "Gmail search query, e.g. 'is:unread from:alice'",
                    },
                    "max_results": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 500,
                        "description": "How many messages to return (default 5)",
                    },
                    "page_token": {
                        "type": "string",
                        "description": "nextPageToken of a previous call",
                    },
                    "label_ids": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Only messages carrying all these labels",
                    },
                }
            ),
            category="email",
            tags=("email", "read"),
            run=_fetch_mails,
        ),
        ToolSpec(
            name="gmail_get_profile",
            connector="gmail",
            description="Get the Gmail profile of the connected account: address and "
            "message and thread totals.",
            input_schema=_object_schema({}),
            category="email",
            tags=("email", "profile"),
            run=_get_profile,
        ),
        ToolSpec(
            name="googlecalendar_list_events",
            connector="googlecalendar",
            description="List upcoming events of the connected Google Calendar.",
            input_schema=_object_schema(
                {
                    "max_results": {"type": "integer", "minimum": 1, "maximum": 250},
                    "time_min": {"type": "string", "description": "RFC 3339 lower bound"},
                }
            ),
            category="calendar",
            tags=("calendar", "read"),
            run=_calendar_list_events,
        ),
        ToolSpec(
            name="slack_send_message",
            connector="slack",
            description="Send a message to a Slack channel.",
            input_schema=_object_schema(
                {
                    "channel": {"type": "string", "minLength": 1},
                    "text": {"type": "string", "minLength": 1},
                },
                required=("channel", "text"),
                closed=True,
            ),
            category="chat",
            tags=("chat", "write"),
            run=_slack_send_message,
        ),
        ToolSpec(
            name="github_get_authenticated_user",
            connector="github",
            description="Get the GitHub user the connected account belongs to.",
            input_schema=_object_schema({}),
            category="developer",
            tags=("developer", "read"),
            run=_github_get_user,
        ),
        ToolSpec(
            name="exa_search",
            connector="exa",
            description="Search the web with Exa.",
            input_schema=_object_schema(
                {
                    "query": {"type": "string", "minLength": 1},
                    "num_results": {"type": "integer", "minimum": 1, "maximum": 10},
                },
                required=("query",),
                closed=True,
            ),
            category="search",
            tags=("search",),
            run=_exa_search,
        ),
    ]


def tool_to_wire(tool: ToolSpec, provider: str) -> dict[str, Any]:
    """A `toolsTool` object: exactly the fields the schema names."""
    return {
        "id": tool.tool_id,
        "provider": provider,
        "definition": {
            "name": tool.name,
            "description": tool.description,
            "input_schema": tool.input_schema,
        },
        "metadata": {"category": tool.category, "connector": tool.connector},
        "tags": list(tool.tags),
        "is_default": True,
        "updated_at": TOOLS_UPDATED_AT,
    }
