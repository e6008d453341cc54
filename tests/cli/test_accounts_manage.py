"""`sk accounts update` (static credentials, api_config: what UpdateConnectedAccount takes) and
`sk accounts list --status/--connector` filters."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from tests.cli.conftest import assert_no_leak, assert_one_error_line

ACCOUNTS = "/api/v1/connected_accounts"
OLD_KEY = "exa-old-canary-6d1e0c9a7f3b"
NEW_KEY = "exa-new-canary-92b4e8d1c05a"


def _store_key(driver, identifier: str, key: str) -> None:
    details = {"static_auth": {"details": {"api_key": key}}}
    answer = driver.api(
        "POST",
        ACCOUNTS,
        json={
            "connector": "exa",
            "identifier": identifier,
            "connected_account": {"authorization_details": details},
        },
    )
    answer.raise_for_status()


def test_update_replaces_the_credentials_with_a_put(sk, sandbox, driver):
    _store_key(driver, "u", OLD_KEY)
    sandbox.clear_requests()
    result = sk(
        "accounts", "update", "exa", "--user", "u", "--credentials-stdin", "--field", "region=eu",
        "-v", input=json.dumps({"api_key": NEW_KEY}),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "updated the credentials of the exa account of u (ACTIVE)" in result.stderr
    assert result.stdout == ""
    calls = [(r["method"], r["path"]) for r in sandbox.requests() if r["path"] != "/oauth/token"]
    assert calls == [("GET", f"{ACCOUNTS}/details"), ("PUT", ACCOUNTS)]
    details = driver.account("exa", "u", credentials=True)["authorization_details"]
    assert details == {"static_auth": {"details": {"api_key": NEW_KEY, "region": "eu"}}}
    assert_no_leak(result, NEW_KEY, OLD_KEY)


def test_update_merges_api_config_and_prints_the_account_as_json(sk, sandbox, driver, tmp_path):
    _store_key(driver, "u", OLD_KEY)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"timeout": 30}))
    first = sk("accounts", "update", "exa", "--user", "u", "--api-config", '{"rate_limit": 5}')
    assert first.exit_code == 0, first.stderr
    result = sk("accounts", "update", "exa", "--user", "u", "--api-config", f"@{config}", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["connector"] == "exa" and document["identifier"] == "u"
    assert document["status"] == "ACTIVE" and document["authorization_type"] == "API_KEY"
    assert "authorization_details" not in document
    stored = driver.account("exa", "u", credentials=True)
    assert stored["api_config"] == {"rate_limit": 5, "timeout": 30}
    assert stored["authorization_details"]["static_auth"]["details"] == {"api_key": OLD_KEY}
    assert_no_leak(result, OLD_KEY)


def test_update_refuses_what_it_cannot_do(sk, sandbox, driver):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk(
        "accounts", "update", "gmail", "--user", "u", "--credentials-stdin",
        input=json.dumps({"api_key": NEW_KEY}),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "gmail uses OAUTH authorization" in assert_one_error_line(result)
    assert not any(r["method"] == "PUT" for r in sandbox.requests())

    result = sk("accounts", "update", "exa", "--user", "u")
    assert result.exit_code == 2
    assert "nothing to update" in assert_one_error_line(result)

    result = sk("accounts", "update", "exa", "--user", "u", "--field", f"token={NEW_KEY}")
    assert result.exit_code == 2
    assert "never taken on the command line" in assert_one_error_line(result)
    assert_no_leak(result, NEW_KEY)

    result = sk("accounts", "update", "exa", "--user", "u", "--api-config", "[1]")
    assert result.exit_code == 2
    assert "--api-config must hold" in assert_one_error_line(result)
    assert not any(r["method"] == "PUT" for r in sandbox.requests())


def test_update_of_a_missing_account_says_connect(sk):
    result = sk("accounts", "update", "exa", "--user", "nobody", "--api-config", '{"a": 1}')
    assert result.exit_code == 3
    assert "sk connect exa --user nobody" in assert_one_error_line(result)


def _accounts(sk, *args: str) -> list[dict]:
    result = sk("accounts", "list", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_list_filters_by_status_and_connector(sk, sandbox, driver):
    _store_key(driver, "alice", OLD_KEY)  # exa, ACTIVE
    driver.connect("gmail", "alice")  # gmail, ACTIVE
    driver.link("gmail", "bob")  # gmail, PENDING_AUTH
    driver.connect("slack", "bob")
    driver.force("slack", "bob", "EXPIRED")

    sandbox.clear_requests()
    active = _accounts(sk, "--status", "ACTIVE")
    assert sorted((a["connector"], a["identifier"]) for a in active) == [
        ("exa", "alice"),
        ("gmail", "alice"),
    ]
    (listed,) = [dict(parse_qsl(r["query"])) for r in sandbox.requests() if r["path"] == ACCOUNTS]
    assert "status" not in listed  # the contract's list has no status parameter

    sandbox.clear_requests()
    pending = _accounts(sk, "--status", "PENDING_AUTH", "--connector", "gmail")
    assert [(a["connector"], a["identifier"], a["status"]) for a in pending] == [
        ("gmail", "bob", "PENDING_AUTH")
    ]
    (listed,) = [dict(parse_qsl(r["query"])) for r in sandbox.requests() if r["path"] == ACCOUNTS]
    assert listed["connector"] == "gmail"  # the connector filter is the server's

    expired = _accounts(sk, "--status", "EXPIRED", "--all")
    assert [(a["connector"], a["status"]) for a in expired] == [("slack", "EXPIRED")]

    # The table on a pipe: a header and tab-separated rows, only the matching ones.
    result = sk("accounts", "list", "--status", "PENDING_AUTH")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Connector\tUser\tStatus\tType\tUpdated\tId"
    assert [line.split("\t")[:3] for line in lines[1:]] == [["gmail", "bob", "PENDING_AUTH"]]

    result = sk("accounts", "list", "--status", "DISCONNECTED")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no connected accounts match" in result.stderr


def test_list_status_takes_only_the_contracts_spellings(sk, sandbox):
    sandbox.clear_requests()
    for typo in ("ACTIV", "active", "PENDING"):
        result = sk("accounts", "list", "--status", typo)
        assert result.exit_code == 2, typo
        line = assert_one_error_line(result)
        assert "--status" in line and "'ACTIVE'" in line and "'PENDING_AUTH'" in line
    assert not any(r["path"] == ACCOUNTS for r in sandbox.requests())
    result = sk("accounts", "list", "--help")
    assert "PENDING_VERIFICATION" in result.stdout and "DISCONNECTED" in result.stdout


def test_update_refuses_input_that_is_not_strict_json(sk, sandbox, driver):
    """NaN/Infinity (Python's json takes them, JSON has none) and repeated keys are exit 2 on
    one line, before anything is sent — not a `cannot reach` network failure."""
    _store_key(driver, "u", OLD_KEY)
    sandbox.clear_requests()
    for config, fragment in (
        ('{"rate_limit": NaN}', "NaN is not a JSON value"),
        ('{"rate_limit": Infinity}', "Infinity is not a JSON value"),
        ('{"a": 1, "a": 2}', "repeats a key"),
        ("[" * 100_000, "nested too deeply"),
    ):
        result = sk("accounts", "update", "exa", "--user", "u", "--api-config", config)
        assert result.exit_code == 2, (config[:20], result.stderr)
        line = assert_one_error_line(result)
        assert "--api-config is not valid JSON" in line and fragment in line, line
    for text, fragment in (
        (f'{{"api_key": "{NEW_KEY}", "n": NaN}}', "NaN is not a JSON value"),
        (f'{{"api_key": "{NEW_KEY}", "api_key": "{OLD_KEY}"}}', "repeats a key"),
    ):
        result = sk("accounts", "update", "exa", "--user", "u", "--credentials-stdin", input=text)
        assert result.exit_code == 2, result.stderr
        assert fragment in assert_one_error_line(result)
        assert_no_leak(result, NEW_KEY, OLD_KEY)
    assert not any(r["method"] == "PUT" for r in sandbox.requests())
    stored = driver.account("exa", "u", credentials=True)["authorization_details"]
    assert stored == {"static_auth": {"details": {"api_key": OLD_KEY}}}
