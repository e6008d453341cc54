"""The tool catalog: definitions, the check of params against their schema, and the executors.

Pure Python. Executors get a `ToolContext` (the account, its mailbox, the sandbox time, the
records of what its earlier calls did in its apps) and return the `data` object of
`execute_tool`; the engine does lookups, status checks and errors. The Calendar, Slack and
Notion executors live in `apps.py`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import apps
from .errors import ToolInputError  # raised here and by the app executors; engine catches it
from .mailbox import Mailbox, MailMessage
from .store import AccountRecord, AppRecords

TOOLS_UPDATED_AT = "2025-01-15T00:00:00Z"


@dataclass
class ToolContext:
    account: AccountRecord
    now: datetime
    mailbox: Callable[[], Mailbox]
    records: AppRecords  # what this account's earlier tool calls did in its apps
    app_data: dict[str, Any] | None = None  # the seed's data of the app, if it declared any


@dataclass(frozen=True)
class ToolSpec:
    name: str
    # The app in the catalogue (`default_tools`); the connection it runs against once bound
    # (`SandboxEngine.tools`).
    connector: str
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


def check_input(schema: dict[str, Any], value: Any, where: str = "params") -> None:
    """Raise ToolInputError when `value` breaks the tool's input schema: the checker that
    exec-tool and the MCP server run too (scalekit_cli/scalekit/params.py), so the sandbox
    refuses with the same one-line words the CLI shows."""
    from ..scalekit.params import first_error

    problem = first_error(schema, value, where)
    if problem:
        raise ToolInputError(problem)


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
            description="List upcoming events of the connected Google Calendar, soonest "
            "first: events that have not ended by time_min (default: now).",
            input_schema=_object_schema(
                {
                    "max_results": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 250,
                        "description": "How many events to return (default 10)",
                    },
                    "time_min": {
                        "type": "string",
                        "format": "date-time",
                        "description": "RFC 3339 lower bound, e.g. 2026-12-01T00:00:00Z "
                        "(default: now)",
                    },
                    "time_max": {
                        "type": "string",
                        "format": "date-time",
                        "description": "RFC 3339 upper bound: only events starting before it",
                    },
                    "query": {
                        "type": "string",
                        "description": "Free text matched against summary, description "
                        "and location",
                    },
                    "page_token": {
                        "type": "string",
                        "description": "nextPageToken of a previous call",
                    },
                }
            ),
            category="calendar",
            tags=("calendar", "read"),
            run=apps.calendar_list_events,
        ),
        ToolSpec(
            name="googlecalendar_create_event",
            connector="googlecalendar",
            description="Create an event in the connected Google Calendar (primary "
            "calendar) and return it.",
            input_schema=_object_schema(
                {
                    "summary": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 1024,
                        "description": "The event's title",
                    },
                    "start_time": {
                        "type": "string",
                        "format": "date-time",
                        "description": "RFC 3339 start with a time zone, "
                        "e.g. 2026-12-02T15:00:00Z or 2026-12-02T16:00:00+01:00",
                    },
                    "end_time": {
                        "type": "string",
                        "format": "date-time",
                        "description": "RFC 3339 end, after start_time",
                    },
                    "description": {"type": "string", "description": "Notes for the event"},
                    "location": {"type": "string", "description": "Where it takes place"},
                    "attendees": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 3},
                        "description": "E-mail addresses to invite",
                    },
                },
                required=("summary", "start_time", "end_time"),
                closed=True,
            ),
            category="calendar",
            tags=("calendar", "write"),
            run=apps.calendar_create_event,
        ),
        ToolSpec(
            name="slack_list_channels",
            connector="slack",
            description="List the public channels of the connected Slack workspace.",
            input_schema=_object_schema(
                {
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 1000,
                        "description": "How many channels to return (default 100)",
                    },
                    "cursor": {
                        "type": "string",
                        "description": "response_metadata.next_cursor of a previous call",
                    },
                }
            ),
            category="chat",
            tags=("chat", "read"),
            run=apps.slack_list_channels,
        ),
        ToolSpec(
            name="slack_send_message",
            connector="slack",
            description="Send a message to a Slack channel as the connected user.",
            input_schema=_object_schema(
                {
                    "channel": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The channel's id (C…) or name (general or #general)",
                    },
                    "text": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 40000,
                        "description": "The message text (Slack mrkdwn)",
                    },
                },
                required=("channel", "text"),
                closed=True,
            ),
            category="chat",
            tags=("chat", "write"),
            run=apps.slack_send_message,
        ),
        ToolSpec(
            name="slack_fetch_conversation_history",
            connector="slack",
            description="Fetch the latest messages of a Slack channel, newest first.",
            input_schema=_object_schema(
                {
                    "channel": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The channel's id (C…) or name (general or #general)",
                    },
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 1000,
                        "description": "How many messages to return (default 20)",
                    },
                },
                required=("channel",),
            ),
            category="chat",
            tags=("chat", "read"),
            run=apps.slack_conversation_history,
        ),
        ToolSpec(
            name="notion_search_pages",
            connector="notion",
            description="Search the pages the connected Notion integration can see, by "
            "title; most recently edited first.",
            input_schema=_object_schema(
                {
                    "query": {
                        "type": "string",
                        "description": "Text the page title contains (empty: every page)",
                    },
                    "page_size": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 100,
                        "description": "How many pages to return (default 10)",
                    },
                    "start_cursor": {
                        "type": "string",
                        "description": "next_cursor of a previous call",
                    },
                }
            ),
            category="knowledge",
            tags=("knowledge", "read"),
            run=apps.notion_search_pages,
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


def _words(text: str) -> set[str]:
    return {word for word in re.split(r"[^0-9a-z]+", text.casefold()) if word}


def search_score(tool: ToolSpec, provider: str, query: str) -> float:
    """How well `tool` answers `query` (`tools:search`): the share of the query's words that
    begin a word of its name (counting double: a name says what a tool does), or of its
    description, connector or provider ("email" finds "emails"). Words under three letters
    ("a", "to") say nothing and are left out. Deterministic, so equal queries rank alike;
    0 is no match."""
    wanted = {word for word in _words(query) if len(word) >= 3} or _words(query)
    if not wanted:
        return 0.0
    in_name = _words(tool.name)
    elsewhere = _words(f"{tool.description} {tool.connector} {provider}")

    def found(word: str, words: set[str]) -> bool:
        return any(candidate.startswith(word) for candidate in words)

    points = sum(
        2 if found(word, in_name) else 1 if found(word, elsewhere) else 0 for word in wanted
    )
    return round(points / (2 * len(wanted)), 4)
