"""Multi-step flows the contract tests share: connecting an account through the hosted page."""

from __future__ import annotations

from typing import Any

import httpx

from .client import AgentKitClient, plain_client
from .hosted_page import follow_within, open_link, submit


def unpopulated(value: Any) -> bool:
    """CONTRACT.md: `""`, null, `[]`, `{}` (or an object of only such values) mean absent."""
    if value is None or value in ("", [], {}):
        return True
    if isinstance(value, dict):
        return all(unpopulated(v) for v in value.values())
    return False


def consent(
    api: AgentKitClient,
    link: str,
    decision: str = "Allow",
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    """Open a magic link and press a decision button; returns the raw form-post answer."""
    with plain_client() as browser:
        page = open_link(browser, link)
        assert page.status == 200, f"the magic link page answered {page.status}: {page.text[:300]}"
        return submit(browser, page, decision, extra)


def consent_page_after(api: AgentKitClient, link: str, decision: str = "Allow") -> str:
    """Press a decision and return the visible text of the page the sandbox ends on."""
    with plain_client() as browser:
        page = open_link(browser, link)
        answer = submit(browser, page, decision)
        return follow_within(browser, answer, api.base_url).text


def connect(
    api: AgentKitClient, connector: str, identifier: str, **create_extra: Any
) -> dict[str, Any]:
    """Create an account and authorize it via its magic link (dashboard verification mode).

    Returns the account as `/auth` shows it afterwards.
    """
    api.create(connector, identifier, **create_extra)
    link = api.magic_link(connector=connector, identifier=identifier)["link"]
    answer = consent(api, link)
    assert answer.status_code < 400, (
        f"pressing Allow answered {answer.status_code}: {answer.text[:300]}"
    )
    account = api.auth(connector=connector, identifier=identifier)
    assert account["status"] == "ACTIVE", f"after Allow the account is {account['status']}"
    return account
