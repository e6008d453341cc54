"""The sandbox's state over stdlib sqlite3.

In memory (`path=None`): one connection shared by every thread under a lock.
On disk: WAL mode, a busy timeout and `BEGIN IMMEDIATE` for every write, so two processes
(`sk sandbox serve` and an embedded CLI, say) can use one file at the same time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    connector TEXT NOT NULL,
    identifier TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    authorization_details TEXT NOT NULL DEFAULT '{}',
    api_config TEXT NOT NULL DEFAULT '{}',
    access_token TEXT,
    token_expires_at REAL,
    access_token_revoked INTEGER NOT NULL DEFAULT 0,
    rotate_pending INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_used_at REAL,
    UNIQUE (connector, identifier, organization_id, user_id)
);
CREATE INDEX IF NOT EXISTS accounts_by_access_token ON accounts (access_token);
CREATE TABLE IF NOT EXISTS links (
    token TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL,
    state TEXT,
    user_verify_url TEXT
);
CREATE TABLE IF NOT EXISTS auth_requests (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    pending_details TEXT NOT NULL,
    token_expires_at REAL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS machine_tokens (
    token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS mcp_configs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    mappings TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS custom_providers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    identifier TEXT NOT NULL UNIQUE,
    fields TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
-- What tools did in a connected app (a created calendar event, a posted Slack message), per
-- account, in order: later tool calls of that account read them back.
CREATE TABLE IF NOT EXISTS app_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS app_records_by_account ON app_records (account_id, kind, seq);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Small records kept whole as JSON, by kind ("mcp_instance", "mcp"), in creation order.
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, id)
);
"""

_TABLES = (
    "accounts",
    "links",
    "auth_requests",
    "machine_tokens",
    "mcp_configs",
    "custom_providers",
    "app_records",
    "meta",
    "documents",
)


@dataclass
class AccountRecord:
    id: str
    connector: str
    identifier: str
    status: str
    created_at: float
    updated_at: float
    organization_id: str = ""
    user_id: str = ""
    authorization_details: dict[str, Any] = field(default_factory=dict)
    api_config: dict[str, Any] = field(default_factory=dict)
    token_expires_at: float | None = None
    access_token_revoked: bool = False
    rotate_pending: bool = False
    last_used_at: float | None = None

    @property
    def oauth_token(self) -> dict[str, Any] | None:
        token = self.authorization_details.get("oauth_token")
        return token if isinstance(token, dict) else None

    @property
    def access_token(self) -> str | None:
        token = self.oauth_token
        value = token.get("access_token") if token else None
        return value if isinstance(value, str) and value else None


@dataclass
class LinkRecord:
    token: str
    account_id: str
    created_at: float
    expires_at: float
    used_at: float | None = None
    state: str | None = None
    user_verify_url: str | None = None


@dataclass
class AuthRequestRecord:
    id: str
    account_id: str
    identifier: str
    pending_details: dict[str, Any]
    token_expires_at: float | None
    created_at: float
    expires_at: float
    used_at: float | None = None


@dataclass
class McpConfigRecord:
    id: str
    name: str
    created_at: float
    updated_at: float
    description: str = ""
    # [{"connection_name": ..., "tools": [...]}]: what the caller mapped; the rest is derived.
    mappings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProviderRecord:
    id: str
    identifier: str
    created_at: float
    updated_at: float
    # The CreateCustomProvider fields as given (display_name, auth_patterns, proxy_url, ...).
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class AccountFilter:
    """Conditions of a list call; every field set narrows the result (AND)."""

    connectors: Sequence[str] | None = None
    identifier: str | None = None
    organization_id: str | None = None
    user_id: str | None = None
    text: str | None = None  # case-insensitive substring of identifier or connector
    # With `text`: connectors that match it through their provider (a search matches those).
    text_connectors: Sequence[str] = ()


