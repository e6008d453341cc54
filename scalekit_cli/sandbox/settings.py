"""Sandbox settings and the connections it knows about (pure data; imports nothing heavy)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

GMAIL_SCOPES = [
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/userinfo.email",
]

USER_VERIFICATION_MODES = ("dashboard", "custom")

# A tool name as the catalogue spells them (`gmail_fetch_mails`, `c-myapp_fetch-docs`): what
# a seed file may declare, and what `sk sandbox snapshot` writes into one.
TOOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

# The apps the sandbox emulates; each default connection is backed by the one of its name.
APPS = ("gmail", "googlecalendar", "slack", "notion", "github", "exa")


@dataclass
class Connection:
    """One connection configured in the (pretend) dashboard."""

    name: str  # the connector, e.g. "gmail"
    provider: str  # e.g. "GOOGLE"
    authorization_type: str  # "OAUTH" or "API_KEY"
    scopes: list[str] = field(default_factory=list)
    # The emulated app behind it: one of APPS (its tools, its `/proxy` paths), or None for a
    # connection the sandbox holds accounts for but emulates no API of.
    app: str | None = None

    def __post_init__(self) -> None:
        if self.app is not None and self.app not in APPS:
            raise ValueError(f"app must be one of {APPS}, not {self.app!r}")

    @property
    def connection_id(self) -> str:
        # Stable across processes so ids seen by a client never change between runs.
        digits = int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 10**17
        return f"conn_{digits:017d}"

    @property
    def is_oauth(self) -> bool:
        return self.authorization_type == "OAUTH"


def default_connections() -> list[Connection]:
    return [
        Connection("gmail", "GOOGLE", "OAUTH", list(GMAIL_SCOPES), app="gmail"),
        Connection(
            "googlecalendar",
            "GOOGLE",
            "OAUTH",
            # read, and create events (googlecalendar_create_event)
            [
                "https://www.googleapis.com/auth/calendar.readonly",
                "https://www.googleapis.com/auth/calendar.events",
            ],
            app="googlecalendar",
        ),
        Connection(
            "slack", "SLACK", "OAUTH", ["chat:write", "channels:read", "users:read"], app="slack"
        ),
        Connection("notion", "NOTION", "OAUTH", [], app="notion"),
        Connection("github", "GITHUB", "OAUTH", ["repo", "read:user"], app="github"),
        Connection("exa", "EXA", "API_KEY", [], app="exa"),
    ]


@dataclass
class SandboxSettings:
    client_id: str = "skc_sandbox"
    client_secret: str = "sandbox-secret"
    user_verification: str = "dashboard"  # or "custom"
    state_path: Path | None = None  # None: in memory; else a SQLite file
    public_url: str | None = None  # base of magic links; None: the request's base URL
    access_token_ttl: int = 3600  # connected-account access tokens
    machine_token_ttl: int = 86399  # /oauth/token
    link_ttl: int = 600  # magic links
    connections: list[Connection] = field(default_factory=default_connections)

    def __post_init__(self) -> None:
        if self.user_verification not in USER_VERIFICATION_MODES:
            raise ValueError(
                f"user_verification must be one of {USER_VERIFICATION_MODES}, "
                f"not {self.user_verification!r}"
            )
        if self.state_path is not None:
            self.state_path = Path(self.state_path)

    def connection(self, name: str) -> Connection | None:
        # An index, rebuilt when the list is replaced or grows: benchmarks configure
        # thousands of connections and every account on a page looks its own up.
        index = self.__dict__.get("_connection_index")
        if index is None or index[0] is not self.connections or index[1] != len(self.connections):
            by_name: dict[str, Connection] = {}
            for connection in self.connections:
                by_name.setdefault(connection.name, connection)
            index = (self.connections, len(self.connections), by_name)
            self.__dict__["_connection_index"] = index
        return index[2].get(name)


def default_state_path() -> Path:
    """`sandbox.sqlite3` in the user data directory of `sk` (`SK_DATA_DIR` overrides it)."""
    from ..scalekit.paths import data_dir

    return data_dir() / "sandbox.sqlite3"
