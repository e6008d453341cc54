"""`sk status`: one account or all of a user's; exit 0 only when all are ACTIVE."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from tests.cli.conftest import assert_one_error_line

SUMMARY_KEYS = {
    "connector",
    "identifier",
    "status",
    "id",
    "authorization_type",
    "provider",
    "token_expires_at",
    "updated_at",
    "last_used_at",
}


def test_one_account_active_and_not(sk, driver):
    driver.connect("gmail", "u")
    ok = sk("status", "gmail", "--user", "u", "--json")
    assert ok.exit_code == 0
    document = json.loads(ok.stdout)
    assert set(document) >= SUMMARY_KEYS
    assert document["status"] == "ACTIVE" and document["id"].startswith("ca_")
    assert "access_token" not in ok.stdout

    driver.force("gmail", "u", "DISCONNECTED")
    bad = sk("status", "gmail", "--user", "u", "--json")
    assert bad.exit_code == 3
    assert json.loads(bad.stdout)["status"] == "DISCONNECTED"
    # The hint is the failure's one `sk:` line, like every exit 3.
    line = assert_one_error_line(bad)
    assert line.startswith("sk: gmail is DISCONNECTED; run: sk connect gmail --user u")


def test_missing_account_is_exit_3(sk):
    result = sk("status", "gmail", "--user", "ghost")
    assert result.exit_code == 3
    assert "sk connect gmail --user ghost" in assert_one_error_line(result)


def test_all_accounts_of_a_user(sk, driver):
    driver.connect("gmail", "u")
    driver.connect("slack", "u")
    driver.connect("gmail", "someone else")
    result = sk("status", "--user", "u", "--json")
    assert result.exit_code == 0, result.stderr
    documents = json.loads(result.stdout)
    assert sorted(d["connector"] for d in documents) == ["gmail", "slack"]
    assert all(set(d) >= SUMMARY_KEYS for d in documents)

    driver.link("notion", "u")  # created, never authorized: PENDING_AUTH
    mixed = sk("status", "--user", "u")
    assert mixed.exit_code == 3
    # Not a terminal: a header line and tab-separated rows.
    lines = mixed.stdout.strip().splitlines()
    assert lines[0].split("\t")[:2] == ["Connector", "Status"]
    assert len(lines) == 4
    assert any(line.startswith("notion\tPENDING_AUTH") for line in lines)
    assert assert_one_error_line(mixed) == "sk: 1 of 3 accounts are not ACTIVE"


def test_user_with_no_accounts(sk):
    result = sk("status", "--user", "nobody", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) == []
    assert assert_one_error_line(result).startswith("sk: no connected accounts for 'nobody'")


def test_all_pages_are_read(sk, sandbox_factory, sk_env):
    from scalekit_cli.sandbox import Connection
    from tests.cli.conftest import SandboxDriver

    connections = [Connection(f"app{index:03d}", "TEST", "OAUTH", []) for index in range(150)]
    live = sandbox_factory(connections=connections)
    driver = SandboxDriver(live)
    for connection in connections:
        driver.api(
            "POST",
            "/api/v1/connected_accounts",
            json={"connector": connection.name, "identifier": "many", "connected_account": {}},
        )
    live.clear_requests()
    result = sk("status", "--user", "many", "--json", env={"SCALEKIT_ENV_URL": live.url})
    assert result.exit_code == 3  # never authorized
    assert sorted(d["connector"] for d in json.loads(result.stdout)) == [
        c.name for c in connections
    ]
    pages = [r for r in live.requests() if r["path"] == "/api/v1/connected_accounts"]
    assert len(pages) == 2  # 99 + 51: the rule is page_size < 100
    assert [dict(parse_qsl(r["query"]))["page_size"] for r in pages] == ["99", "99"]
