"""The hosted consent page in a real browser: Debian's Chromium driven by Playwright.

Playwright never downloads a browser here; it launches /usr/bin/chromium. When Chromium is
missing the tests fail (they never skip) and say how to install it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.cli.conftest import SK
from tests.contract.client import AgentKitClient

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GMAIL = "gmail"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run .ci/install-chromium "
            "(installs Debian's chromium package) and rerun the browser tests",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def client_for(live: Any) -> AgentKitClient:
    client = AgentKitClient(live.url)
    client.login(live.settings.client_id, live.settings.client_secret)
    return client


def new_link(api: AgentKitClient, identifier: str, **extra: str) -> str:
    api.create(GMAIL, identifier)
    return api.magic_link(connector=GMAIL, identifier=identifier, **extra)["link"]


def test_allow_in_chromium_activates_the_account(sandbox: Any, page: Any) -> None:
    identifier = "Zoë <b>&amp;</b> browser@example.com"
    with client_for(sandbox) as api:
        link = new_link(api, identifier)
        page.goto(link)
        body = page.locator("body").inner_text()
        assert "gmail" in body.lower(), "the page names the connection"
        assert identifier in body, "the page shows the identifier literally (escaped HTML)"
        assert page.locator("body b").count() == 0, "the identifier is text, not markup"
        page.get_by_role("button", name="Allow", exact=True).click()
        page.wait_for_load_state()
        assert api.details(connector=GMAIL, identifier=identifier)["status"] == "ACTIVE"


def test_deny_in_chromium_ends_the_authorization(sandbox: Any, page: Any) -> None:
    with client_for(sandbox) as api:
        link = new_link(api, "denying-user")
        page.goto(link)
        page.get_by_role("button", name="Deny", exact=True).click()
        page.wait_for_load_state()
        text = page.locator("body").inner_text().lower()
        assert any(w in text for w in ("denied", "declined", "cancel", "not connected")), text
        assert api.details(connector=GMAIL, identifier="denying-user")["status"] == "DISCONNECTED"


def test_deny_in_chromium_while_sk_connect_waits(sandbox: Any, page: Any, tmp_path: Path) -> None:
    """The user presses Deny in a real browser on the link `sk connect` printed: `sk` says so
    at its next poll and exits 1, long before its timeout."""
    env = {
        **os.environ,
        "SCALEKIT_ENV_URL": sandbox.url,
        "SCALEKIT_CLIENT_ID": sandbox.settings.client_id,
        "SCALEKIT_CLIENT_SECRET": sandbox.settings.client_secret,
        "SK_CACHE_DIR": str(tmp_path / "cache"),
        "SK_DATA_DIR": str(tmp_path / "data"),
        "SK_CONFIG_DIR": str(tmp_path / "config"),
    }
    command = [str(SK), "connect", GMAIL, "--user", "denier", "--interval", "0.3"]
    process = subprocess.Popen(
        [*command, "--timeout", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        link = process.stdout.readline().strip()
        assert "/magic/" in link, link
        page.goto(link)
        page.get_by_role("button", name="Deny", exact=True).click()
        page.wait_for_load_state()
        denied_at = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        noticed_after = time.monotonic() - denied_at
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("sk: denier did not authorize gmail: the authorization was denied")
    assert "DISCONNECTED" in last
    # Within one poll: the first status read after the Deny (one more may have been in flight).
    log = sandbox.requests()
    deny = max(i for i, r in enumerate(log) if r["method"] == "POST" and "/magic/" in r["path"])
    polls_after = [r for r in log[deny + 1 :] if r["path"].endswith("/details")]
    assert 1 <= len(polls_after) <= 2, polls_after
    assert noticed_after < 10, "noticed at the next poll, not at the timeout"


class _VerifyCatcher(BaseHTTPRequestHandler):
    """The app's user_verify_url: records the query the browser arrives with."""

    received: list[dict[str, list[str]]]

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        if target.path != "/user/verify":  # e.g. the browser's own /favicon.ico
            self.send_error(404)
            return
        self.received.append(parse_qs(target.query, keep_blank_values=True))
        body = b"<html><body><h1>app verify page</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def verify_server() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    received: list[dict[str, list[str]]] = []
    handler = type("Catcher", (_VerifyCatcher,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/user/verify", received
    server.shutdown()
    server.server_close()


def test_custom_verification_lands_on_the_apps_verify_url(
    sandbox_factory: Any, page: Any, verify_server: tuple[str, list[dict[str, list[str]]]]
) -> None:
    verify_url, received = verify_server
    live = sandbox_factory(user_verification="custom")
    with client_for(live) as api:
        state = "opaque/state=1&x é"
        link = new_link(api, "verified@example.com", state=state, user_verify_url=verify_url)
        page.goto(link)
        page.get_by_role("button", name="Allow", exact=True).click()
        page.wait_for_url(f"{verify_url}**")
        assert page.locator("h1").inner_text() == "app verify page"
        assert len(received) == 1
        query = received[0]
        assert query["state"] == [state]
        auth_request_id = query["auth_request_id"][0]
        assert auth_request_id

        details = api.details(connector=GMAIL, identifier="verified@example.com")
        assert details["status"] == "PENDING_VERIFICATION"
        api.expect(
            200,
            "POST",
            "/api/v1/connected_accounts/user/verify",
            body={"auth_request_id": auth_request_id, "identifier": "verified@example.com"},
        )
        assert api.details(connector=GMAIL, identifier="verified@example.com")["status"] == (
            "ACTIVE"
        )
