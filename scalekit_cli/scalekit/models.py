"""Typed views of the AgentKit answers.

The gateway may omit unpopulated fields or send them as `""`, `null`, `[]` or `{}`; all mean
"absent" here. Enum values arrive as names and are kept as received, so a status this version
does not know is still shown rather than rejected. A field that is present with a value of
another type is not tolerated: the answer is not what the contract documents, and reading it
as "absent" would turn a broken server into a missing account (ShapeError).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

# Deeper JSON than this is no answer of the contract's (and would exhaust the stack of any
# recursive reader): refused as a whole.
JSON_DEPTH_LIMIT = 64


class AccountStatus(StrEnum):
    """The contract's ConnectorStatus values, spelled as the service sends them."""

    ACTIVE = "ACTIVE"
    PENDING_AUTH = "PENDING_AUTH"
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    EXPIRED = "EXPIRED"
    DISCONNECTED = "DISCONNECTED"


class ShapeError(ValueError):
    """JSON that does not have the documented shape (or nests beyond JSON_DEPTH_LIMIT)."""


def load_json(content: bytes | str) -> Any:
    """Parse a JSON answer; ValueError when it is not JSON, ShapeError when it nests too deep."""
    try:
        document = json.loads(content)
    except RecursionError:
        raise ShapeError(f"JSON nested deeper than {JSON_DEPTH_LIMIT} levels") from None
    # Iterative, so that checking the depth cannot itself run out of stack.
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if not isinstance(value, dict | list):
            continue
        if depth > JSON_DEPTH_LIMIT:
            raise ShapeError(f"JSON nested deeper than {JSON_DEPTH_LIMIT} levels")
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children)
    return document


def json_document(data: Any) -> dict[str, Any]:
    """An answer's JSON, which the contract always makes an object."""
    if not isinstance(data, dict):
        raise ShapeError("it is JSON, but not an object")
    return data


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def text_field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, str):
        return value
    if _absent(value):
        return ""
    raise ShapeError(f"{key} is {_kind(value)}, not a string")


def json_object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if isinstance(value, dict):
        return value
    if _absent(value):
        return {}
    raise ShapeError(f"{key} is {_kind(value)}, not an object")


