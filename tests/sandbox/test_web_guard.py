"""The sandbox refuses the web: DNS rebinding (a foreign `Host`), cross-site requests (`Origin`,
`Sec-Fetch-Site`, a form's content type), oversized bodies, framing; and its request log keeps
only authenticated bodies, bounded, with secrets fingerprinted."""

from __future__ import annotations

import socket

import httpx
import pytest

from scalekit_cli.sandbox.faults import LOGGED_BODY_LIMIT, redacted_marker
from scalekit_cli.sandbox.guard import MAX_BODY_BYTES
from tests.conftest import CANARY_CLIENT_SECRET

FOREIGN = {"host": "evil.example:8802"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        # DNS rebinding: the page's own name resolves to 127.0.0.1, so Host is the attacker's.
        ("GET", "/_sandbox/requests", FOREIGN, 403),
        ("POST", "/_sandbox/faults", FOREIGN, 403),
        ("GET", "/_sandbox/requests", {"host": "127.0.0.1.evil.example"}, 403),
        # Cross-site: the request's Host is right, but a page of another origin sent it.
        ("POST", "/_sandbox/faults", {"origin": "https://evil.example"}, 403),
        ("POST", "/_sandbox/faults", {"origin": "http://localhost:3000"}, 403),
        ("POST", "/_sandbox/faults", {"origin": "null"}, 403),
        ("GET", "/_sandbox/requests", {"sec-fetch-site": "cross-site"}, 403),
        ("POST", "/_sandbox/faults", {"sec-fetch-site": "same-site"}, 403),
        # A cross-site form can send text/plain without a preflight; the admin takes JSON only.
        ("POST", "/_sandbox/faults", {"content-type": "text/plain"}, 415),
        ("POST", "/_sandbox/reset", {"content-type": "application/x-www-form-urlencoded"}, 415),
    ],
)
def test_the_admin_surface_refuses_the_web(sandbox, method, path, headers, status):
    body = '{"path": "/api/*", "kind": "status", "status": 500}'
    answer = httpx.request(method, sandbox.url + path, headers=headers, content=body)
    assert answer.status_code == status, answer.text
    assert sandbox.admin("GET", "/_sandbox/faults").json()["faults"] == []  # nothing happened


def test_the_admin_surface_still_serves_its_own_callers(sandbox):
    port = sandbox.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        answer = httpx.post(
            sandbox.url + "/_sandbox/faults",
            headers={
                "host": host,
                "origin": f"http://{host}",
                "sec-fetch-site": "same-origin",
            },
            json={"path": "/nowhere", "kind": "status", "status": 500},
        )
        assert answer.status_code == 200, answer.text
    assert httpx.post(sandbox.url + "/_sandbox/machine_tokens/revoke").status_code == 200


def test_hosted_form_posts_refuse_rebinding_and_cross_site(sandbox, driver_link):
    link = driver_link
    for headers in (FOREIGN, {"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        answer = httpx.post(link, headers=headers, data={"decision": "allow"})
        assert answer.status_code == 403, headers
    page = httpx.get(link)
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # The page's own form post (same origin) still works.
    same_origin = {"origin": sandbox.url, "sec-fetch-site": "same-origin"}
    answer = httpx.post(link, headers=same_origin, data={"decision": "allow"})
    assert answer.status_code == 200 and "Connected" in answer.text


@pytest.fixture
def driver_link(sandbox) -> str:
    token = sandbox.machine_token()
    answer = httpx.post(
        sandbox.url + "/api/v1/connected_accounts/magic_link",
        headers={"authorization": f"Bearer {token}"},
        json={"connector": "gmail", "identifier": "guarded"},
    )
    answer.raise_for_status()
    return answer.json()["link"]


def test_bodies_over_the_limit_are_413_before_being_read(sandbox):
    big = b"x" * (MAX_BODY_BYTES + 1)
    for path in ("/api/v1/connected_accounts", "/oauth/token", "/_sandbox/faults"):
        answer = httpx.post(
            sandbox.url + path, content=big, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413, path

    # A chunked body declares no length: refused once the limit is passed, not read whole.
    def chunks():
        for _ in range(64):
            yield b"y" * (64 * 1024)

    answer = httpx.post(sandbox.url + "/api/v1/connected_accounts", content=chunks())
    assert answer.status_code == 413
    assert all(len(entry["body"]) == 0 for entry in sandbox.requests())


def test_declared_length_alone_is_refused(sandbox):
    """A `Content-Length` over the limit is refused before a byte of the body is sent."""
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/connected_accounts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: 5000000\r\nContent-Type: application/json\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 413")


def test_the_log_keeps_only_authenticated_bodies_bounded_and_redacted(sandbox):
    sandbox.clear_requests()
    httpx.post(sandbox.url + "/api/v1/connected_accounts", json={"connector": "anonymous"})
    httpx.post(
        sandbox.url + "/api/v1/connected_accounts",
        headers={"authorization": "Bearer forged"},
        json={"connector": "forged"},
    )
    token = sandbox.machine_token()  # the token exchange: authenticated by its credentials
    huge = {"connector": "gmail", "identifier": "z" * (2 * LOGGED_BODY_LIMIT)}
    httpx.post(
        sandbox.url + "/api/v1/connected_accounts",
        headers={"authorization": f"Bearer {token}"},
        json=huge,
    )
    anonymous, forged, exchange, created = sandbox.requests()
    assert anonymous["body"] == "" and forged["body"] == ""
    assert CANARY_CLIENT_SECRET not in exchange["body"]
    assert redacted_marker(CANARY_CLIENT_SECRET) in exchange["body"]
    assert len(created["body"]) < LOGGED_BODY_LIMIT + 100 and "more characters" in created["body"]


def test_a_server_bound_to_every_interface_takes_addresses_but_not_names(sandbox):
    sandbox.app.state.served_hosts.add("0.0.0.0")
    for host, status in (("192.168.1.20:8765", 200), ("evil.example:8765", 403)):
        answer = httpx.get(sandbox.url + "/_sandbox/faults", headers={"host": host})
        assert answer.status_code == status, host
