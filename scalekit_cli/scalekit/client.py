"""The AgentKit REST client: machine auth, connected accounts, links, tools.

Paths, fields and status codes follow `agentkit.openapi.json`; request bodies carry only
fields the schema names (the live service drops unknown fields silently).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from . import limits
from .errors import (
    AlreadyExists,
    ApiError,
    CredentialsRejected,
    FailedPrecondition,
    InvalidResponse,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from .http import HttpSession, Response, retry_after_seconds
from .models import (
    AccountPage,
    AppConnection,
    ConnectedAccount,
    MagicLink,
    SearchedTool,
    ShapeError,
    Tool,
    ToolResult,
    json_document,
    json_object,
    load_json,
    objects,
    text_field,
)
from .secrets import SecretRegistry
from .token_cache import TokenCache

ACCOUNTS = "/api/v1/connected_accounts"
# RFC 6750's b64token: what a bearer token may hold to travel in an Authorization header.
BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_ACCOUNTS_SERVICE = "scalekit.v1.connected_accounts.ConnectedAccountService"
_TOOLS_SERVICE = "scalekit.v1.tools.ToolService"
LIST_ACCOUNTS = f"{_ACCOUNTS_SERVICE}/ListConnectedAccounts"
LIST_TOOLS = f"{_TOOLS_SERVICE}/ListTools"
# ListTools' page_size has no field rule; the sandbox, like the document's examples, caps 100.
_TOOLS_PAGE_SIZE = 100
LIST_APP_CONNECTIONS = "scalekit.v1.connections.ConnectionService/ListAppConnections"
# ListAppConnections' page_size rule is `lte: 30`.
_APP_CONNECTIONS_PAGE_SIZE = 30


T = TypeVar("T")


def unexpected_answer(response: Response, problem: str) -> InvalidResponse:
    """A 2xx answer that is JSON, but not the documented JSON."""
    request = response.request
    return InvalidResponse(
        f"unexpected answer from {response.host} to {request.method} {request.path}: {problem}",
        status=response.status_code,
        host=response.host,
    )


def read_answer(response: Response, parse: Callable[[Any], T]) -> T:
    """The answer's JSON through `parse` (a model's reader); its shape errors become
    InvalidResponse naming the request. An empty body is an empty message."""
    data = decode_json(response) if response.content else {}
    try:
        return parse(data)
    except ShapeError as error:
        raise unexpected_answer(response, str(error)) from None


def decode_json(response: Response) -> Any:
    try:
        return load_json(response.content)
    except ShapeError as error:
        raise unexpected_answer(response, str(error)) from None
    except (ValueError, UnicodeDecodeError):
        kind = response.headers.get("content-type", "").split(";")[0] or "an unknown type"
        raise InvalidResponse(
            f"{response.host} answered HTTP {response.status_code} with {kind}, not JSON",
            status=response.status_code,
            host=response.host,
        ) from None


def api_error(response: Response) -> ApiError:
    """The typed error for a non-2xx gateway answer."""
    try:
        body = load_json(response.content)
    except (ValueError, UnicodeDecodeError):  # ShapeError (too deep) included
        body = None
    code: int | None = None
    message = ""
    error_code = ""
    violations = 0
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), int) else None
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        details = body.get("details")
        if isinstance(details, list):
            for detail in details:
                if isinstance(detail, dict) and isinstance(detail.get("error_code"), str):
                    error_code = detail["error_code"]
                    break
            violations = _field_violations(details)
    status = response.status_code
    if not message:
        message = f"HTTP {status} from {response.host}"
    wait = retry_after_seconds(response) if status == 429 else None
    if wait is not None:
        message += f" (the server asks to retry after {wait:.0f} s)"
    kinds: dict[int, type[ApiError]] = {404: NotFound, 409: AlreadyExists, 403: PermissionDenied}
    kind = kinds.get(status, ApiError)
    if status == 400 and code == 9:
        kind = FailedPrecondition
    elif status == 401:
        kind = Unauthenticated
    return kind(
        message,
        status=status,
        code=code,
        error_code=error_code,
        method=response.request.method,
        path=response.request.path,
        field_violations=violations,
    )


def _field_violations(details: list[Any]) -> int:
    """How many broken field rules an ErrorInfo detail lists (validation_error_info)."""
    for detail in details:
        info = detail.get("validation_error_info") if isinstance(detail, dict) else None
        found = info.get("field_violations") if isinstance(info, dict) else None
        if isinstance(found, list):
            return len(found)
    return 0


def _execute_tool_body(
    tool_name: str,
    params: dict[str, Any],
    connector: str | None,
    identifier: str | None,
    connected_account_id: str | None,
) -> dict[str, Any]:
    """ExecuteTool's body: the account by its id, else by connector and identifier."""
    body: dict[str, Any] = {"tool_name": tool_name, "params": params}
    if connected_account_id:
        body["connected_account_id"] = connected_account_id
    else:
        body["connector"] = connector
        body["identifier"] = identifier
    return body


