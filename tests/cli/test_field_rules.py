"""`sk` keeps the service's field rules for what a user types (--user, a connector, --verify-url,
a page of accounts) before it sends: a breach is exit 2, one `sk:` line and nothing on the wire.
Those few rules come from `limits.py`, which `make contract` derives from the descriptors; a
breach only the service sees comes back 400, code 3, and is exit 2 and one line too. Every
request a walk through every command sends passes protovalidate (bufbuild's judge of the
rules, over the SDK's descriptors)."""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import protovalidate
import pytest
from google.protobuf import json_format

from scalekit_cli.sandbox import protos
from scalekit_cli.scalekit import limits
from tests.cli.conftest import assert_one_error_line

REPO = Path(__file__).resolve().parents[2]

LONG_USER = "u" * 101  # the rule for identifier: at most 100 characters
# A usage error of the option's own parser (Click's wording, then where to read more).
USER_TOO_LONG = re.compile(
    r"sk: invalid value for '--user'( / '-u')?: must be at most 100 characters"
    r" \(see 'sk [a-z -]+ --help'\)"
)


def _api_requests(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in log if r["path"].startswith("/api/")]


@pytest.mark.parametrize(
    "args",
    [
        ("connect", "gmail", "--user", LONG_USER, "--no-wait"),
        ("token", "gmail", "--user", LONG_USER),
        ("status", "--user", LONG_USER),
        ("status", "gmail", "--user", LONG_USER),
        ("disconnect", "gmail", "--user", LONG_USER, "--yes"),
        ("exec-tool", "gmail_fetch_mails", "--user", LONG_USER),
        ("gmail", "unread", "--user", LONG_USER),
        ("run", "gmail", "--user", LONG_USER, "--", "true"),
        ("request", "gmail", "/gmail/v1/users/me/profile", "--user", LONG_USER),
        ("accounts", "list", "--user", LONG_USER),
    ],
    ids=lambda args: " ".join(a for a in args if a != LONG_USER)[:40],
)
def test_user_over_the_rule_is_exit_2_before_any_request(sk, sandbox, args) -> None:
    sandbox.clear_requests()
    result = sk(*args)
    assert result.exit_code == 2, result.streams
    assert USER_TOO_LONG.fullmatch(assert_one_error_line(result)), result.stderr
    assert sandbox.requests() == [], "nothing may be sent"


def test_the_installed_sk_token_keeps_the_rule_too(sk_process, sandbox) -> None:
    # `sk token` has a path without Typer; a value the options' parsers refuse leaves it.
    sandbox.clear_requests()
    done = sk_process("token", "gmail", "--user", LONG_USER)
    assert done.exit_code == 2, done.stderr
    assert USER_TOO_LONG.fullmatch(done.stderr.strip()), done.stderr
    assert sandbox.requests() == [], "nothing may be sent"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("connect", "gm@il", "--user", "u", "--no-wait"),
            "sk: invalid value for 'CONNECTOR': 'gm@il' is not valid: use letters, digits, "
            "spaces, '-', '_' or ':' (the service's rule for connector) (see 'sk connect --help')",
        ),
        (
            ("connect", "gmail", "--user", "u", "--no-wait", "--verify-url", "ftp://app/verify"),
            "sk: invalid value for '--verify-url': does not match regex pattern `^$|^https?://` "
            "(see 'sk connect --help')",
        ),
        (
            ("connect", "gmail", "--user", "u", "--no-wait", "--verify-url", "HTTPS://app/v"),
            "sk: invalid value for '--verify-url': does not match regex pattern `^$|^https?://` "
            "(see 'sk connect --help')",
        ),
        (
            (
                "connect",
                "gmail",
                "--user",
                "u",
                "--no-wait",
                "--verify-url",
                "https://app.example/" + "v" * 2030,
            ),
            "sk: invalid value for '--verify-url': must be at most 2048 characters "
            "(see 'sk connect --help')",
        ),
    ],
    ids=["connector-pattern", "verify-url-scheme", "verify-url-case", "verify-url-length"],
)
def test_other_inputs_over_the_rules_are_exit_2_before_any_request(sk, sandbox, args, line) -> None:
    sandbox.clear_requests()
    result = sk(*args)
    assert result.exit_code == 2, result.streams
    assert assert_one_error_line(result) == line
    assert sandbox.requests() == []


def test_the_longest_user_the_rule_allows_is_sent(sk, sandbox) -> None:
    result = sk("connect", "gmail", "--user", "u" * 100, "--no-wait", "--json")
    assert result.exit_code == 0, result.streams
    assert json.loads(result.stdout)["identifier"] == "u" * 100


def test_connect_of_a_new_user_sends_connected_account(sk, sandbox) -> None:
    sandbox.clear_requests()
    result = sk("connect", "gmail", "--user", "fresh@example.com", "--no-wait")
    assert result.exit_code == 0, result.streams
    (create,) = [
        r
        for r in sandbox.requests()
        if r["method"] == "POST" and r["path"] == "/api/v1/connected_accounts"
    ]
    assert json.loads(create["body"]) == {
        "connector": "gmail",
        "identifier": "fresh@example.com",
        "connected_account": {},
    }


