"""Retries through the sandbox's fault injection: reads recover, creates are never repeated."""

from __future__ import annotations

import json

from tests.cli.conftest import assert_one_error_line

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
