"""Rough edges a new user meets in the first hour: numbers refused in sk's own words, one
redaction shape in `sk demo --json`, a QR code of a link no phone can reach, and the README's
`sk request` example that runs on the sandbox."""

from __future__ import annotations

import json

import pytest

from scalekit_cli.scalekit.secrets import mask
from tests.cli.conftest import assert_one_error_line


@pytest.mark.parametrize("value", ["abc", "3.5", "1e3", ""])
@pytest.mark.parametrize("flag", ["-n", "--limit"])
def test_a_limit_that_is_not_an_integer_is_refused_in_sks_words(sk, driver, flag, value):
    driver.connect("gmail", "u")
    result = sk("gmail", "unread", "--user", "u", flag, value)
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert line.startswith(f"sk: invalid value for '--limit' / '-n': {value!r} is not an integer")
    assert "Input should be" not in result.streams and "pydantic" not in result.streams
    assert result.stdout == ""


def test_an_integer_limit_still_works(sk, driver):
    driver.connect("gmail", "u")
    result = sk("gmail", "unread", "--user", "u", "-n", "+2", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count('"id"') == 2


def test_demo_json_redacts_tokens_in_the_same_shape_as_sk_token(sk, sk_env):
    demo = sk("demo", "--json")
    assert demo.exit_code == 0, demo.stderr
    shown = json.loads(demo.stdout)["token"]
    token = sk("--sandbox", "token", "gmail", "--user", "user_123", "--json")
    assert token.exit_code == 0, token.stderr
    expected = json.loads(token.stdout)
    # Both masks, from the one function every other command uses.
    whole = sk("--sandbox", "token", "gmail", "--user", "user_123", "--json", "--debug")
    secrets = json.loads(whole.stdout)
    for name in ("access_token", "refresh_token"):
        assert shown[name] == expected[name] == mask(secrets[name])
