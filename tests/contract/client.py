"""A raw HTTP client for the AgentKit REST API that checks both directions of every call.

It is deliberately thin (httpx and the document, nothing of the project's own HTTP layer):
the query and body it sends are validated against the operation before sending, and the
status and body it receives are validated strictly after.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .openapi import (
    validate_oauth_error,
    validate_query,
    validate_request,
    validate_response,
    validate_token_response,
)

# Building an httpx client loads the CA bundle (~35 ms). The sandbox is plain HTTP on loopback,
# so all clients of these tests share one TLS context instead.
_SHARED_TLS = ssl.create_default_context()


def plain_client(**kwargs: Any) -> httpx.Client:
    kwargs.setdefault("timeout", 10)
    return httpx.Client(verify=_SHARED_TLS, **kwargs)


QueryParams = Mapping[str, str | int | bool] | Sequence[tuple[str, str | int | bool]]
_NO_TOKEN = object()


def _pairs(params: QueryParams | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        out.append((key, text))
    return out


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON; every AgentKit answer is JSON, errors included."""
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/json", (
        f"{response.request.method} {response.request.url.path} -> {response.status_code} "
        f"answered {content_type!r}, not application/json: {response.text[:300]!r}"
    )
    return response.json()


@dataclass
class Answer:
    status: int
    body: Any
    response: httpx.Response


class AgentKitClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.http = plain_client(base_url=base_url)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AgentKitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def login(self, client_id: str, client_secret: str) -> dict[str, Any]:
        """POST /oauth/token with client credentials; keeps the token for later calls."""
        answer = self.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        body = json_body(answer)
        assert answer.status_code == 200, f"/oauth/token -> {answer.status_code}: {body}"
        validate_token_response(body)
        self.token = body["access_token"]
        return body

    def token_request(self, form: Mapping[str, str]) -> Answer:
        """POST /oauth/token with an arbitrary form; the answer is checked for its shape."""
        answer = self.http.post("/oauth/token", data=dict(form))
        body = json_body(answer)
        if answer.status_code == 200:
            validate_token_response(body)
        else:
            validate_oauth_error(answer.status_code, body)
        return Answer(answer.status_code, body, answer)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: Any = None,
        token: Any = _NO_TOKEN,
        check_request: bool = True,
        undocumented_ok: tuple[int, ...] = (),
    ) -> Answer:
        """One API call; `path` is also the operation's template (no path parameters used)."""
        pairs = _pairs(params)
        if check_request:
            validate_query(method, path, pairs)
            if method.upper() != "GET":
                validate_request(method, path, body)
        bearer = self.token if token is _NO_TOKEN else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
        content = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        response = self.http.request(
            method, path, params=pairs or None, content=content, headers=headers
        )
        payload = json_body(response)
        validate_response(
            method, path, response.status_code, payload, undocumented_ok=undocumented_ok
        )
        return Answer(response.status_code, payload, response)

    def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        """`call`, asserting the status; returns the (validated) body."""
        answer = self.call(method, path, **kwargs)
        assert answer.status == status, (
            f"{method} {path} {kwargs.get('params') or kwargs.get('body') or ''}: "
            f"expected {status}, got {answer.status}: {answer.body}"
        )
        return answer.body

    # The operations the tests use most, spelled once.
    def create(self, connector: str, identifier: str, **extra: Any) -> dict[str, Any]:
        body = {"connector": connector, "identifier": identifier, "connected_account": {}, **extra}
        return self.expect(201, "POST", "/api/v1/connected_accounts", body=body)[
            "connected_account"
        ]

    def details(self, **params: Any) -> dict[str, Any]:
        return self.expect(200, "GET", "/api/v1/connected_accounts/details", params=params)[
            "connected_account"
        ]

    def auth(self, **params: Any) -> dict[str, Any]:
        return self.expect(200, "GET", "/api/v1/connected_accounts/auth", params=params)[
            "connected_account"
        ]

    def magic_link(self, **body: Any) -> dict[str, Any]:
        return self.expect(200, "POST", "/api/v1/connected_accounts/magic_link", body=body)

    def list_accounts(self, params: QueryParams | None = None) -> dict[str, Any]:
        return self.expect(200, "GET", "/api/v1/connected_accounts", params=params)
