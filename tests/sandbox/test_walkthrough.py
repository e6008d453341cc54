"""The whole AgentKit story with nothing but httpx, the OpenAPI document and the stdlib.

A client that knows only the vendor's documents should be able to do everything the CLI does
against the sandbox: authenticate, create an account, have the user authorize it through the
hosted page, read its token, call Gmail with it, run a tool, list tools, and clean up. Every
answer is validated strictly against the document as it arrives.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.contract.client import plain_client
from tests.contract.discovery import validate_gmail
from tests.contract.openapi import (
    validate_query,
    validate_request,
    validate_response,
    validate_token_response,
)

IDENTIFIER = "walkthrough+user@example.com"


class ConsentFormReader(HTMLParser):
    """Finds the POST form, its hidden fields, and the button whose label is exactly Allow."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.hidden: dict[str, str] = {}
        self.allow: tuple[str, str] | None = None
        self._in_form = False
        self._button: dict[str, str] | None = None
        self._label = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form" and attributes.get("method", "").lower() == "post":
            self._in_form = True
            self.action = attributes.get("action", "")
            self.method = "post"
        elif self._in_form and tag == "input" and attributes.get("type") == "hidden":
            self.hidden[attributes.get("name", "")] = attributes.get("value", "")
        elif self._in_form and tag == "button":
            self._button, self._label = attributes, ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            if self._label.strip() == "Allow":
                self.allow = (self._button.get("name", ""), self._button.get("value", ""))
            self._button = None
        elif tag == "form":
            self._in_form = False


def checked(
    client: httpx.Client,
    method: str,
    path: str,
    expected: int,
    *,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
) -> Any:
    """Send one documented call; check the request before and the answer after."""
    validate_query(method, path, [(k, str(v)) for k, v in (params or {}).items()])
    if method != "GET":
        validate_request(method, path, body)
    answer = client.request(method, path, params=params, json=body)
    assert answer.headers["content-type"].startswith("application/json")
    payload = answer.json()
    validate_response(method, path, answer.status_code, payload)
    assert answer.status_code == expected, f"{method} {path}: {answer.status_code} {payload}"
    return payload


def test_walkthrough(sandbox: Any) -> None:
    base = sandbox.url
    with plain_client(base_url=base) as anonymous:
        # 1. Machine token (CONTRACT.md, "Authentication").
        token_answer = anonymous.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.settings.client_id,
                "client_secret": sandbox.settings.client_secret,
            },
        )
        assert token_answer.status_code == 200
        validate_token_response(token_answer.json())
        machine_token = token_answer.json()["access_token"]

    api = plain_client(base_url=base, headers={"Authorization": f"Bearer {machine_token}"})
    with api:
        # 2. Create the connected account.
        created = checked(
            api,
            "POST",
            "/api/v1/connected_accounts",
            201,
            body={"connector": "gmail", "identifier": IDENTIFIER, "connected_account": {}},
        )["connected_account"]
        assert created["status"] == "PENDING_AUTH"

        # 3. Fetch a magic link.
        link = checked(
            api,
            "POST",
            "/api/v1/connected_accounts/magic_link",
            200,
            body={"connector": "gmail", "identifier": IDENTIFIER},
        )["link"]

        # 4. Open it like a browser and press Allow.
        with plain_client(follow_redirects=True) as browser:
            page = browser.get(link)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            reader = ConsentFormReader()
            reader.feed(page.text)
            assert reader.method == "post", "the hosted page has a POST form"
            assert reader.allow is not None, "the form has a button labelled Allow"
            target = urljoin(str(page.url), reader.action) if reader.action else str(page.url)
            name, value = reader.allow
            pressed = browser.post(target, data={**reader.hidden, name: value})
            assert pressed.status_code == 200, pressed.text[:300]

        # 5. Read the account with its credentials.
        account = checked(
            api,
            "GET",
            "/api/v1/connected_accounts/auth",
            200,
            params={"connector": "gmail", "identifier": IDENTIFIER},
        )["connected_account"]
        assert account["status"] == "ACTIVE"
        assert account["id"] == created["id"]
        access_token = account["authorization_details"]["oauth_token"]["access_token"]

        # 6. Call Gmail directly with the user's token.
        unread = api.get(
            "/gmail/v1/users/me/messages",
            params={"q": "is:unread"},
            headers={"Authorization": f"Bearer {access_token}"},  # the user's, not the machine's
        )
        assert unread.status_code == 200
        validate_gmail("ListMessagesResponse", unread.json())
        assert len(unread.json()["messages"]) >= 10

        # 7. Run a tool on the user's behalf.
        result = checked(
            api,
            "POST",
            "/api/v1/execute_tool",
            200,
            body={
                "tool_name": "gmail_fetch_mails",
                "connector": "gmail",
                "identifier": IDENTIFIER,
                "params": {"query": "is:unread", "max_results": 5},
            },
        )
        assert isinstance(result["data"], dict) and result["execution_id"]

        # 8. List the tool catalog.
        tools = checked(api, "GET", "/api/v1/tools", 200, params={"filter.provider": "GOOGLE"})
        assert "gmail_fetch_mails" in [t["definition"].get("name") for t in tools["tools"]]

        # 9. Delete the account; it is gone afterwards.
        gone = checked(
            api,
            "POST",
            "/api/v1/connected_accounts:delete",
            200,
            body={"connector": "gmail", "identifier": IDENTIFIER},
        )
        assert gone == {}
        checked(
            api,
            "GET",
            "/api/v1/connected_accounts/details",
            404,
            params={"connector": "gmail", "identifier": IDENTIFIER},
        )
