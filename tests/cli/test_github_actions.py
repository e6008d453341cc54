"""GitHub Actions: `::add-mask::` before any revealed secret (stderr, so stdout stays clean), and
`sk token --to-github-env/--to-github-output` appending safely delimited entries."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from scalekit_cli.github_actions import delimited_entry, mask_commands
from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET

IN_ACTIONS = {"GITHUB_ACTIONS": "true"}


def parse_entries(text: str) -> dict[str, str]:
    """The runner's reading of a $GITHUB_ENV / $GITHUB_OUTPUT file (both forms)."""
    entries: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value_lines = []
            while lines[index] != delimiter:
                value_lines.append(lines[index])
                index += 1
            index += 1
            entries[name] = "\n".join(value_lines)
        else:
            name, value = line.split("=", 1)
            entries[name] = value
    return entries


def test_debug_reveal_is_preceded_by_add_mask_and_stdout_stays_clean(sk, driver):
    access = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]["access_token"]
    result = sk("token", "gmail", "--user", "u", "--debug", env=IN_ACTIONS)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == access + "\n"
    lines = result.stderr.splitlines()
    assert f"::add-mask::{access}" in lines
    assert all(line.startswith("::add-mask::") for line in lines)  # no trace: --debug reveals
    # The environment's credentials are never revealed, so never announced either (an
    # `::add-mask::` line is itself the value, in clear, for whoever reads the raw log).
    assert_no_leak(result, CANARY_CLIENT_SECRET)


def test_no_add_mask_outside_actions_or_without_debug(sk, driver):
    access = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]["access_token"]
    outside = sk("token", "gmail", "--user", "u", "--debug")
    assert outside.exit_code == 0 and "::add-mask::" not in outside.stderr
    redacted = sk("token", "gmail", "--user", "u", "--json", env=IN_ACTIONS)
    assert redacted.exit_code == 0 and "::add-mask::" not in redacted.stderr
    assert_no_leak(redacted, access, CANARY_CLIENT_SECRET)


def test_to_github_env_and_output_append_delimited_entries(sk, driver, tmp_path):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    env_file, output_file = tmp_path / "github_env", tmp_path / "github_output"
    env_file.write_text("EARLIER=kept\n")
    files = {"GITHUB_ENV": str(env_file), "GITHUB_OUTPUT": str(output_file)}
    result = sk(
        "token", "gmail", "--user", "u", "--debug",
        "--to-github-env", "GMAIL_TOKEN", "--to-github-output", "token",
        env={**IN_ACTIONS, **files},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"::add-mask::{tokens['access_token']}" in result.stderr
    assert parse_entries(env_file.read_text()) == {
        "EARLIER": "kept",
        "GMAIL_TOKEN": tokens["access_token"],
    }
    assert parse_entries(output_file.read_text()) == {"token": tokens["access_token"]}
    assert env_file.read_text().startswith("EARLIER=kept\nGMAIL_TOKEN<<ghadelimiter_")

    # Without --debug the value still goes whole to the file, and nothing to any stream.
    refresh = sk(
        "token", "gmail", "--user", "u", "--field", "refresh_token",
        "--to-github-env", "REFRESH", env=files,
    )  # fmt: skip
    assert refresh.exit_code == 0, refresh.stderr
    assert refresh.stdout == ""
    assert "::add-mask::" not in refresh.stderr  # not under Actions: no workflow commands
    assert parse_entries(env_file.read_text())["REFRESH"] == tokens["refresh_token"]
    assert_no_leak(refresh, tokens["access_token"], tokens["refresh_token"])
    # Under Actions the runner is told to mask it, --debug or not: later steps may print it.
    masked = sk(
        "token", "gmail", "--user", "u", "--to-github-output", "again", env={**IN_ACTIONS, **files}
    )  # fmt: skip
    assert masked.exit_code == 0 and masked.stdout == ""
    assert masked.stderr.startswith(f"::add-mask::{tokens['access_token']}\n")


def test_to_github_flags_fail_before_any_request(sk, driver, sandbox, tmp_path):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    target = str(tmp_path / "github_env")
    cases = [
        (("--debug", "--to-github-env", "T"), {"GITHUB_ENV": ""}, 5, "$GITHUB_ENV"),
        (("--debug", "--to-github-output", "T"), {"GITHUB_OUTPUT": ""}, 5, "$GITHUB_OUTPUT"),
        (("--debug", "--to-github-env", "1BAD"), {"GITHUB_ENV": target}, 2, "not a variable"),
        (("--debug", "--to-github-env", "A\nB"), {"GITHUB_ENV": target}, 2, "not a variable"),
        (("--debug", "--json", "--to-github-env", "T"), {"GITHUB_ENV": target}, 2, "--json"),
    ]
    for flags, env, code, fragment in cases:
        result = sk("token", "gmail", "--user", "u", *flags, env=env)
        assert result.exit_code == code, (flags, result.stderr)
        assert fragment in assert_one_error_line(result), flags
    assert sandbox.requests() == []
    assert not Path(target).exists()


def test_sk_run_masks_what_it_hands_to_the_child(sk_process, driver):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    result = sk_process(
        "run", "gmail", "--user", "u", "--", sys.executable, "-c", "pass", env=IN_ACTIONS
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"::add-mask::{tokens['access_token']}",
        f"::add-mask::{tokens['refresh_token']}",
    ]


def test_mask_commands_escape_and_split_lines():
    assert mask_commands("abc") == ["::add-mask::abc"]
    # The runner unescapes %25, %0D, %0A: a value holding them must be escaped to be masked.
    assert mask_commands("50%0A") == ["::add-mask::50%250A"]
    assert mask_commands("line one\r\nline two\n") == [
        "::add-mask::line one",
        "::add-mask::line two",
    ]


@given(name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True), value=st.text())
def test_delimited_entries_always_read_back_exactly(name, value):
    # Values are whatever the runner sees after splitting on "\n"; a lone "\r" is kept.
    entry = delimited_entry(name, value)
    assert parse_entries("PREVIOUS=1\n" + entry + "NEXT=2\n") == {
        "PREVIOUS": "1",
        name: value,
        "NEXT": "2",
    }


def test_a_value_cannot_smuggle_in_other_variables():
    crafted = "x\nghadelimiter_guess\nEVIL=1\nLD_PRELOAD<<EOF\n/tmp/evil.so\nEOF"
    entry = delimited_entry("TOKEN", crafted)
    assert parse_entries(entry) == {"TOKEN": crafted}
