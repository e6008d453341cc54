"""Retries through the sandbox's fault injection: reads recover, creates are never repeated."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.cli.conftest import assert_one_error_line
from tests.reliability.harness import start_sandbox
from tests.scalekit.drip import BODY_DRIP, Dripper

AUTH = "/api/v1/connected_accounts/auth"


def _count(sandbox, path: str, method: str | None = None) -> int:
    return sum(
        r["path"] == path and (method is None or r["method"] == method) for r in sandbox.requests()
    )


def test_reads_recover_from_transient_failures(sk, driver, sandbox):
    driver.connect("gmail", "u")
    for status in (500, 502, 503, 504):
        sandbox.admin("DELETE", "/_sandbox/faults")
        sandbox.fault(path=AUTH, kind="status", status=status, times=2)
        sandbox.clear_requests()
        result = sk("token", "gmail", "--user", "u", "--json")
        assert result.exit_code == 0, (status, result.stderr)
        assert _count(sandbox, AUTH) == 3  # two failures, then the answer


def test_429_honours_retry_after(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path=AUTH, kind="status", status=429, times=1, retry_after=1)
    result = sk("token", "gmail", "--user", "u", "--json", "-v")
    assert result.exit_code == 0
    assert "retrying in 1.0 s" in result.stderr


def test_persistent_failure_is_bounded_and_clean(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path=AUTH, kind="status", status=503)
    sandbox.clear_requests()
    result = sk("token", "gmail", "--user", "u", "--json")
    assert result.exit_code == 1
    assert "HTTP 503" in assert_one_error_line(result)
    assert _count(sandbox, AUTH) == 4  # the first try and three retries


def test_dropped_connections_and_non_json(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path=AUTH, kind="drop", times=1)
    assert sk("token", "gmail", "--user", "u", "--json").exit_code == 0
    sandbox.fault(path=AUTH, kind="not_json")
    result = sk("token", "gmail", "--user", "u", "--json")
    assert result.exit_code == 1
    assert "not JSON" in assert_one_error_line(result)


def test_timeout_is_a_clean_failure(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path=AUTH, kind="latency", latency_ms=3000)
    result = sk("token", "gmail", "--user", "u", "--json", env={"SK_HTTP_TIMEOUT": "0.3"})
    assert result.exit_code == 1
    assert "no answer within 0.3 s" in assert_one_error_line(result)


def test_create_is_never_repeated_on_an_ambiguous_failure(sk, sandbox):
    sandbox.fault(path="/api/v1/connected_accounts", method="POST", kind="status", status=503)
    sandbox.clear_requests()
    result = sk("connect", "gmail", "--user", "new", "--no-wait")
    assert result.exit_code == 1
    assert _count(sandbox, "/api/v1/connected_accounts", "POST") == 1
    assert_one_error_line(result)


def test_create_retried_on_429(sk, sandbox):
    sandbox.fault(
        path="/api/v1/connected_accounts",
        method="POST",
        kind="status",
        status=429,
        times=1,
        retry_after=0,
    )
    result = sk("connect", "gmail", "--user", "new", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "PENDING_AUTH"


def test_tool_execution_is_never_repeated(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path="/api/v1/execute_tool", kind="status", status=502)
    sandbox.clear_requests()
    result = sk("exec-tool", "gmail_get_profile", "--user", "u")
    assert result.exit_code == 1
    assert _count(sandbox, "/api/v1/execute_tool") == 1


def test_unreachable_host(sk):
    result = sk(
        "token", "gmail", "--user", "u", "--json", env={"SCALEKIT_ENV_URL": "http://127.0.0.1:9"}
    )
    assert result.exit_code == 1
    assert assert_one_error_line(result).startswith("sk: cannot reach 127.0.0.1:")


def test_a_dripping_server_cannot_outlast_sk_http_timeout(sk):
    """A server answering a byte every 0.2 s never lets one read time out; SK_HTTP_TIMEOUT=2
    still ends each attempt (the token exchange, a read: tried four times) at 2 s, and the
    command within the bound those attempts make."""
    dripper = Dripper(*BODY_DRIP, every=0.2)
    started = time.monotonic()
    try:
        result = sk(
            "status",
            "gmail",
            "--user",
            "u",
            env={"SCALEKIT_ENV_URL": dripper.url, "SK_HTTP_TIMEOUT": "2"},
        )
        elapsed = time.monotonic() - started
        open_for = dripper.wait_for_closes(4)
    finally:
        dripper.stop()
    assert result.exit_code == 1
    assert "no answer within 2 s (SK_HTTP_TIMEOUT)" in assert_one_error_line(result)
    assert elapsed < 4 * 2 + 3
    assert len(open_for) == 4 and max(open_for) < 2.8, open_for


def _dripping(method: str, path: str, after: int = 0) -> Any:
    """Middleware for the sandbox: every `method path` request after the first `after` is
    answered a byte every 0.2 s, until the client hangs up."""

    def wrap(app: Any) -> Any:
        seen = {"requests": 0}

        async def wrapped(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and (scope["method"], scope["path"]) == (method, path):
                seen["requests"] += 1
                if seen["requests"] > after:
                    await _drip(receive, send)
                    return
            await app(scope, receive, send)

        return wrapped

    return wrap


async def _drip(receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass  # the request's body
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for _ in range(1000):
        await send({"type": "http.response.body", "body": b" ", "more_body": True})
        try:
            message = await asyncio.wait_for(receive(), 0.2)
        except TimeoutError:
            continue
        if message["type"] == "http.disconnect":
            return


@pytest.mark.parametrize(
    ("method", "path", "after"),
    [
        ("GET", "/api/v1/connected_accounts/details", 1),  # the polls (the first read is not)
        ("POST", "/api/v1/connected_accounts", 0),  # the account's creation, before any wait
        ("POST", "/api/v1/connected_accounts/magic_link", 0),
    ],
    ids=["polls", "creation", "link"],
)
def test_connect_timeout_bounds_the_whole_command_against_a_dripping_server(
    sk, method, path, after
):
    sandbox = start_sandbox(wrap=_dripping(method, path, after))
    started = time.monotonic()
    try:
        result = sk(
            "connect",
            "gmail",
            "--user",
            "dripped",
            "--timeout",
            "3",
            env={"SCALEKIT_ENV_URL": sandbox.url, "SK_GMAIL_API_URL": sandbox.url},
        )
        elapsed = time.monotonic() - started
    finally:
        sandbox.stop()
    assert result.exit_code == 4, result.stderr
    assert "timed out after 3 s" in assert_one_error_line(result)
    assert elapsed < 3 + 1.5
