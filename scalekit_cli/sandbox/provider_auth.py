"""The credentials of a proxied call, both ends: what `/proxy` sends the provider for an
account (its OAuth access token, or its static credentials as the connection's authorization
type says), and how an emulated provider face finds the account a credential it receives
belongs to — or refuses it, as the real provider would.

Static credentials live in `authorization_details.static_auth.details`, a free object. The
field names are the official SDK's (`AuthField.field_name`): `api_key` for API_KEY, `token`
or `bearer_token` for BEARER, `username` and `password` for basic authentication. The
contract names no header for them; the SDK says a static credential goes in the
`Authorization` header unless a connector overrides it, so the sandbox sends
`Authorization: Bearer <key or token>` and `Authorization: Basic <username:password>`.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .engine import ACTIVE
from .errors import FAILED_PRECONDITION, ApiError
from .store import AccountRecord

if TYPE_CHECKING:
    from .engine import SandboxEngine
    from .settings import Connection

BASIC_TYPES = ("BASIC_AUTH", "BASIC")
# BEARER is the custom-provider auth pattern's spelling of BEARER_TOKEN.
BEARER_TYPES = ("BEARER_TOKEN", "BEARER")
BEARER_FIELDS = ("token", "bearer_token")
# The ASGI scope key of a call `/proxy` forwards: the id of the account it is made as.
PROXIED_ACCOUNT = "sk.proxied_account"


def _text(details: dict[str, Any], name: str) -> str | None:
    value = details.get(name)
    return value if isinstance(value, str) and value else None


def static_authorization(authorization_type: str, details: dict[str, Any]) -> str | None:
    """The `Authorization` header value for static credentials of this type; None when the
    fields the type needs are missing or empty."""
    basic = None
    username, password = _text(details, "username"), details.get("password")
    if username and isinstance(password, str) and password and ":" not in username:
        basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    if authorization_type in BASIC_TYPES:
        return basic
    if authorization_type == "API_KEY":
        fields: tuple[str, ...] = ("api_key",)
    elif authorization_type in BEARER_TYPES:
        fields = BEARER_FIELDS
    else:  # CUSTOM and the rest name no fields: use whichever kind the account holds
        fields = ("api_key", *BEARER_FIELDS)
    for name in fields:
        value = _text(details, name)
        if value is not None:
            return f"Bearer {value}"
    return basic if authorization_type not in ("API_KEY", *BEARER_TYPES) else None


def _static_details(account: AccountRecord) -> dict[str, Any] | None:
    static = account.authorization_details.get("static_auth")
    details = static.get("details") if isinstance(static, dict) else None
    return details if isinstance(details, dict) else None


def outgoing_authorization(connection: Connection, account: AccountRecord) -> str:
    """The `Authorization` header `/proxy` sends the provider as `account`; ApiError
    (FAILED_PRECONDITION, 400) when the account holds no credential it could send."""
    if account.oauth_token is not None:
        token = account.access_token
        if token is None:
            raise ApiError(FAILED_PRECONDITION, "the account holds no access token")
        return f"Bearer {token}"
    details = _static_details(account)
    header = static_authorization(connection.authorization_type, details or {})
    if header is None:
        needed = {
            "API_KEY": "api_key",
            "BEARER_TOKEN": "token",
            "BEARER": "token",
            "BASIC_AUTH": "username and password",
            "BASIC": "username and password",
        }.get(connection.authorization_type, "credentials")
        raise ApiError(
            FAILED_PRECONDITION,
            f"the account holds no {needed} in authorization_details.static_auth for its "
            f"{connection.authorization_type} connection {connection.name!r}",
            "CONNECTED_ACCOUNT_CREDENTIALS_MISSING",
        )
    return header


class Unauthenticated(Exception):
    """A provider face refuses the call: no credential (`missing`), or one it does not
    accept (unknown, expired, revoked, or of an account that is not ACTIVE)."""

    def __init__(self, missing: bool, revoked: bool = False) -> None:
        super().__init__("missing" if missing else "revoked" if revoked else "invalid")
        self.missing = missing
        self.revoked = revoked


def header_text(value: str) -> str:
    """A header value as sent: values travel as Latin-1 bytes, so UTF-8 text is decoded back."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _normalized(authorization: str) -> str:
    # GitHub's `token X` is its spelling of `Bearer X`; schemes are case-insensitive.
    scheme, _, value = authorization.strip().partition(" ")
    scheme = "bearer" if scheme.lower() in ("bearer", "token") else scheme.lower()
    return f"{scheme} {value.strip()}"


def provider_account(
    engine: SandboxEngine,
    app: str,
    authorization: str | None,
    scope: Mapping[str, Any] | None = None,
) -> AccountRecord:
    """The account of `app` whose live credential `authorization` carries, as the emulated
    provider authenticates a call (proxied or direct); raises Unauthenticated. Two accounts
    may hold the same credential (a seed's, an API key stored twice): a call `/proxy` makes
    (its `scope`, PROXIED_ACCOUNT) is the account it was made as, when that one holds it."""
    if not authorization or not authorization.strip():
        raise Unauthenticated(missing=True)
    presented = _normalized(header_text(authorization))
    scheme, _, value = presented.partition(" ")
    proxied = scope.get(PROXIED_ACCOUNT) if scope is not None else None
    with engine.store.read() as session:
        now = engine.now_in(session)
        account = session.account_by_id(proxied) if isinstance(proxied, str) else None
        if account is None or not _holds(engine, account, app, presented):
            account = session.account_by_access_token(value) if scheme == "bearer" else None
        if account is None or not _holds(engine, account, app, presented):
            owners = session.accounts_with_static_auth()
            account = next((a for a in owners if _holds(engine, a, app, presented)), None)
    if account is None:
        raise Unauthenticated(missing=False)
    if account.access_token_revoked:
        raise Unauthenticated(missing=False, revoked=True)
    lapsed = account.token_expires_at is not None and now >= account.token_expires_at
    if account.status != ACTIVE or (account.oauth_token is not None and lapsed):
        raise Unauthenticated(missing=False)
    return account


def _holds(engine: SandboxEngine, account: AccountRecord, app: str, presented: str) -> bool:
    """Whether `account`, of a connection backed by `app`, holds the presented credential
    (compared in constant time)."""
    connection = engine.connection_for(account)
    if connection is None or connection.app != app:
        return False
    if account.oauth_token is not None:
        token = account.access_token
        header = f"Bearer {token}" if token else None
    else:
        header = static_authorization(connection.authorization_type, _static_details(account) or {})
    return header is not None and hmac.compare_digest(
        _normalized(header).encode(), presented.encode()
    )
