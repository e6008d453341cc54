"""Typed views of the AgentKit answers.

The gateway may omit unpopulated fields or send them as `""`, `null`, `[]` or `{}`; both mean
"absent" here. Enum values arrive as names and are kept as received, so a status this version
does not know is still shown rather than rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def json_object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


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
            access_token=_text(data, "access_token"),
            refresh_token=_text(data, "refresh_token"),
            scopes=_strings(data, "scopes"),
            domain=_text(data, "domain"),
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
    def from_json(cls, data: dict[str, Any]) -> ConnectedAccount:
        details = json_object(data, "authorization_details")
        return cls(
            id=_text(data, "id"),
            connector=_text(data, "connector"),
            identifier=_text(data, "identifier"),
            provider=_text(data, "provider"),
            status=_text(data, "status"),
            authorization_type=_text(data, "authorization_type"),
            connection_id=_text(data, "connection_id"),
            token_expires_at=_text(data, "token_expires_at"),
            updated_at=_text(data, "updated_at"),
            last_used_at=_text(data, "last_used_at"),
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
        items = data.get("connected_accounts")
        accounts = [
            ConnectedAccount.from_json(item)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
        ]
        total = data.get("total_size")
        # int64 values may travel as strings through a JSON gateway.
        if isinstance(total, str) and total.isascii() and total.isdigit():
            total = int(total)
        return cls(
            accounts=accounts,
            next_page_token=_text(data, "next_page_token"),
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
        return cls(link=_text(data, "link"), expiry=_text(data, "expiry"))


@dataclass(frozen=True)
class ToolResult:
    execution_id: str
    data: dict[str, Any]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolResult:
        return cls(
            execution_id=_text(data, "execution_id"), data=json_object(data, "data"), raw=data
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
            id=_text(data, "id"),
            provider=_text(data, "provider"),
            name=_text(definition, "name"),
            description=_text(definition, "description"),
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
        headers = json_object(data, "payload").get("headers")
        by_name: dict[str, str] = {}
        for header in headers if isinstance(headers, list) else []:
            if isinstance(header, dict):
                by_name.setdefault(_text(header, "name").lower(), _text(header, "value"))
        internal = _text(data, "internalDate")
        return cls(
            id=_text(data, "id"),
            thread_id=_text(data, "threadId"),
            sender=by_name.get("from", ""),
            subject=by_name.get("subject", ""),
            date=by_name.get("date", ""),
            snippet=_text(data, "snippet"),
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