@pytest.mark.parametrize("args", [("status", "--user", "paged"), ("accounts", "list")])
def test_account_pages_stay_under_the_rule(sk, sandbox, driver, args) -> None:
    driver.link("gmail", "paged")
    sandbox.clear_requests()
    result = sk(*args)
    assert result.exit_code in (0, 3), result.streams
    pages = [r for r in sandbox.requests() if r["path"] == "/api/v1/connected_accounts"]
    assert pages
    limit = limits.ACCOUNTS_PAGE_SIZE_LT - 1  # page_size < 100
    assert limit == 99
    for page in pages:
        sizes = re.findall(r"(?:^|&)page_size=(\d+)", page["query"])
        assert sizes == ["99"], page["query"]


def test_shipped_limits_are_what_the_descriptor_set_gives() -> None:
    spec = importlib.util.spec_from_file_location("contract_script", REPO / "scripts/contract.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    shipped = (REPO / "scalekit_cli" / "scalekit" / "limits.py").read_text(encoding="utf-8")
    assert script.limits_text() == shipped, "run `make contract`: limits.py is stale"


def test_a_breach_only_the_service_sees_is_exit_2_and_one_line(sk, sandbox) -> None:
    # sk checks no rule of --account-id; the service's is at most 100 characters.
    sandbox.clear_requests()
    result = sk("exec-tool", "gmail_fetch_mails", "--account-id", "ca_" + "x" * 98, "--no-check")
    assert result.exit_code == 2, result.streams
    assert assert_one_error_line(result) == (
        "sk: the service refused POST /api/v1/execute_tool: "
        "connected_account_id: must be at most 100 characters"
    )
    sent = [r for r in sandbox.requests() if r["path"] == "/api/v1/execute_tool"]
    assert len(sent) == 1, "the request went out: the service judged it"


# --- every request of a walk through every command, judged by protovalidate ---------------


@cache
def _routes() -> list[tuple[str, re.Pattern[str], str, str]]:
    """(method, path regex, rpc, body field) for every documented HTTP binding."""
    routes = []
    for rpc, spec in protos.route_table().items():
        for binding in spec.get("http", ()):
            if binding["documented"]:
                pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(binding["path"]))
                routes.append((binding["method"], re.compile(f"^{pattern}$"), rpc, binding["body"]))
    return routes


def _request_message(entry: dict[str, Any]) -> tuple[str, Any]:
    """The logged HTTP request as the RPC and request message the gateway would make."""
    from urllib.parse import parse_qsl, unquote

    for method, pattern, rpc, body_field in _routes():
        match = pattern.match(entry["path"])
        if method != entry["method"] or match is None:
            continue
        name = protos.route_table()[rpc]["request"]
        if body_field == "*":
            payload = json.loads(entry["body"] or "{}")
        else:
            pairs = parse_qsl(entry["query"], keep_blank_values=True)
            payload = protos.query_payload(name, pairs)
            if body_field:
                payload[body_field] = json.loads(entry["body"] or "{}")
        payload.update({k: unquote(v) for k, v in match.groupdict().items()})
        message = json_format.ParseDict(payload, protos.message_class(name)())
        return rpc, message
    raise AssertionError(f"{entry['method']} {entry['path']} is no operation of the document")


def test_every_request_sk_sends_keeps_the_rules(sk, sandbox, driver, tmp_path) -> None:
    sandbox.clear_requests()
    user = "walker@example.com"
    steps = [
        ("connect", "gmail", "--user", user, "--no-wait"),
        (
            "connect",
            "gmail",
            "--user",
            "checker@example.com",
            "--no-wait",
            "--verify-url",
            "https://app.example/verify",
        ),
    ]
    outcomes = [sk(*step).exit_code for step in steps]
    driver.connect("gmail", user)
    steps = [
        ("token", "gmail", "--user", user),
        ("status", "--user", user),
        ("status", "gmail", "--user", user, "--json"),
        ("accounts", "list"),
        ("accounts", "list", "--all", "--connector", "gmail", "--user", user, "--json"),
        ("tools", "list"),
        ("tools", "list", "--json"),
        ("tools", "show", "gmail_fetch_mails"),
        ("exec-tool", "gmail_fetch_mails", "--user", user, "-d", '{"max_results": 2}'),
        ("gmail", "unread", "--user", user, "--limit", "2"),
        ("request", "gmail", "/gmail/v1/users/me/profile", "--user", user),
        ("run", "gmail", "--user", user, "--", "true"),
        ("doctor", "--user", user),
        ("disconnect", "gmail", "--user", user, "--yes"),
    ]
    outcomes += [sk(*step).exit_code for step in steps]
    assert outcomes.count(0) >= len(outcomes) - 1, outcomes  # doctor may warn (no keyring)
    sent = _api_requests(sandbox.requests())
    rpcs = set()
    for entry in sent:
        rpc, message = _request_message(entry)
        rpcs.add(rpc.rsplit("/", 1)[1])
        try:
            protovalidate.validate(message)
        except protovalidate.ValidationError as error:
            raise AssertionError(f"{entry['method']} {entry['path']}: {error}") from None
    # The walk reached every operation sk uses.
    assert rpcs >= {
        "CreateConnectedAccount",
        "GetConnectedAccountAuth",
        "GetConnectedAccountDetails",
        "GetMagicLinkForConnectedAccount",
        "ListConnectedAccounts",
        "DeleteConnectedAccount",
        "ListTools",
        "ExecuteTool",
    }, rpcs
