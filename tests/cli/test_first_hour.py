"""Rough edges a new user meets in the first hour: numbers refused in sk's own words, one
redaction shape in `sk demo --json`, a QR code of a link no phone can reach, and the README's
`sk request` example that runs on the sandbox."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

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


def _readme_request_examples() -> list[str]:
    """The `sk request` lines of the reference's `sk request` section, as written."""
    readme = (Path(__file__).parents[2] / "docs" / "commands.md").read_text(encoding="utf-8")
    section = readme.split("### `sk request ", 1)[1].split("\n### ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0] for line in block.splitlines() if line.startswith("sk ")]


def test_the_readmes_request_examples_run_on_the_sandbox(sk, driver):
    examples = _readme_request_examples()
    for connector in {shlex.split(example)[2] for example in examples}:
        driver.connect(connector, "user_123")
    assert len(examples) >= 3
    listed = json.loads(
        sk("request", "gmail", "--user", "user_123", "/gmail/v1/users/me/messages").stdout
    )
    some_id = listed["messages"][0]["id"]
    for example in examples:
        argv = shlex.split(example.replace("MESSAGE_ID", some_id))
        assert argv[0] == "sk"
        result = sk(*argv[1:])
        assert result.exit_code == 0, (example, result.stderr)
        assert json.loads(result.stdout), example


def test_the_readme_names_the_calendar_connector_as_it_is_spelt():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    intro = readme.split("```", 1)[0]
    assert "`googlecalendar`" in intro