def required_object(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A member the documented answer always has, as a non-empty object."""
    value = json_object(data, key)
    if not value:
        raise ShapeError(f"it has no {key}")
    return value


def objects(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """An array of objects (absent: none)."""
    value = data.get(key)
    if _absent(value):
        return []
    if not isinstance(value, list):
        raise ShapeError(f"{key} is {_kind(value)}, not an array")
    for item in value:
        if not (isinstance(item, dict) or item is None):
            raise ShapeError(f"{key} holds {_kind(item)}, not an object")
    return [item for item in value if item]


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if _absent(value):
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ShapeError(f"{key} is not an array of strings")
    return value


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (brackets allowed)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def link_problem(url: str) -> str | None:
    """Why a URL from a server may not be shown as a link to follow, or handed to a browser:
    only https:// (or http:// to a loopback host), with a host, and no whitespace or control
    characters. None when it may."""
    if not url:
        return "it is empty"
    if any(char.isspace() or not char.isprintable() for char in url):
        return "it holds whitespace or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "it is not a URL"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return "it is not an https:// URL"
    if not host:
        return "it names no host"
    if scheme == "http" and not is_loopback_host(host):
        return "it is plain http:// to a host that is not loopback"
    return None


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 timestamp, or None for an empty or unreadable one."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OAuthToken:
    access_token: str = ""
    refresh_token: str = ""
    scopes: list[str] = field(default_factory=list)
    domain: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OAuthToken:
        return cls(
            access_token=text_field(data, "access_token"),
            refresh_token=text_field(data, "refresh_token"),
            scopes=_strings(data, "scopes"),
            domain=text_field(data, "domain"),
        )


@dataclass(frozen=True)
class AuthorizationDetails:
    oauth_token: OAuthToken | None = None
    static_auth: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthorizationDetails:
        oauth = json_object(data, "oauth_token")
        static = json_object(json_object(data, "static_auth"), "details")
        return cls(
            oauth_token=OAuthToken.from_json(oauth) if oauth else None,
            static_auth=static or None,
        )


@dataclass(frozen=True)
class ConnectedAccount:
    id: str = ""
    connector: str = ""
    identifier: str = ""
    provider: str = ""
    status: str = ""
    authorization_type: str = ""
    connection_id: str = ""
    token_expires_at: str = ""
    updated_at: str = ""
    last_used_at: str = ""
    api_config: dict[str, Any] = field(default_factory=dict)
    authorization_details: AuthorizationDetails | None = None

    @classmethod
    def from_answer(cls, data: dict[str, Any]) -> ConnectedAccount:
        """The account of a `{connected_account: {…}}` answer."""
        return cls.from_json(required_object(data, "connected_account"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectedAccount:
        details = json_object(data, "authorization_details")
        return cls(
            id=text_field(data, "id"),
            connector=text_field(data, "connector"),
            identifier=text_field(data, "identifier"),
            provider=text_field(data, "provider"),
            status=text_field(data, "status"),
            authorization_type=text_field(data, "authorization_type"),
            connection_id=text_field(data, "connection_id"),
            token_expires_at=text_field(data, "token_expires_at"),
            updated_at=text_field(data, "updated_at"),
            last_used_at=text_field(data, "last_used_at"),
            api_config=json_object(data, "api_config"),
            authorization_details=AuthorizationDetails.from_json(details) if details else None,
        )

    @property
    def is_active(self) -> bool:
        return self.status == "ACTIVE"

    def summary(self) -> dict[str, Any]:
        """The stable, credential-free shape `sk status --json` prints."""
        return {
            "connector": self.connector,
            "identifier": self.identifier,
            "status": self.status or None,
            "id": self.id or None,
            "authorization_type": self.authorization_type or None,
            "provider": self.provider or None,
            "token_expires_at": self.token_expires_at or None,
            "updated_at": self.updated_at or None,
            "last_used_at": self.last_used_at or None,
        }


@dataclass(frozen=True)
class AccountPage:
    accounts: list[ConnectedAccount]
    next_page_token: str = ""
    total_size: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountPage:
        items = objects(data, "connected_accounts")
        accounts = [ConnectedAccount.from_json(item) for item in items]
        total = data.get("total_size")
        # int64 values may travel as strings through a JSON gateway.
        if isinstance(total, str) and total.isascii() and total.isdigit():
            total = int(total)
        elif not (_absent(total) or (isinstance(total, int) and not isinstance(total, bool))):
            raise ShapeError(f"total_size is {_kind(total)}, not an integer")
        return cls(
            accounts=accounts,
            next_page_token=text_field(data, "next_page_token"),
            total_size=total if isinstance(total, int) else None,
        )


@dataclass(frozen=True)
class MagicLink:
    link: str
    expiry: str = ""

    @property
    def expires(self) -> datetime | None:
        return parse_timestamp(self.expiry)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MagicLink:
        link = text_field(data, "link")
        problem = link_problem(link)
        if problem is not None:
            raise ShapeError(f"the magic link {link!r} cannot be followed: {problem}")
        return cls(link=link, expiry=text_field(data, "expiry"))


@dataclass(frozen=True)
class ToolResult:
    execution_id: str
    data: dict[str, Any]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolResult:
        return cls(
            execution_id=text_field(data, "execution_id"), data=json_object(data, "data"), raw=data
        )


@dataclass(frozen=True)
class Tool:
    id: str = ""
    provider: str = ""
    name: str = ""
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tool:
        definition = json_object(data, "definition")
        schema = json_object(definition, "input_schema") or json_object(definition, "parameters")
        return cls(
            id=text_field(data, "id"),
            provider=text_field(data, "provider"),
            name=text_field(definition, "name"),
            description=text_field(definition, "description"),
            input_schema=schema,
            tags=_strings(data, "tags"),
            raw=data,
        )


@dataclass(frozen=True)
class GmailMessage:
    id: str
    thread_id: str = ""
    sender: str = ""
    subject: str = ""
    date: str = ""
    snippet: str = ""
    internal_date: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GmailMessage:
        by_name: dict[str, str] = {}
        for header in objects(json_object(data, "payload"), "headers"):
            by_name.setdefault(text_field(header, "name").lower(), text_field(header, "value"))
        internal = text_field(data, "internalDate")
        return cls(
            id=text_field(data, "id"),
            thread_id=text_field(data, "threadId"),
            sender=by_name.get("from", ""),
            subject=by_name.get("subject", ""),
            date=by_name.get("date", ""),
            snippet=text_field(data, "snippet"),
            internal_date=int(internal) if internal.isascii() and internal.isdigit() else 0,
        )

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "thread_id": self.thread_id,
            "from": self.sender,
            "subject": self.subject,
            "date": self.date,
            "snippet": self.snippet,
        }


@dataclass(frozen=True)
class AppConnection:
    """One connection of the environment (`GET /api/v1/connections/app`, a `ListConnection`):
    its name is the `key_id`, the name `sk connect` takes."""

    name: str
    provider: str = ""
    authorization_type: str = ""
    id: str = ""
    status: str = ""
    enabled: bool | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppConnection:
        enabled = data.get("enabled")
        if not (enabled is None or isinstance(enabled, bool)):
            raise ShapeError(f"enabled is {_kind(enabled)}, not a boolean")
        return cls(
            name=text_field(data, "key_id"),
            # provider_key names every provider; the `provider` enum only identity providers.
            provider=text_field(data, "provider_key") or text_field(data, "provider"),
            authorization_type=text_field(data, "type"),
            id=text_field(data, "id"),
            status=text_field(data, "status"),
            enabled=enabled,
        )


@dataclass(frozen=True)
class ToolReadiness:
    """One of a user's accounts a searched tool can run on, and whether it can now."""

    connection_name: str
    connected_account_id: str = ""
    readiness_state: str = ""

    @property
    def ready(self) -> bool:
        return self.readiness_state == "TOOL_READINESS_STATE_READY"


@dataclass(frozen=True)
class SearchedTool:
    """One result of `POST /api/v1/tools:search`, best first."""

    name: str
    provider: str = ""
    description: str = ""
    score: float = 0.0
    connections: list[ToolReadiness] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchedTool:
        score = data.get("score")
        if _absent(score):
            score = 0.0
        elif isinstance(score, bool) or not isinstance(score, int | float):
            raise ShapeError(f"score is {_kind(score)}, not a number")
        return cls(
            name=text_field(data, "name"),
            provider=text_field(data, "provider"),
            description=text_field(data, "description"),
            score=float(score),
            connections=[
                ToolReadiness(
                    connection_name=text_field(item, "connection_name"),
                    connected_account_id=text_field(item, "connected_account_id"),
                    readiness_state=text_field(item, "readiness_state"),
                )
                for item in objects(data, "connections")
            ],
        )
