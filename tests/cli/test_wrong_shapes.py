"""A well-formed 200 of the wrong shape is an API failure (exit 1, `unexpected answer from …`),
never "not found" (exit 3, which would make `sk status || sk connect` reconnect); nesting past
the bound is a clean exit 1; `sk request` prints a body it cannot parse as it came."""

from __future__ import annotations

import pytest

from scalekit_cli.scalekit.client import ScalekitClient
from scalekit_cli.scalekit.errors import InvalidResponse
from scalekit_cli.scalekit.http import HttpSession
from tests.cli.conftest import assert_one_error_line
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET

AUTH = "/api/v1/connected_accounts/auth"
DETAILS = "/api/v1/connected_accounts/details"


def _replace(sandbox, path: str, body) -> None:
    sandbox.fault(path=path, kind="mutate", mutation="replace", body=body, status=200)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"connected_account": "x"}, "connected_account is a string, not an object"),
        ({}, "it has no connected_account"),
        ([1, 2], "it is JSON, but not an object"),
        ({"connected_account": {"status": 5}}, "status is a number, not a string"),
        ({"connected_account": {"status": "ACTIVE", "id": ["x"]}}, "id is an array"),
    ],
)
def test_a_wrong_shape_is_not_a_missing_account(sk, sandbox, driver, body, problem):
    driver.connect("gmail", "u")
    for args, path in (
        (("token", "gmail", "--user", "u"), AUTH),
        (("status", "gmail", "--user", "u"), DETAILS),
        (("connect", "gmail", "--user", "u", "--no-wait"), DETAILS),
    ):
        _replace(sandbox, path, body)
        result = sk(*args)
        sandbox.admin("DELETE", "/_sandbox/faults")
        assert result.exit_code == 1, (args, result.stderr)
        line = assert_one_error_line(result)
        assert line.startswith(f"sk: unexpected answer from 127.0.0.1 to GET {path}: "), line
        assert problem in line and "sk connect" not in line


def test_nesting_past_the_bound_is_a_clean_failure(sk, sandbox, driver):
    driver.connect("gmail", "u")
    sandbox.fault(path=AUTH, kind="mutate", mutation="deep", depth=200_000)
    result = sk("token", "gmail", "--user", "u")
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert "nested deeper than 64 levels" in line and "internal error" not in line


def test_request_withholds_a_body_it_cannot_parse_unless_debug(sk, sandbox, driver):
    """A body that looks like JSON but cannot be parsed whole could hide a credential field:
    it is shown only with --debug (SECURITY.md), and then exactly as it came."""
    driver.connect("gmail", "u")
    path = "/proxy/gmail/v1/users/me/profile"
    sandbox.fault(path=path, kind="mutate", mutation="deep", depth=5_000)
    result = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "rerun with --debug to see it" in result.stderr
    shown = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "--debug")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.endswith('"sk_nested": ' + "[" * 5_000 + "]" * 5_000 + "}")
    assert shown.stdout.startswith('{"emailAddress": "u')


def test_user_verify_and_tools_and_execution_are_held_to_their_shapes(sandbox, driver, tmp_path):
    client = ScalekitClient(
        sandbox.url, CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, session=HttpSession(timeout=10)
    )
    cases = [
        (
            "/api/v1/connected_accounts/user/verify",
            {"post_user_verify_redirect_url": 5},
            lambda: client.verify_user("req", "u"),
        ),
        ("/api/v1/tools", {"tools": "x"}, lambda: list(client.iter_tools())),
        ("/api/v1/tools", {"tools": [{"definition": "x"}]}, lambda: list(client.iter_tools())),
        (
            "/api/v1/execute_tool",
            {"data": [1]},
            lambda: client.execute_tool("gmail_get_profile", {}, connector="gmail", identifier="u"),
        ),
        (
            "/api/v1/connected_accounts",
            {"connected_accounts": [1]},
            lambda: list(client.iter_accounts()),
        ),
        (
            "/api/v1/connected_accounts",
            {"total_size": "many"},
            lambda: list(client.iter_accounts()),
        ),
    ]
    driver.connect("gmail", "u")
    for path, body, call in cases:
        _replace(sandbox, path, body)
        with pytest.raises(InvalidResponse, match=r"unexpected answer from 127\.0\.0\.1"):
            call()
        sandbox.admin("DELETE", "/_sandbox/faults")
    client.session.close()