def _account_from_row(row: sqlite3.Row) -> AccountRecord:
    return AccountRecord(
        id=row["id"],
        connector=row["connector"],
        identifier=row["identifier"],
        organization_id=row["organization_id"],
        user_id=row["user_id"],
        status=row["status"],
        authorization_details=json.loads(row["authorization_details"]),
        api_config=json.loads(row["api_config"]),
        token_expires_at=row["token_expires_at"],
        access_token_revoked=bool(row["access_token_revoked"]),
        rotate_pending=bool(row["rotate_pending"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_used_at=row["last_used_at"],
    )


def _mcp_config_from_row(row: sqlite3.Row) -> McpConfigRecord:
    return McpConfigRecord(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        mappings=json.loads(row["mappings"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _account_columns(account: AccountRecord) -> dict[str, Any]:
    return {
        "id": account.id,
        "connector": account.connector,
        "identifier": account.identifier,
        "organization_id": account.organization_id,
        "user_id": account.user_id,
        "status": account.status,
        "authorization_details": json.dumps(account.authorization_details),
        "api_config": json.dumps(account.api_config),
        "access_token": account.access_token,
        "token_expires_at": account.token_expires_at,
        "access_token_revoked": int(account.access_token_revoked),
        "rotate_pending": int(account.rotate_pending),
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "last_used_at": account.last_used_at,
    }


class StoreSession:
    """Typed queries inside one transaction; obtained from `Store.read()` / `Store.write()`."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    # --- accounts -------------------------------------------------------------------------

    def insert_account(self, account: AccountRecord) -> None:
        columns = _account_columns(account)
        names = ", ".join(columns)
        marks = ", ".join(f":{name}" for name in columns)
        self._db.execute(f"INSERT INTO accounts ({names}) VALUES ({marks})", columns)

    def save_account(self, account: AccountRecord) -> None:
        columns = _account_columns(account)
        assignments = ", ".join(f"{name} = :{name}" for name in columns if name != "id")
        self._db.execute(f"UPDATE accounts SET {assignments} WHERE id = :id", columns)

    def delete_account(self, account_id: str) -> None:
        self._db.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
        self._db.execute("DELETE FROM links WHERE account_id = ?", (account_id,))
        self._db.execute("DELETE FROM auth_requests WHERE account_id = ?", (account_id,))
        self._db.execute("DELETE FROM app_records WHERE account_id = ?", (account_id,))

    def account_by_id(self, account_id: str) -> AccountRecord | None:
        row = self._db.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return _account_from_row(row) if row else None

    def account_by_key(
        self,
        connector: str,
        identifier: str,
        organization_id: str | None = None,
        user_id: str | None = None,
    ) -> AccountRecord | None:
        """The account for connector + identifier; org and user narrow it only when given."""
        sql = "SELECT * FROM accounts WHERE connector = ? AND identifier = ?"
        params: list[Any] = [connector, identifier]
        if organization_id:
            sql += " AND organization_id = ?"
            params.append(organization_id)
        if user_id:
            sql += " AND user_id = ?"
            params.append(user_id)
        row = self._db.execute(sql + " ORDER BY seq LIMIT 1", params).fetchone()
        return _account_from_row(row) if row else None

    def account_exact(
        self, connector: str, identifier: str, organization_id: str, user_id: str
    ) -> AccountRecord | None:
        row = self._db.execute(
            "SELECT * FROM accounts WHERE connector = ? AND identifier = ?"
            " AND organization_id = ? AND user_id = ?",
            (connector, identifier, organization_id, user_id),
        ).fetchone()
        return _account_from_row(row) if row else None

    def account_by_access_token(self, access_token: str) -> AccountRecord | None:
        row = self._db.execute(
            "SELECT * FROM accounts WHERE access_token = ? LIMIT 1", (access_token,)
        ).fetchone()
        return _account_from_row(row) if row else None

    def accounts_with_static_auth(self) -> list[AccountRecord]:
        """The accounts holding static credentials (an API key, a username and password, …):
        the provider faces find the account a static credential belongs to among them."""
        rows = self._db.execute(
            "SELECT * FROM accounts WHERE access_token IS NULL"
            " AND json_extract(authorization_details, '$.static_auth') IS NOT NULL ORDER BY seq"
        ).fetchall()
        return [_account_from_row(row) for row in rows]

    def accounts_with_identifier(self, identifier: str) -> list[AccountRecord]:
        rows = self._db.execute(
            "SELECT * FROM accounts WHERE identifier = ? ORDER BY seq", (identifier,)
        ).fetchall()
        return [_account_from_row(row) for row in rows]

    def list_accounts(
        self, where: AccountFilter, offset: int, limit: int
    ) -> tuple[list[AccountRecord], int]:
        clauses: list[str] = []
        params: list[Any] = []
        if where.connectors is not None:
            if not where.connectors:
                return [], 0
            clauses.append(f"connector IN ({', '.join('?' * len(where.connectors))})")
            params.extend(where.connectors)
        for column, value in (
            ("identifier", where.identifier),
            ("organization_id", where.organization_id),
            ("user_id", where.user_id),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.text:
            by_provider = ""
            if where.text_connectors:
                by_provider = f" OR connector IN ({', '.join('?' * len(where.text_connectors))})"
            clauses.append(
                "(instr(casefold(identifier), ?) > 0 OR instr(casefold(connector), ?) > 0"
                f"{by_provider})"
            )
            folded = where.text.casefold()
            params.extend([folded, folded, *where.text_connectors])
        condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        total = self._db.execute(f"SELECT COUNT(*) FROM accounts{condition}", params).fetchone()[0]
        rows = self._db.execute(
            f"SELECT * FROM accounts{condition} ORDER BY seq LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [_account_from_row(row) for row in rows], total

    # --- magic links and verification requests ----------------------------------------------

    def insert_link(self, link: LinkRecord) -> None:
        self._db.execute(
            "INSERT INTO links (token, account_id, created_at, expires_at, used_at, state,"
            " user_verify_url) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                link.token,
                link.account_id,
                link.created_at,
                link.expires_at,
                link.used_at,
                link.state,
                link.user_verify_url,
            ),
        )

    def link(self, token: str) -> LinkRecord | None:
        row = self._db.execute("SELECT * FROM links WHERE token = ?", (token,)).fetchone()
        return LinkRecord(**dict(row)) if row else None

    def mark_link_used(self, token: str, when: float) -> None:
        self._db.execute("UPDATE links SET used_at = ? WHERE token = ?", (when, token))

    def insert_auth_request(self, request: AuthRequestRecord) -> None:
        self._db.execute(
            "INSERT INTO auth_requests (id, account_id, identifier, pending_details,"
            " token_expires_at, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request.id,
                request.account_id,
                request.identifier,
                json.dumps(request.pending_details),
                request.token_expires_at,
                request.created_at,
                request.expires_at,
                request.used_at,
            ),
        )

    def auth_request(self, request_id: str) -> AuthRequestRecord | None:
        row = self._db.execute("SELECT * FROM auth_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            return None
        values = dict(row)
        values["pending_details"] = json.loads(values["pending_details"])
        return AuthRequestRecord(**values)

    def mark_auth_request_used(self, request_id: str, when: float) -> None:
        self._db.execute("UPDATE auth_requests SET used_at = ? WHERE id = ?", (when, request_id))

    # --- MCP configurations and custom providers ---------------------------------------------

    def insert_mcp_config(self, config: McpConfigRecord) -> None:
        self._db.execute(
            "INSERT INTO mcp_configs (id, name, description, mappings, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                config.id,
                config.name,
                config.description,
                json.dumps(config.mappings),
                config.created_at,
                config.updated_at,
            ),
        )

    def save_mcp_config(self, config: McpConfigRecord) -> None:
        self._db.execute(
            "UPDATE mcp_configs SET description = ?, mappings = ?, updated_at = ? WHERE id = ?",
            (config.description, json.dumps(config.mappings), config.updated_at, config.id),
        )

    def delete_mcp_config(self, config_id: str) -> None:
        self._db.execute("DELETE FROM mcp_configs WHERE id = ?", (config_id,))

    def mcp_config(self, config_id: str) -> McpConfigRecord | None:
        row = self._db.execute("SELECT * FROM mcp_configs WHERE id = ?", (config_id,)).fetchone()
        return _mcp_config_from_row(row) if row else None

    def mcp_config_named(self, name: str) -> McpConfigRecord | None:
        row = self._db.execute(
            "SELECT * FROM mcp_configs WHERE casefold(name) = ?", (name.casefold(),)
        ).fetchone()
        return _mcp_config_from_row(row) if row else None

    def mcp_configs(self) -> list[McpConfigRecord]:
        rows = self._db.execute("SELECT * FROM mcp_configs ORDER BY seq").fetchall()
        return [_mcp_config_from_row(row) for row in rows]

    def insert_provider(self, provider: ProviderRecord) -> None:
        self._db.execute(
            "INSERT INTO custom_providers (id, identifier, fields, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                provider.id,
                provider.identifier,
                json.dumps(provider.fields),
                provider.created_at,
                provider.updated_at,
            ),
        )

    def save_provider(self, provider: ProviderRecord) -> None:
        self._db.execute(
            "UPDATE custom_providers SET fields = ?, updated_at = ? WHERE identifier = ?",
            (json.dumps(provider.fields), provider.updated_at, provider.identifier),
        )

    def delete_provider(self, identifier: str) -> None:
        self._db.execute("DELETE FROM custom_providers WHERE identifier = ?", (identifier,))

    def provider(self, identifier: str) -> ProviderRecord | None:
        row = self._db.execute(
            "SELECT * FROM custom_providers WHERE identifier = ?", (identifier,)
        ).fetchone()
        if row is None:
            return None
        values = dict(row)
        values.pop("seq")
        values["fields"] = json.loads(values["fields"])
        return ProviderRecord(**values)

    def providers(self) -> list[ProviderRecord]:
        rows = self._db.execute("SELECT * FROM custom_providers ORDER BY seq").fetchall()
        return [p for row in rows if (p := self.provider(row["identifier"])) is not None]

    # --- documents: small records kept whole (MCP instances, MCP definitions) ---------------

    def put_document(self, kind: str, document_id: str, body: dict[str, Any]) -> None:
        """Insert, or replace the body in place (the record keeps its place in the order)."""
        self._db.execute(
            "INSERT INTO documents (kind, id, body) VALUES (?, ?, ?)"
            " ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
            (kind, document_id, json.dumps(body)),
        )

    def document(self, kind: str, document_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT body FROM documents WHERE kind = ? AND id = ?", (kind, document_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def documents(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT body FROM documents WHERE kind = ? ORDER BY seq", (kind,)
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def delete_document(self, kind: str, document_id: str) -> None:
        self._db.execute("DELETE FROM documents WHERE kind = ? AND id = ?", (kind, document_id))

    # --- machine tokens -----------------------------------------------------------------------

    def insert_machine_token(
        self, token: str, client_id: str, issued_at: float, expires_at: float
    ) -> None:
        self._db.execute(
            "INSERT INTO machine_tokens (token, client_id, issued_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (token, client_id, issued_at, expires_at),
        )

    def machine_token_expiry(self, token: str) -> float | None:
        """When a live (unrevoked) machine token expires; None if unknown or revoked."""
        row = self._db.execute(
            "SELECT expires_at FROM machine_tokens WHERE token = ? AND revoked = 0", (token,)
        ).fetchone()
        return row[0] if row else None

    def machine_tokens(self) -> list[str]:
        """Every machine token issued (the request log keeps fingerprints of them only)."""
        return [row[0] for row in self._db.execute("SELECT token FROM machine_tokens")]

    def revoke_machine_tokens(self) -> int:
        return self._db.execute("UPDATE machine_tokens SET revoked = 1 WHERE revoked = 0").rowcount

    # --- what tools did in the connected apps ------------------------------------------------

    def app_records(self, account_id: str, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT body FROM app_records WHERE account_id = ? AND kind = ? ORDER BY seq",
            (account_id, kind),
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def insert_app_record(
        self, account_id: str, kind: str, body: dict[str, Any], created_at: float
    ) -> None:
        self._db.execute(
            "INSERT INTO app_records (account_id, kind, body, created_at) VALUES (?, ?, ?, ?)",
            (account_id, kind, json.dumps(body), created_at),
        )

    # --- small key/value facts (the clock offset) ---------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def clear(self) -> None:
        for table in _TABLES:
            self._db.execute(f"DELETE FROM {table}")


class AppRecords:
    """One account's records of one store, for the tool executors: `append` reads what is
    there and adds one more in a single transaction (a new record may depend on the last)."""

    def __init__(self, store: Store, account_id: str, now: float) -> None:
        self._store = store
        self._account_id = account_id
        self._now = now

    def list(self, kind: str) -> list[dict[str, Any]]:
        with self._store.read() as session:
            return session.app_records(self._account_id, kind)

    def append(
        self, kind: str, build: Callable[[list[dict[str, Any]]], dict[str, Any]]
    ) -> dict[str, Any]:
        with self._store.write() as session:
            body = build(session.app_records(self._account_id, kind))
            session.insert_app_record(self._account_id, kind, body, self._now)
            return body


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        # One connection per Store; the lock serialises this process's threads on it, and
        # SQLite's own file locks (with the busy timeout) serialise processes.
        self._lock = threading.RLock()
        if self.path is None:
            self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                # The file holds (sandbox) credentials: create it private. SQLite gives its
                # -wal and -shm files the same mode.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.row_factory = sqlite3.Row
        self._db.create_function("casefold", 1, _casefold, deterministic=True)
        self._create_schema()

    def _create_schema(self) -> None:
        with self._lock:
            # executescript commits on its own, so it runs outside an explicit transaction;
            # every statement is IF NOT EXISTS, so two processes racing here is harmless.
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    @contextmanager
    def read(self) -> Iterator[StoreSession]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield StoreSession(self._db)
            finally:
                self._db.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[StoreSession]:
        with self._lock:
            # IMMEDIATE takes the write lock up front: a deferred transaction that later
            # upgrades can fail with SQLITE_BUSY at once instead of waiting out the timeout.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield StoreSession(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def clear(self) -> None:
        with self.write() as session:
            session.clear()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _casefold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


def reset_state(path: Path) -> None:
    """Empty the state file at `path` (creating it if missing); other processes may hold it."""
    store = Store(Path(path))
    try:
        store.clear()
    finally:
        store.close()