class ScalekitClient:
    """A client for one environment and one set of client credentials."""

    def __init__(
        self,
        env_url: str,
        client_id: str,
        client_secret: str,
        *,
        session: HttpSession,
        secrets: SecretRegistry | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.env_url = env_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.session = session
        self.secrets = secrets if secrets is not None else SecretRegistry()
        self.secrets.add(client_secret, credential=True)
        self.token_cache = token_cache
        self._machine_token: str | None = None
        # Parallel MCP calls share this client: forgetting a refused token (memory and cache)
        # and taking up its successor must not interleave, or a call picks up the refused
        # token from the cache between the two and fails its one retry.
        self._machine_token_lock = threading.Lock()

    # -- machine auth -----------------------------------------------------------------------

    def machine_token(self) -> str:
        """The cached machine token, or a new one (fetched once, under the cache's lock)."""
        with self._machine_token_lock:
            if self._machine_token:
                return self._machine_token
            if self.token_cache is not None:
                cached = self.token_cache.load()
                if cached is None:
                    with self.token_cache.fetch_lock():
                        # Another process may have fetched it while we waited for the lock.
                        cached = self.token_cache.load()
                        if cached is None:
                            return self._fetch_machine_token()
                self.secrets.add(cached.access_token, credential=True)
                self._machine_token = cached.access_token
                return cached.access_token
            return self._fetch_machine_token()

    def _fetch_machine_token(self) -> str:
        response = self.session.send(
            "POST",
            f"{self.env_url}/oauth/token",
            idempotent=True,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            },
        )
        if response.status_code in (400, 401, 403):
            body = _json_or_empty(response)
            oauth_error = body.get("error", "") if isinstance(body.get("error"), str) else ""
            description = body.get("error_description")
            reason = description if isinstance(description, str) and description else oauth_error
            raise CredentialsRejected(
                f"{response.host} rejected the client credentials"
                + (f": {reason}" if reason else f" (HTTP {response.status_code})"),
                oauth_error=oauth_error,
                status=response.status_code,
            )
        if not response.is_success:
            raise api_error(response)
        body = decode_json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise unexpected_answer(response, "it has no access_token")
        if not BEARER_TOKEN.fullmatch(token):
            # Refused before it is cached: it could never be sent, and would fail every run.
            raise unexpected_answer(response, "it carries a malformed access_token")
        self.secrets.add(token, credential=True)
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._machine_token = token
        if self.token_cache is not None:
            self.token_cache.store(token, lifetime)
        return token

    def _forget_machine_token(self, rejected: str) -> None:
        """`rejected` was refused: forget it, unless another thread (parallel MCP calls) has
        already replaced it — forgetting its successor would make each call fetch anew."""
        with self._machine_token_lock:
            if self._machine_token not in (None, rejected):
                return
            self._machine_token = None
            if self.token_cache is not None:
                cached = self.token_cache.load()
                if cached is None or cached.access_token == rejected:
                    self.token_cache.clear()

    # -- the API call every method goes through ---------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        rpc: str,
        params: Any = None,
        body: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200,),
        parse: Callable[[dict[str, Any]], Any] = dict,
    ) -> Any:
        """One API call of `rpc` (the service checks its field rules: a breach is ApiError 400,
        code 3); a 401 renews the machine token once, transparently. The
        answer's JSON object goes through `parse` (a model's reader: a wrong shape is
        InvalidResponse)."""
        for renewed in (False, True):
            token = self.machine_token()
            response = self.session.send(
                method,
                f"{self.env_url}{path}",
                idempotent=idempotent,
                params=params,
                json=body,
                headers={"authorization": f"Bearer {token}"},
            )
            if response.status_code == 401 and not renewed:
                self._forget_machine_token(token)
                continue
            break
        if response.status_code not in expect:
            raise api_error(response)

        def parse_object(data: Any) -> Any:
            document = json_document(data)
            self.secrets.add_from(document)
            return parse(document)

        return read_answer(response, parse_object)

    # -- the proxy ----------------------------------------------------------------------------

    def proxy(
        self,
        method: str,
        path: str,
        *,
        connector: str,
        identifier: str,
        content: bytes | None = None,
        headers: dict[str, str | bytes] | None = None,
    ) -> Response:
        """`{env}/proxy{path}`: the provider's own API called with the account's stored
        credentials. The answer is returned whatever its status (it is the provider's); a 401
        that Scalekit itself gave (a gateway error body) renews the machine token once."""
        # Only safe methods may be repeated after an ambiguous failure.
        idempotent = method.upper() in ("GET", "HEAD", "OPTIONS")

        def send(token: str) -> Response:
            return self.session.send(
                method,
                f"{self.env_url}/proxy{path}",
                idempotent=idempotent,
                content=content,
                headers={
                    **(headers or {}),
                    "authorization": f"Bearer {token}",
                    "connection_name": connector,
                    # Header values travel as bytes; UTF-8 keeps any identifier intact.
                    "identifier": identifier.encode("utf-8"),
                },
            )

        token = self.machine_token()
        response = send(token)
        if response.status_code == 401 and _is_gateway_error(response):
            self._forget_machine_token(token)
            response = send(self.machine_token())
        return response

    # -- connected accounts -----------------------------------------------------------------

    @staticmethod
    def _account_query(
        connector: str | None, identifier: str | None, account_id: str | None
    ) -> dict[str, str]:
        if account_id:
            return {"id": account_id}
        return {"connector": connector or "", "identifier": identifier or ""}

    def get_account(
        self,
        connector: str | None = None,
        identifier: str | None = None,
        *,
        account_id: str | None = None,
        credentials: bool = False,
    ) -> ConnectedAccount:
        """`/auth` (with credentials) or `/details` (without); NotFound when there is none."""
        path = f"{ACCOUNTS}/auth" if credentials else f"{ACCOUNTS}/details"
        method = "GetConnectedAccountAuth" if credentials else "GetConnectedAccountDetails"
        return self.call(
            "GET",
            path,
            idempotent=True,
            rpc=f"{_ACCOUNTS_SERVICE}/{method}",
            params=self._account_query(connector, identifier, account_id),
            parse=ConnectedAccount.from_answer,
        )

    def create_account(self, connector: str, identifier: str) -> ConnectedAccount:
        return self.call(
            "POST",
            ACCOUNTS,
            idempotent=False,
            rpc=f"{_ACCOUNTS_SERVICE}/CreateConnectedAccount",
            # The field is required, even empty (the official SDK always sends it).
            body={"connector": connector, "identifier": identifier, "connected_account": {}},
            expect=(200, 201),
            parse=ConnectedAccount.from_answer,
        )

    def get_or_create_account(
        self, connector: str, identifier: str
    ) -> tuple[ConnectedAccount, bool]:
        """As the official SDK does: read first, create only on 404; 409 means it exists now."""
        try:
            return self.get_account(connector, identifier), False
        except NotFound:
            pass
        try:
            return self.create_account(connector, identifier), True
        except AlreadyExists:
            return self.get_account(connector, identifier), False

    def magic_link(
        self,
        connector: str,
        identifier: str,
        *,
        state: str | None = None,
        user_verify_url: str | None = None,
    ) -> MagicLink:
        body: dict[str, Any] = {"connector": connector, "identifier": identifier}
        if state:
            body["state"] = state
        if user_verify_url:
            body["user_verify_url"] = user_verify_url
        # A new link for the same account is harmless, so a failed request may be repeated.
        # MagicLink.from_json refuses a link that is not https:// (or http:// to loopback).
        return self.call(
            "POST",
            f"{ACCOUNTS}/magic_link",
            idempotent=True,
            rpc=f"{_ACCOUNTS_SERVICE}/GetMagicLinkForConnectedAccount",
            body=body,
            parse=MagicLink.from_json,
        )

    def verify_user(self, auth_request_id: str, identifier: str) -> str:
        """Complete custom user verification; returns where to send the browser next."""
        return self.call(
            "POST",
            f"{ACCOUNTS}/user/verify",
            idempotent=False,
            rpc=f"{_ACCOUNTS_SERVICE}/VerifyConnectedAccountUser",
            body={"auth_request_id": auth_request_id, "identifier": identifier},
            parse=lambda data: text_field(data, "post_user_verify_redirect_url"),
        )

    def delete_account(
        self,
        connector: str | None = None,
        identifier: str | None = None,
        *,
        account_id: str | None = None,
    ) -> None:
        self.call(
            "POST",
            f"{ACCOUNTS}:delete",
            idempotent=False,
            rpc=f"{_ACCOUNTS_SERVICE}/DeleteConnectedAccount",
            body=self._account_query(connector, identifier, account_id),
        )

    def list_accounts_page(
        self,
        *,
        connector: str | None = None,
        identifier: str | None = None,
        provider: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> AccountPage:
        """One page; `page_size` defaults to (and is capped at) the largest the rule allows."""
        largest = limits.ACCOUNTS_PAGE_SIZE_LT - 1
        size = largest if page_size is None else min(page_size, largest)
        params = {
            "connector": connector,
            "identifier": identifier,
            "provider": provider,
            "page_size": str(size),
            "page_token": page_token,
        }
        return self.call(
            "GET",
            ACCOUNTS,
            idempotent=True,
            rpc=LIST_ACCOUNTS,
            params={k: v for k, v in params.items() if v},
            parse=AccountPage.from_json,
        )

    def iter_accounts(self, **filters: Any) -> Iterator[ConnectedAccount]:
        """Every matching account, one page in memory at a time."""

        def fetch(token: str) -> tuple[list[ConnectedAccount], str | None]:
            page = self.list_accounts_page(page_token=token or None, **filters)
            return page.accounts, page.next_page_token

        return follow_pages(fetch)

    # -- tools --------------------------------------------------------------------------------

    def execute_tool(
        self,
        tool_name: str,
        params: dict[str, Any],
        *,
        connector: str | None = None,
        identifier: str | None = None,
        connected_account_id: str | None = None,
    ) -> ToolResult:
        body = _execute_tool_body(tool_name, params, connector, identifier, connected_account_id)
        # A tool may act (send mail, post a message): never repeated on an ambiguous failure.
        return self.call(
            "POST",
            "/api/v1/execute_tool",
            idempotent=False,
            rpc=f"{_TOOLS_SERVICE}/ExecuteTool",
            body=body,
            parse=ToolResult.from_json,
        )

    def iter_tools(
        self,
        *,
        provider: str | None = None,
        connector: str | None = None,
        tool_names: list[str] | None = None,
        query: str | None = None,
    ) -> Iterator[Tool]:
        params: list[tuple[str, str]] = []
        if provider:
            params.append(("filter.provider", provider))
        if connector:
            params.append(("filter.connector", connector))
        for name in tool_names or []:
            params.append(("filter.tool_name", name))
        if query:
            params.append(("filter.query", query))
        return follow_pages(
            lambda token: self.call(
                "GET",
                "/api/v1/tools",
                idempotent=True,
                rpc=LIST_TOOLS,
                params=[*params, ("page_size", str(_TOOLS_PAGE_SIZE))]
                + ([("page_token", token)] if token else []),
                parse=_tool_page,
            )
        )

    # -- static credentials, account updates, dry runs ----------------------------------------

    def update_account(
        self,
        connector: str,
        identifier: str,
        *,
        authorization_details: dict[str, Any] | None = None,
        api_config: dict[str, Any] | None = None,
    ) -> ConnectedAccount:
        """`PUT /api/v1/connected_accounts`: new credentials and/or api_config (which the
        service merges into the stored one); NotFound when there is no such account."""
        self.secrets.add_from({"static_auth": (authorization_details or {}).get("static_auth")})
        # Writing the same credentials twice leaves the same account: safe to repeat.
        return self.call(
            "PUT",
            ACCOUNTS,
            idempotent=True,
            rpc=f"{_ACCOUNTS_SERVICE}/UpdateConnectedAccount",
            body={
                "connector": connector,
                "identifier": identifier,
                "connected_account": _account_fields(authorization_details, api_config),
            },
            parse=ConnectedAccount.from_answer,
        )

    def execute_tool_request(
        self,
        tool_name: str,
        params: dict[str, Any],
        *,
        connector: str | None = None,
        identifier: str | None = None,
        connected_account_id: str | None = None,
    ) -> tuple[str, str, dict[str, Any]]:
        """The method, URL and body `execute_tool` would send, not sent: for `--dry-run`."""
        body = _execute_tool_body(tool_name, params, connector, identifier, connected_account_id)
        return "POST", f"{self.env_url}/api/v1/execute_tool", body

    # -- discovery: the environment's connections, tool search, a user's scoped tools ------

    def iter_app_connections(self, *, provider: str | None = None) -> Iterator[AppConnection]:
        """Every connection of the environment (`GET /api/v1/connections/app`), a page of
        the largest size its rule allows at a time. NotFound or ApiError 501 from an
        environment that predates the RPC: callers that can do without it fall back."""

        def fetch(token: str) -> tuple[list[AppConnection], str]:
            params = {"page_size": str(_APP_CONNECTIONS_PAGE_SIZE)}
            if provider:
                params["provider"] = provider
            if token:
                params["page_token"] = token
            return self.call(
                "GET",
                "/api/v1/connections/app",
                idempotent=True,
                rpc=LIST_APP_CONNECTIONS,
                params=params,
                parse=_app_connection_page,
            )

        return follow_pages(fetch)

    def search_tools(
        self, query: str, *, identifier: str | None = None, top_k: int | None = None
    ) -> list[SearchedTool]:
        """`POST /api/v1/tools:search`: the catalogue ranked by `query`, best first; with an
        `identifier`, each tool carries that user's accounts and their readiness."""
        body: dict[str, Any] = {"query": query}
        if identifier:
            body["identifier"] = identifier
        if top_k:
            body["top_k"] = top_k
        # A search changes nothing: safe to repeat, though it is a POST.
        return self.call(
            "POST",
            "/api/v1/tools:search",
            idempotent=True,
            rpc=f"{_TOOLS_SERVICE}/SearchTools",
            body=body,
            parse=lambda data: [SearchedTool.from_json(item) for item in objects(data, "tools")],
        )

    def iter_scoped_tools(
        self, identifier: str, *, connection_names: list[str] | None = None
    ) -> Iterator[Tool]:
        """`GET /api/v1/tools/scoped`: the tools `identifier` can run now (those of the
        connections where it has an active account)."""
        params: list[tuple[str, str]] = [("identifier", identifier)]
        for name in connection_names or []:
            params.append(("filter.connection_names", name))
        return follow_pages(
            lambda token: self.call(
                "GET",
                "/api/v1/tools/scoped",
                idempotent=True,
                rpc=f"{_TOOLS_SERVICE}/ListScopedTools",
                params=[*params, ("page_size", str(_TOOLS_PAGE_SIZE))]
                + ([("page_token", token)] if token else []),
                parse=_scoped_tool_page,
            )
        )


def _app_connection_page(data: dict[str, Any]) -> tuple[list[AppConnection], str]:
    return [AppConnection.from_json(item) for item in objects(data, "connections")], text_field(
        data, "next_page_token"
    )


def _scoped_tool_page(data: dict[str, Any]) -> tuple[list[Tool], str]:
    tools = [Tool.from_json(json_object(item, "tool")) for item in objects(data, "tools")]
    return [tool for tool in tools if tool.name], text_field(data, "next_page_token")


def _account_fields(
    authorization_details: dict[str, Any] | None, api_config: dict[str, Any] | None
) -> dict[str, Any]:
    """`connected_account`, always sent (the rules require it, even empty)."""
    fields: dict[str, Any] = {}
    if authorization_details:
        fields["authorization_details"] = authorization_details
    if api_config:
        fields["api_config"] = api_config
    return fields


def _tool_page(data: dict[str, Any]) -> tuple[list[Tool], str]:
    return [Tool.from_json(item) for item in objects(data, "tools")], text_field(
        data, "next_page_token"
    )


def _is_gateway_error(response: Response) -> bool:
    """A Scalekit gateway error body (`{"code": <gRPC code>, "message": …}`), as opposed to
    whatever the provider behind the proxy answers."""
    body = _json_or_empty(response)
    return isinstance(body.get("code"), int) and isinstance(body.get("message"), str)


def _json_or_empty(response: Response) -> dict[str, Any]:
    try:
        body = load_json(response.content or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def follow_pages(fetch: Callable[[str], tuple[list[T], str | None]]) -> Iterator[T]:
    """Every item of a paged list, one page in memory at a time: `fetch(page_token)` answers a
    page's items and the next token ("" for the first page). A server repeating a page token
    would otherwise loop for ever."""
    token = ""
    seen: set[str] = set()
    while True:
        items, next_token = fetch(token)
        yield from items
        if not next_token or next_token in seen:
            return
        seen.add(next_token)
        token = next_token
