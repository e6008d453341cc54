"""The sandbox's domain logic: machine tokens, connected accounts, magic links, user
verification, token life, tools and the Gmail credential check.

No web framework here: the routes translate HTTP to these calls and `ApiError`s back.
Every operation that may write runs in one `BEGIN IMMEDIATE` transaction of the store.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from . import paging
from .app_data import mailbox as seeded_mailbox
from .clock import real_now, rfc3339
from .custom_providers import CustomProviders
from .errors import (
    ALREADY_EXISTS,
    FAILED_PRECONDITION,
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    PERMISSION_DENIED,
    ApiError,
    OAuthError,
)
from .faults import FaultRegistry, RequestLog
from .mailbox import Mailbox, mailbox_address
from .mcp_configs import McpConfigs
from .mcp_instances import McpInstances
from .mcp_servers import McpServers
from .seed import META_KEY as SEED_META_KEY
from .seed import SeedTool
from .seed import config_from_json as seed_config_from_json
from .settings import USER_VERIFICATION_MODES, Connection, SandboxSettings
from .store import (
    AccountFilter,
    AccountRecord,
    AppRecords,
    AuthRequestRecord,
    LinkRecord,
    Store,
    StoreSession,
)
from .tools import (
    ToolContext,
    ToolInputError,
    ToolSpec,
    check_input,
    default_tools,
    search_score,
    tool_to_wire,
)

ACTIVE = "ACTIVE"
EXPIRED = "EXPIRED"
PENDING_AUTH = "PENDING_AUTH"
PENDING_VERIFICATION = "PENDING_VERIFICATION"
DISCONNECTED = "DISCONNECTED"
STATUSES = (ACTIVE, EXPIRED, PENDING_AUTH, PENDING_VERIFICATION, DISCONNECTED)

DEFAULT_ACCOUNT_PAGE_SIZE = 10  # the document: "Default is typically 10"
MAX_ACCOUNT_PAGE_SIZE = 100
DEFAULT_TOOL_PAGE_SIZE = 50
MAX_TOOL_PAGE_SIZE = 100
# tools:search's top_k: "Defaults to 10, capped at 50" (the field's description).
SEARCH_TOP_K_DEFAULT = 10
SEARCH_TOP_K_MAX = 50
# connections/app's page_size rule is `lte: 30`; the sandbox serves that much by default.
APP_CONNECTIONS_PAGE_MAX = 30
# A user's account status, as tools:search reports whether it can run a tool now.
_READINESS = {
    ACTIVE: "TOOL_READINESS_STATE_READY",
    EXPIRED: "TOOL_READINESS_STATE_NEEDS_REAUTH",
}
VERIFIED_PAGE_PATH = "/magic/verified"
LAST_USED_RESOLUTION = 60.0  # seconds

# Provider-flavoured prefixes make sandbox tokens look like the real thing in logs.
_ACCESS_TOKEN_PREFIX = {
    "GOOGLE": "ya29.sbx-",
    "SLACK": "xoxp-sbx-",
    "GITHUB": "gho_sbx",
    "NOTION": "secret_sbx",
}
_REFRESH_TOKEN_PREFIX = {"GOOGLE": "1//sbx-", "SLACK": "xoxe-1-sbx-"}


@dataclass
class AccountKey:
    """How a request names an account: by id, or by connector + identifier (+ scope)."""

    id: str | None = None
    connector: str | None = None
    identifier: str | None = None
    organization_id: str | None = None
    user_id: str | None = None

    @classmethod
    def from_mapping(cls, values: Any) -> AccountKey:
        def text(name: str) -> str | None:
            value = values.get(name)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise ApiError(INVALID_ARGUMENT, f"{name} must be a string")
            return value

        return cls(
            id=text("id"),
            connector=text("connector"),
            identifier=text("identifier"),
            organization_id=text("organization_id"),
            user_id=text("user_id"),
        )

    def require(self) -> None:
        if not self.id and not (self.connector and self.identifier):
            raise ApiError(INVALID_ARGUMENT, "give either id, or connector and identifier")


@dataclass
class HostedLink:
    """What the hosted page needs to render a live link."""

    link: LinkRecord
    account: AccountRecord
    connection: Connection


class LinkUnavailable(Exception):
    def __init__(self, http_status: int, title: str, explanation: str) -> None:
        super().__init__(explanation)
        self.http_status = http_status
        self.title = title
        self.explanation = explanation


@dataclass
class LinkOutcome:
    kind: str  # "connected", "denied", "verify_redirect", "verify_pending", "missing_api_key"
    account: AccountRecord
    connection: Connection
    redirect_url: str | None = None
    auth_request_id: str | None = None


@dataclass
class ToolResult:
    data: dict[str, Any]
    execution_id: str


def _random_digits(count: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (count - 1)) + 10 ** (count - 1))


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(INVALID_ARGUMENT, "page_token is not a token this API returned") from error
    if not isinstance(offset, int) or offset < 0:
        raise ApiError(INVALID_ARGUMENT, "page_token is not a token this API returned")
    return offset


def parse_page_size(raw: Any, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except (TypeError, ValueError) as error:
        raise ApiError(INVALID_ARGUMENT, "page_size must be an integer") from error
    if size < 0:
        raise ApiError(INVALID_ARGUMENT, "page_size must not be negative")
    # Where a list's field rules set no bound, a larger page is served at the sandbox's
    # largest ("Maximum number ... per page"), as Google's AIP-158 coerces it; where they do
    # (accounts: page_size < 100), the rule check has refused it before this runs.
    return min(size, maximum) or default


def append_query(url: str, params: list[tuple[str, str]]) -> str:
    """Add query parameters to `url`, leaving its own query and fragment byte for byte."""
    from urllib.parse import urlencode

    base, hash_mark, fragment = url.partition("#")
    separator = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        separator = ""
    return f"{base}{separator}{urlencode(params)}{hash_mark}{fragment}"


def _query_matches(query: str, text: str) -> bool:
    """`Filter.query`: the descriptors split it on spaces and underscores and want every token
    in the tool (`gmail get attachment` matches `gmail_get_attachment`); the OpenAPI document
    searches the name or the description — so each token is looked for in both."""
    haystack = text.casefold()
    return all(token in haystack for token in re.split(r"[\s_]+", query.casefold()) if token)


class SandboxEngine:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.store = Store(settings.state_path)
        # Set by EmbeddedSandbox.start_server; None: links use the request's base URL.
        self.public_url: str | None = settings.public_url
        self.faults = FaultRegistry()
        self.request_log = RequestLog()
        # The connections the sandbox was configured with, and the seeded tools: a seed
        # (applied now or persisted in the state) replaces both; `reset` brings these back.
        self.default_connections = settings.connections
        self.default_user_verification = settings.user_verification
        self.seeded_tools: list[SeedTool] = []
        # A seed's `accounts[].app_data` by account id: served instead of the generated data.
        self.app_data: dict[str, dict[str, Any]] = {}
        self._catalogue = default_tools()
        self._bound: tuple[int, int, list[ToolSpec]] | None = None
        self._mailboxes: dict[tuple[str, float], Mailbox] = {}
        self._mailbox_lock = threading.Lock()
        self.mcp = McpConfigs(self)
        self.providers = CustomProviders(self)
        self.mcp_instances = McpInstances(self)
        self.mcp_servers = McpServers(self)
        with self.store.read() as session:
            persisted = session.meta(SEED_META_KEY)
        if persisted is not None:
            self.configure(*seed_config_from_json(persisted))

    # --- connections and their tools ------------------------------------------------------------

    def configure(
        self,
        connections: list[Connection],
        tools: list[SeedTool],
        mode: str,
        app_data: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Take a seed's configuration: its connections, its tools, its verification mode,
        its accounts' app data."""
        self.settings.connections = connections
        self.settings.user_verification = mode
        self.seeded_tools = list(tools)
        self.app_data = dict(app_data or {})
        self._bound = None

    @property
    def tools(self) -> list[ToolSpec]:
        """The catalogue as the connections bind it: each connection backed by an app gets
        that app's tools under their usual names (the catalogue names a tool by app, not by
        connection), run against it; seeded tools join the connections they name."""
        connections = self.settings.connections
        if self._bound is None or self._bound[:2] != (id(connections), len(connections)):
            by_app: dict[str, list[ToolSpec]] = {}
            for tool in self._catalogue:
                by_app.setdefault(tool.connector, []).append(tool)
            bound: list[ToolSpec] = []
            for connection in connections:
                if connection.app is not None:
                    bound += [
                        replace(tool, connector=connection.name)
                        for tool in by_app.get(connection.app, [])
                    ]
            for seeded in self.seeded_tools:
                bound += [
                    seeded.bind(connection)
                    for connection in connections
                    if connection.name == seeded.connection
                    or connection.provider == seeded.provider
                ]
            self._bound = (id(connections), len(connections), bound)
        return self._bound[2]

    # --- clock --------------------------------------------------------------------------------

    @staticmethod
    def now_in(session: StoreSession) -> float:
        offset = session.meta("clock_offset")
        return real_now() + (float(offset) if offset else 0.0)

    def now(self) -> float:
        with self.store.read() as session:
            return self.now_in(session)

    def clock_offset(self) -> float:
        with self.store.read() as session:
            return float(session.meta("clock_offset") or 0.0)

    def advance_clock(self, seconds: float) -> float:
        with self.store.write() as session:
            offset = float(session.meta("clock_offset") or 0.0) + seconds
            session.set_meta("clock_offset", repr(offset))
            return offset

    # --- settings -----------------------------------------------------------------------------

    def link_base(self, request_base_url: str) -> str:
        return (self.public_url or request_base_url).rstrip("/")

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        mode = changes.get("user_verification")
        if mode is not None and mode not in USER_VERIFICATION_MODES:
            raise ValueError(f"user_verification must be one of {USER_VERIFICATION_MODES}")
        for name in ("access_token_ttl", "link_ttl", "machine_token_ttl"):
            value = changes.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer")
        if mode is not None:
            self.settings.user_verification = mode
        for name in ("access_token_ttl", "link_ttl", "machine_token_ttl"):
            if changes.get(name) is not None:
                setattr(self.settings, name, changes[name])
        return self.settings_snapshot()

    def settings_snapshot(self) -> dict[str, Any]:
        return {
            "user_verification": self.settings.user_verification,
            "access_token_ttl": self.settings.access_token_ttl,
            "link_ttl": self.settings.link_ttl,
            "machine_token_ttl": self.settings.machine_token_ttl,
            "public_url": self.public_url,
            "connections": [connection.name for connection in self.settings.connections],
        }

    def reset(self) -> None:
        self.store.clear()
        self.configure(self.default_connections, [], self.default_user_verification)
        with self._mailbox_lock:
            self._mailboxes.clear()

    def close(self) -> None:
        self.store.close()

    # --- machine tokens -----------------------------------------------------------------------

    def issue_machine_token(self, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise OAuthError(
                400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
            )
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not client_id or not client_secret:
            raise OAuthError(400, "invalid_request", "client_id and client_secret are required")
        id_ok = hmac.compare_digest(client_id.encode(), self.settings.client_id.encode())
        secret_ok = hmac.compare_digest(
            client_secret.encode(), self.settings.client_secret.encode()
        )
        if not (id_ok and secret_ok):
            raise OAuthError(401, "invalid_client", "client authentication failed")
        token = "sbx_mt_" + secrets.token_urlsafe(32)
        ttl = self.settings.machine_token_ttl
        with self.store.write() as session:
            now = self.now_in(session)
            session.insert_machine_token(token, client_id, now, now + ttl)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": ""}

    def machine_token_is_live(self, token: str) -> bool:
        with self.store.read() as session:
            expires_at = session.machine_token_expiry(token)
            return expires_at is not None and self.now_in(session) < expires_at

    def revoke_machine_tokens(self) -> int:
        with self.store.write() as session:
            return session.revoke_machine_tokens()

    # --- connected accounts -------------------------------------------------------------------

    def connection_for(self, account: AccountRecord) -> Connection | None:
        return self.settings.connection(account.connector)

    def find_account(self, session: StoreSession, key: AccountKey) -> AccountRecord | None:
        key.require()
        if key.id:
            return session.account_by_id(key.id)
        assert key.connector is not None and key.identifier is not None
        return session.account_by_key(
            key.connector, key.identifier, key.organization_id, key.user_id
        )

    def _get(self, session: StoreSession, key: AccountKey) -> AccountRecord:
        account = self.find_account(session, key)
        if account is None:
            raise ApiError(NOT_FOUND, "connected account not found", "CONNECTED_ACCOUNT_NOT_FOUND")
        return account

    def new_oauth_token(
        self, connection: Connection, refresh_token: str | None = None
    ) -> dict[str, Any]:
        access_prefix = _ACCESS_TOKEN_PREFIX.get(connection.provider, "sbx_at_")
        refresh_prefix = _REFRESH_TOKEN_PREFIX.get(connection.provider, "sbx_rt_")
        return {
            "access_token": access_prefix + secrets.token_urlsafe(32),
            "refresh_token": refresh_token or refresh_prefix + secrets.token_urlsafe(32),
            "scopes": list(connection.scopes),
        }

    def _new_account(
        self, session: StoreSession, connection: Connection, key: AccountKey, now: float
    ) -> AccountRecord:
        assert key.identifier is not None
        account = AccountRecord(
            id="ca_" + _random_digits(17),
            connector=connection.name,
            identifier=key.identifier,
            organization_id=key.organization_id or "",
            user_id=key.user_id or "",
            status=PENDING_AUTH,
            created_at=now,
            updated_at=now,
        )
        session.insert_account(account)
        return account

    def _apply_authorization(
        self, account: AccountRecord, details: dict[str, Any], now: float
    ) -> None:
        """Store caller-supplied credentials; any credentials make the account usable."""
        if not details:
            return
        account.authorization_details = details
        account.access_token_revoked = False
        account.rotate_pending = False
        account.token_expires_at = (
            now + self.settings.access_token_ttl if "oauth_token" in details else None
        )
        account.status = ACTIVE

    def create_account(
        self,
        key: AccountKey,
        authorization_details: Any = None,
        api_config: Any = None,
    ) -> AccountRecord:
        if not key.connector or not key.identifier:
            raise ApiError(INVALID_ARGUMENT, "connector and identifier are required")
        connection = self.settings.connection(key.connector)
        if connection is None:
            raise ApiError(
                NOT_FOUND, f"connection {key.connector!r} not found", "CONNECTION_NOT_FOUND"
            )
        details = sanitize_authorization_details(authorization_details)
        config = _optional_object(api_config, "connected_account.api_config")
        with self.store.write() as session:
            existing = session.account_exact(
                key.connector, key.identifier, key.organization_id or "", key.user_id or ""
            )
            if existing is not None:
                raise ApiError(
                    ALREADY_EXISTS, "connected account already exists", "CONNECTED_ACCOUNT_EXISTS"
                )
            now = self.now_in(session)
            account = self._new_account(session, connection, key, now)
            account.api_config = config
            self._apply_authorization(account, details, now)
            session.save_account(account)
            return account

    def update_account(
        self, key: AccountKey, authorization_details: Any = None, api_config: Any = None
    ) -> AccountRecord:
        details = sanitize_authorization_details(authorization_details)
        config = _optional_object(api_config, "connected_account.api_config")
        with self.store.write() as session:
            account = self._get(session, key)
            now = self.now_in(session)
            self._apply_authorization(account, details, now)
            account.api_config = {**account.api_config, **config}  # the document: "merges"
            account.updated_at = now
            session.save_account(account)
            return account

    def _refresh_if_due(self, account: AccountRecord, now: float) -> None:
        """Scalekit refreshes OAuth tokens server-side when they have lapsed (or were rotated)."""
        token = account.oauth_token
        if account.status != ACTIVE or token is None:
            return
        lapsed = account.token_expires_at is not None and now >= account.token_expires_at
        if not (lapsed or account.rotate_pending):
            return
        connection = self.connection_for(account)
        if not token.get("refresh_token") or connection is None:
            # Nothing to refresh with: the provider would force a new consent.
            account.status = EXPIRED
        else:
            fresh = self.new_oauth_token(connection, refresh_token=token["refresh_token"])
            fresh["scopes"] = token.get("scopes", fresh["scopes"])
            if token.get("domain"):
                fresh["domain"] = token["domain"]
            account.authorization_details = {**account.authorization_details, "oauth_token": fresh}
            account.token_expires_at = now + self.settings.access_token_ttl
            account.access_token_revoked = False
            account.rotate_pending = False
        account.updated_at = now

    def get_account_auth(self, key: AccountKey) -> AccountRecord:
        with self.store.write() as session:
            account = self._get(session, key)
            now = self.now_in(session)
            self._refresh_if_due(account, now)
            _record_use(account, now)
            session.save_account(account)
            return account

    def get_account_details(self, key: AccountKey) -> AccountRecord:
        with self.store.read() as session:
            return self._get(session, key)

    def delete_account(self, key: AccountKey) -> None:
        with self.store.write() as session:
            account = self._get(session, key)
            session.delete_account(account.id)

    def list_accounts(
        self,
        *,
        connector: str | None = None,
        connection_names: list[str] | None = None,
        provider: str | None = None,
        identifier: str | None = None,
        organization_id: str | None = None,
        user_id: str | None = None,
        query: str | None = None,
        page_size: Any = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        if connector and connection_names:
            raise ApiError(INVALID_ARGUMENT, "connection_names cannot be combined with connector")
        if connection_names and len(connection_names) > 20:
            raise ApiError(INVALID_ARGUMENT, "at most 20 connection_names per request")
        size = parse_page_size(page_size, DEFAULT_ACCOUNT_PAGE_SIZE, MAX_ACCOUNT_PAGE_SIZE)
        offset = decode_page_token(page_token)
        connectors: list[str] | None = None
        if connector:
            connectors = [connector]
        elif connection_names:
            connectors = list(connection_names)
        if provider:
            by_provider = [
                c.name
                for c in self.settings.connections
                if c.provider.casefold() == provider.casefold()
            ]
            connectors = (
                by_provider if connectors is None else [c for c in connectors if c in by_provider]
            )
        where = AccountFilter(connectors, identifier, organization_id, user_id, query)
        return self._account_page(where, offset, size)

    def _account_page(self, where: AccountFilter, offset: int, size: int) -> dict[str, Any]:
        """One page of matching accounts (no credentials), with the list's paging fields."""
        with self.store.read() as session:
            accounts, total = session.list_accounts(where, offset, size)
        answer: dict[str, Any] = {
            "connected_accounts": [self.account_to_wire(a, for_list=True) for a in accounts],
            "total_size": total,
        }
        if offset + size < total:
            answer["next_page_token"] = encode_page_token(offset + size)
        if offset > 0:
            answer["prev_page_token"] = encode_page_token(max(0, offset - size))
        return answer

    def search_accounts(
        self, query: str, *, page_size: int = 0, page_token: str = "", connection_id: str = ""
    ) -> dict[str, Any]:
        """`connected_accounts:search`: a case-insensitive match of `query` against the
        identifier, the connector and the provider."""
        size = page_size or DEFAULT_ACCOUNT_PAGE_SIZE
        offset = decode_page_token(page_token or None)
        folded = query.casefold()
        connectors: list[str] | None = None
        if connection_id:
            connectors = [
                c.name for c in self.settings.connections if c.connection_id == connection_id
            ]
        by_provider = [c.name for c in self.settings.connections if folded in c.provider.casefold()]
        where = AccountFilter(connectors, text=query, text_connectors=by_provider)
        return self._account_page(where, offset, size)

    def account_to_wire(
        self, account: AccountRecord, *, credentials: bool = False, for_list: bool = False
    ) -> dict[str, Any]:
        """`ConnectedAccount` / `ConnectedAccountForList`, unpopulated fields left out."""
        connection = self.connection_for(account)
        wire: dict[str, Any] = {
            "id": account.id,
            "identifier": account.identifier,
            "connector": account.connector,
        }
        if connection is not None:
            wire["provider"] = connection.provider
            wire["authorization_type"] = connection.authorization_type
            wire["connection_id"] = connection.connection_id
        wire["status"] = account.status
        if account.token_expires_at is not None and account.oauth_token is not None:
            wire["token_expires_at"] = rfc3339(account.token_expires_at)
        if account.last_used_at is not None:
            wire["last_used_at"] = rfc3339(account.last_used_at)
        wire["updated_at"] = rfc3339(account.updated_at)
        if not for_list and account.api_config:
            wire["api_config"] = account.api_config
        if credentials and account.authorization_details:
            wire["authorization_details"] = account.authorization_details
        return wire

    # --- magic links and the hosted page ------------------------------------------------------

    def create_magic_link(
        self, key: AccountKey, state: str | None, user_verify_url: str | None, base_url: str
    ) -> dict[str, str]:
        key.require()
        if key.connector and self.settings.connection(key.connector) is None:
            raise ApiError(
                INVALID_ARGUMENT, f"invalid connector {key.connector!r}", "INVALID_CONNECTOR"
            )
        with self.store.write() as session:
            now = self.now_in(session)
            account = self.find_account(session, key)
            if account is None and key.id and key.connector and key.identifier:
                # An id that names no account, with a connector + identifier beside it: the
                # link is for the account those name (made if need be), as without an id.
                account = self.find_account(session, AccountKey(None, *_key_fields(key)))
            if account is None:
                if key.id and not (key.connector and key.identifier):
                    raise ApiError(
                        NOT_FOUND, "connected account not found", "CONNECTED_ACCOUNT_NOT_FOUND"
                    )
                connection = self.settings.connection(key.connector or "")
                assert connection is not None
                account = self._new_account(session, connection, key, now)
            token = secrets.token_urlsafe(24)
            expires_at = now + self.settings.link_ttl
            session.insert_link(
                LinkRecord(token, account.id, now, expires_at, None, state, user_verify_url)
            )
        return {"link": f"{self.link_base(base_url)}/magic/{token}", "expiry": rfc3339(expires_at)}

    def _live_link(self, session: StoreSession, token: str) -> HostedLink:
        link = session.link(token)
        if link is None:
            raise LinkUnavailable(404, "Link not found", "This authorization link is not valid.")
        if link.used_at is not None:
            raise LinkUnavailable(
                410,
                "Link already used",
                "This authorization link has already been used. Ask the app for a new one.",
            )
        if self.now_in(session) >= link.expires_at:
            raise LinkUnavailable(
                410,
                "Link expired",
                "This authorization link has expired. Ask the app for a new one.",
            )
        account = session.account_by_id(link.account_id)
        connection = self.connection_for(account) if account else None
        if account is None or connection is None:
            raise LinkUnavailable(
                404, "Link not found", "The account this link was made for is gone."
            )
        return HostedLink(link, account, connection)

    def open_link(self, token: str) -> HostedLink:
        with self.store.read() as session:
            return self._live_link(session, token)

    def decide_link(
        self, token: str, decision: str | None, api_key: str | None, base_url: str
    ) -> LinkOutcome:
        with self.store.write() as session:
            hosted = self._live_link(session, token)
            account, connection, link = hosted.account, hosted.connection, hosted.link
            now = self.now_in(session)
            if not connection.is_oauth:
                key = (api_key or "").strip()
                if decision == "deny":
                    session.mark_link_used(token, now)
                    self._end_authorization(session, account, now)
                    return LinkOutcome("denied", account, connection)
                if not key:
                    return LinkOutcome("missing_api_key", account, connection)
                account.authorization_details = {"static_auth": {"details": {"api_key": key}}}
                account.token_expires_at = None
                account.status = ACTIVE
                account.updated_at = now
                session.save_account(account)
                session.mark_link_used(token, now)
                return LinkOutcome("connected", account, connection)
            session.mark_link_used(token, now)
            if decision != "allow":
                self._end_authorization(session, account, now)
                return LinkOutcome("denied", account, connection)
            tokens = self.new_oauth_token(connection)
            expires_at = now + self.settings.access_token_ttl
            if self.settings.user_verification == "dashboard":
                account.authorization_details = {"oauth_token": tokens}
                account.token_expires_at = expires_at
                account.access_token_revoked = False
                account.rotate_pending = False
                account.status = ACTIVE
                account.updated_at = now
                session.save_account(account)
                return LinkOutcome("connected", account, connection)
            # Custom verification: hold the tokens until the app confirms the user.
            request_id = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
            session.insert_auth_request(
                AuthRequestRecord(
                    id=request_id,
                    account_id=account.id,
                    identifier=account.identifier,
                    pending_details={"oauth_token": tokens},
                    token_expires_at=expires_at,
                    created_at=now,
                    expires_at=now + self.settings.link_ttl,
                )
            )
            account.status = PENDING_VERIFICATION
            account.updated_at = now
            session.save_account(account)
            if not link.user_verify_url:
                return LinkOutcome(
                    "verify_pending", account, connection, auth_request_id=request_id
                )
            params = [("auth_request_id", request_id)]
            if link.state is not None:
                params.append(("state", link.state))
            return LinkOutcome(
                "verify_redirect",
                account,
                connection,
                redirect_url=append_query(link.user_verify_url, params),
                auth_request_id=request_id,
            )

    @staticmethod
    def _end_authorization(session: StoreSession, account: AccountRecord, now: float) -> None:
        """Deny ends the authorization the link began, and that must be visible to the app
        waiting for it. The documented statuses name no "denied": of them, DISCONNECTED (an
        account a person ended; status_updated lists "any state to DISCONNECTED") is what an
        account without credentials becomes. An ACTIVE account being re-authorized keeps its
        working credentials: refusing a new consent does not revoke the old one."""
        if account.status == ACTIVE:
            return
        account.status = DISCONNECTED
        account.updated_at = now
        session.save_account(account)

    def verify_user(self, auth_request_id: Any, identifier: Any, base_url: str) -> str:
        if not isinstance(auth_request_id, str) or not auth_request_id:
            raise ApiError(INVALID_ARGUMENT, "auth_request_id is required")
        if not isinstance(identifier, str) or not identifier:
            raise ApiError(INVALID_ARGUMENT, "identifier is required")
        with self.store.write() as session:
            now = self.now_in(session)
            request = session.auth_request(auth_request_id)
            if request is None or request.used_at is not None or now >= request.expires_at:
                raise ApiError(
                    NOT_FOUND,
                    "no pending user verification for this auth_request_id",
                    "AUTH_REQUEST_NOT_FOUND",
                )
            if not hmac.compare_digest(identifier.encode(), request.identifier.encode()):
                raise ApiError(
                    PERMISSION_DENIED,
                    "identifier does not match the auth request",
                    "IDENTIFIER_MISMATCH",
                )
            account = session.account_by_id(request.account_id)
            if account is None:
                raise ApiError(
                    NOT_FOUND, "connected account not found", "CONNECTED_ACCOUNT_NOT_FOUND"
                )
            account.authorization_details = request.pending_details
            account.token_expires_at = request.token_expires_at
            account.access_token_revoked = False
            account.rotate_pending = False
            account.status = ACTIVE
            account.updated_at = now
            session.save_account(account)
            session.mark_auth_request_used(auth_request_id, now)
        return f"{self.link_base(base_url)}{VERIFIED_PAGE_PATH}"

    # --- admin: forced states -----------------------------------------------------------------

    def force_status(self, connector: str, identifier: str, status: str) -> AccountRecord:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        with self.store.write() as session:
            account = self._get(session, AccountKey(connector=connector, identifier=identifier))
            now = self.now_in(session)
            connection = self.connection_for(account)
            if (
                status == ACTIVE
                and connection is not None
                and connection.is_oauth
                and account.oauth_token is None
            ):
                # An OAuth account cannot be usable without tokens: mint them as consent would.
                account.authorization_details = {"oauth_token": self.new_oauth_token(connection)}
                account.token_expires_at = now + self.settings.access_token_ttl
            account.status = status
            account.updated_at = now
            session.save_account(account)
            return account

    def revoke_access_token(self, connector: str, identifier: str, rotate: bool) -> AccountRecord:
        with self.store.write() as session:
            account = self._get(session, AccountKey(connector=connector, identifier=identifier))
            if account.oauth_token is None and "static_auth" not in account.authorization_details:
                raise ValueError("the account holds no OAuth token to revoke")
            if account.oauth_token is None and rotate:
                raise ValueError("a static credential cannot be rotated, only revoked")
            # On a static credential: the provider no longer accepts the stored key.
            account.access_token_revoked = True
            account.rotate_pending = rotate
            session.save_account(account)
            return account

    # --- Gmail --------------------------------------------------------------------------------

    def gmail_account(self, access_token: str) -> AccountRecord | None:
        """The account whose current, live access token this is, if Gmail would accept it."""
        if not access_token:
            return None
        with self.store.read() as session:
            account = session.account_by_access_token(access_token)
            now = self.now_in(session)
        if account is None or account.status != ACTIVE or account.access_token_revoked:
            return None
        if account.token_expires_at is not None and now >= account.token_expires_at:
            return None
        connection = self.connection_for(account)
        if connection is None or connection.provider != "GOOGLE":
            return None
        return account

    def mailbox_for(self, account: AccountRecord) -> Mailbox:
        declared = self.app_data.get(account.id)
        if declared is not None and "messages" in declared:
            return seeded_mailbox(declared, mailbox_address(account.identifier))
        key = (account.identifier, account.created_at)
        with self._mailbox_lock:
            mailbox = self._mailboxes.get(key)
            if mailbox is None:
                if len(self._mailboxes) > 256:
                    self._mailboxes.clear()  # a crude bound; mailboxes are cheap to rebuild
                mailbox = Mailbox.generate(account.identifier, account.created_at)
                self._mailboxes[key] = mailbox
            return mailbox

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def _use_active(self, session: StoreSession, account: AccountRecord) -> float:
        """An account about to be used (a proxied call, a tool run): it must be ACTIVE; its
        token is refreshed when due and the use recorded. Returns the sandbox time."""
        if account.status != ACTIVE:
            raise ApiError(
                FAILED_PRECONDITION,
                f"connected account is {account.status}, not ACTIVE",
                "CONNECTED_ACCOUNT_NOT_ACTIVE",
            )
        now = self.now_in(session)
        self._refresh_if_due(account, now)
        _record_use(account, now)
        session.save_account(account)
        return now

    # --- proxy --------------------------------------------------------------------------------

    def account_for_proxy(self, connector: str, identifier: str) -> AccountRecord:
        """The account a proxied call runs as, with a fresh token, its use recorded."""
        with self.store.write() as session:
            account = self._get(session, AccountKey(connector=connector, identifier=identifier))
            self._use_active(session, account)
            return account

    def app_context(self, account: AccountRecord, now: float | None = None) -> ToolContext:
        """What the emulated apps act on for `account`: its tool calls and the proxy's
        provider faces (proxy_apps.py) read and write the one same state through it."""
        at = self.now() if now is None else now
        return ToolContext(
            account=account,
            now=datetime.fromtimestamp(at, tz=UTC),
            mailbox=lambda: self.mailbox_for(account),
            records=AppRecords(self.store, account.id, at),
            app_data=self.app_data.get(account.id),
        )

    # --- tools --------------------------------------------------------------------------------

    def _tool(self, name: str, connector: str | None = None) -> ToolSpec | None:
        """The tool of that name; of `connector` when two connections share an app."""
        named = [tool for tool in self.tools if tool.name == name]
        return next((tool for tool in named if tool.connector == connector), None) or next(
            iter(named), None
        )

    def list_tools(
        self,
        *,
        provider: str | None = None,
        connector: str | None = None,
        identifier: str | None = None,
        tool_names: list[str] | None = None,
        query: str | None = None,
        summary: bool = False,
        page_size: Any = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        size = parse_page_size(page_size, DEFAULT_TOOL_PAGE_SIZE, MAX_TOOL_PAGE_SIZE)
        offset = decode_page_token(page_token)
        connectors_with_account: set[str] | None = None
        if identifier:
            with self.store.read() as session:
                connectors_with_account = {
                    a.connector for a in session.accounts_with_identifier(identifier)
                }
        matching: list[tuple[ToolSpec, Connection]] = []
        for tool in self.tools:
            connection = self.settings.connection(tool.connector)
            if connection is None:
                continue
            if provider and connection.provider.casefold() != provider.casefold():
                continue
            if connector and tool.connector != connector:
                continue
            if tool_names and tool.name not in tool_names:
                continue
            if query and not _query_matches(query, f"{tool.name} {tool.description}"):
                continue
            if (
                connectors_with_account is not None
                and tool.connector not in connectors_with_account
            ):
                continue
            matching.append((tool, connection))
        page = matching[offset : offset + size]
        answer: dict[str, Any] = {}
        if summary:
            answer["tool_names"] = [tool.name for tool, _ in page]
        else:
            answer["tools"] = [tool_to_wire(tool, connection.provider) for tool, connection in page]
        answer["total_size"] = len(matching)
        if offset + size < len(matching):
            answer["next_page_token"] = encode_page_token(offset + size)
        if offset > 0:
            answer["prev_page_token"] = encode_page_token(max(0, offset - size))
        return answer

    def _page(self, items: list[Any], key: str, page_size: int, page_token: str) -> dict[str, Any]:
        size = parse_page_size(page_size, DEFAULT_TOOL_PAGE_SIZE, MAX_TOOL_PAGE_SIZE)
        return paging.page(items, key, size, page_token)

    def list_scoped_tools(
        self,
        identifier: str,
        *,
        providers: list[str],
        tool_names: list[str],
        connection_names: list[str],
        page_size: int = 0,
        page_token: str = "",
    ) -> dict[str, Any]:
        """`tools/scoped`: the tools already bound to `identifier` — those of the
        connections where it holds an ACTIVE connected account (what it may call now)."""
        with self.store.read() as session:
            accounts = [
                a for a in session.accounts_with_identifier(identifier) if a.status == ACTIVE
            ]
        wanted_providers = {p.casefold() for p in providers}
        scoped: list[dict[str, Any]] = []
        for account in accounts:
            connection = self.connection_for(account)
            if connection is None:
                continue
            if wanted_providers and connection.provider.casefold() not in wanted_providers:
                continue
            if connection_names and account.connector not in connection_names:
                continue
            for tool in self.tools:
                if tool.connector != account.connector:
                    continue
                if tool_names and tool.name not in tool_names:
                    continue
                scoped.append(
                    {
                        "tool": tool_to_wire(tool, connection.provider),
                        "identifier": identifier,
                        "connected_account_id": account.id,
                    }
                )
        return self._page(scoped, "tools", page_size, page_token)

    def list_available_tools(
        self, identifier: str, *, page_size: int = 0, page_token: str = ""
    ) -> dict[str, Any]:
        """`tools/available`: the candidate set for `identifier` — every tool of every
        connection of the environment, whether or not it holds an account there yet."""
        available = [
            tool_to_wire(tool, connection.provider)
            for tool in self.tools
            if (connection := self.settings.connection(tool.connector)) is not None
        ]
        return self._page(available, "tools", page_size, page_token)

    def search_tools(self, query: str, identifier: str, top_k: int) -> dict[str, Any]:
        """`tools:search`: the catalogue ranked by `query` (best first, ties by name), at most
        `top_k` (10 when 0, never above 50, as the field's description says). With an
        `identifier`, each tool lists that user's accounts on its connection and whether
        each can run it now."""
        ranked: list[tuple[float, ToolSpec, Connection]] = []
        for tool in self.tools:
            connection = self.settings.connection(tool.connector)
            if connection is None:
                continue
            score = search_score(tool, connection.provider, query)
            if score > 0:
                ranked.append((score, tool, connection))
        ranked.sort(key=lambda entry: (-entry[0], entry[1].name))
        ranked = ranked[: min(top_k or SEARCH_TOP_K_DEFAULT, SEARCH_TOP_K_MAX)]
        accounts: dict[str, list[AccountRecord]] = {}
        if identifier:
            with self.store.read() as session:
                for account in session.accounts_with_identifier(identifier):
                    accounts.setdefault(account.connector, []).append(account)
        found: list[dict[str, Any]] = []
        for score, tool, connection in ranked:
            entry: dict[str, Any] = {
                "name": tool.name,
                "provider": connection.provider,
                "description": tool.description,
                "score": score,
            }
            if identifier:
                entry["connections"] = [
                    {
                        "connection_name": account.connector,
                        "connected_account_id": account.id,
                        "readiness_state": _READINESS.get(
                            account.status, "TOOL_READINESS_STATE_NEEDS_CONNECTION"
                        ),
                    }
                    for account in accounts.get(tool.connector, [])
                ]
            found.append(entry)
        return {"tools": found}

    def list_app_connections(
        self, *, provider: str, query: str, page_size: int, page_token: str
    ) -> dict[str, Any]:
        """`connections/app`: the environment's connections, filtered by provider (exact,
        case aside) and by `query` (part of the name or provider)."""
        folded = query.casefold()
        matching = [
            connection
            for connection in self.settings.connections
            if (not provider or connection.provider.casefold() == provider.casefold())
            and (not folded or folded in f"{connection.name} {connection.provider}".casefold())
        ]
        size = parse_page_size(page_size, APP_CONNECTIONS_PAGE_MAX, APP_CONNECTIONS_PAGE_MAX)
        offset = decode_page_token(page_token or None)
        # The connections themselves: the operations layer writes them as the message says.
        answer: dict[str, Any] = {
            "connections": matching[offset : offset + size],
            "total_size": len(matching),
        }
        if offset + size < len(matching):
            answer["next_page_token"] = encode_page_token(offset + size)
        if offset > 0:
            answer["prev_page_token"] = encode_page_token(max(0, offset - size))
        return answer

    def execute_tool(self, request: Any) -> ToolResult:
        if not isinstance(request, dict):
            raise ApiError(INVALID_ARGUMENT, "the body must be a JSON object")
        tool_name = request.get("tool_name")
        if not isinstance(tool_name, str) or not tool_name:
            raise ApiError(INVALID_ARGUMENT, "tool_name is required")
        tool = self._tool(tool_name, request.get("connector") or None)
        if tool is None:
            raise ApiError(NOT_FOUND, f"tool {tool_name!r} not found", "TOOL_NOT_FOUND")
        params = request.get("params")
        if params is None:
            params = {}
        try:
            check_input(tool.input_schema, params)
        except ToolInputError as error:
            raise ApiError(INVALID_ARGUMENT, str(error), "INVALID_TOOL_INPUT") from error
        key = AccountKey.from_mapping(
            {
                "id": request.get("connected_account_id"),
                "connector": request.get("connector") or tool.connector,
                "identifier": request.get("identifier"),
                "organization_id": request.get("organization_id"),
                "user_id": request.get("user_id"),
            }
        )
        if not key.id and not key.identifier:
            raise ApiError(
                INVALID_ARGUMENT, "give connected_account_id, or connector and identifier"
            )
        if not key.id and key.connector != tool.connector:
            raise ApiError(
                INVALID_ARGUMENT, f"tool {tool.name} runs on connector {tool.connector!r}"
            )
        with self.store.write() as session:
            account = self._get(session, key)
            # By id alone: the tool of the account's connection, of those sharing the app.
            tool = self._tool(tool.name, account.connector) or tool
            if account.connector != tool.connector:
                raise ApiError(
                    INVALID_ARGUMENT, f"tool {tool.name} runs on connector {tool.connector!r}"
                )
            now = self._use_active(session, account)
        if account.status != ACTIVE:
            raise ApiError(
                FAILED_PRECONDITION,
                "the account's authorization has expired",
                "CONNECTED_ACCOUNT_NOT_ACTIVE",
            )
        if account.access_token_revoked:
            raise ApiError(
                INTERNAL,
                "tool execution failed: the provider rejected the stored credentials (401)",
                "TOOL_EXECUTION_FAILED",
            )
        try:
            data = tool.run(self.app_context(account, now), params)
        except ToolInputError as error:
            raise ApiError(INVALID_ARGUMENT, str(error), "INVALID_TOOL_INPUT") from error
        return ToolResult(data=data, execution_id=_random_digits(18))


def _key_fields(key: AccountKey) -> tuple[str | None, str | None, str | None, str | None]:
    return key.connector, key.identifier, key.organization_id, key.user_id


def _record_use(account: AccountRecord, now: float) -> None:
    """Move `last_used_at` at most once a minute: two reads in a row then show the same
    account (and a hot token loop does not rewrite the row on every read)."""
    if account.last_used_at is None or now - account.last_used_at >= LAST_USED_RESOLUTION:
        account.last_used_at = now


def _optional_object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(INVALID_ARGUMENT, f"{where} must be an object")
    return value


def sanitize_authorization_details(value: Any) -> dict[str, Any]:
    """Keep the fields `AuthorizationDetails` names; like the live service, drop the rest."""
    details = _optional_object(value, "authorization_details")
    clean: dict[str, Any] = {}
    oauth = details.get("oauth_token")
    if oauth is not None:
        oauth = _optional_object(oauth, "authorization_details.oauth_token")
        token: dict[str, Any] = {}
        for name in ("access_token", "refresh_token", "domain"):
            if oauth.get(name) is not None:
                if not isinstance(oauth[name], str):
                    raise ApiError(INVALID_ARGUMENT, f"oauth_token.{name} must be a string")
                token[name] = oauth[name]
        scopes = oauth.get("scopes")
        if scopes is not None:
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise ApiError(INVALID_ARGUMENT, "oauth_token.scopes must be a list of strings")
            token["scopes"] = scopes
        # An empty OauthToken names the kind of credential and holds none: the official
        # Node SDK's get-or-create sends one to make a PENDING_AUTH account.
        if token and not token.get("access_token"):
            raise ApiError(INVALID_ARGUMENT, "oauth_token.access_token is required")
        if token:
            clean["oauth_token"] = token
    static = details.get("static_auth")
    if static is not None:
        static = _optional_object(static, "authorization_details.static_auth")
        clean["static_auth"] = {
            "details": _optional_object(static.get("details"), "static_auth.details")
        }
    # Google domain-wide delegation and trusted-IdP credentials (AuthorizationDetails'
    # google_dwd and trusted_idp) are kept as given: the rule table has checked their types.
    for other in ("google_dwd", "trusted_idp"):
        if details.get(other) is not None:
            clean[other] = dict(_optional_object(details[other], f"authorization_details.{other}"))
    return clean
