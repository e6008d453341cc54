"""Profiles: `sk login` / `sk logout`, `--profile` / `SK_PROFILE`, the profile as the lowest
settings layer, the keyring policy, and `sk config show`.

The OS keyring is not available here; the tests select keyrings.alt's file backend explicitly
(PYTHON_KEYRING_BACKEND, keyring's documented switch) with its data root in tmp_path.
"""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keyrings.alt.file import PlaintextKeyring

from scalekit_cli.profiles import (
    PROFILE_NAME,
    Profile,
    choose_backend,
    load_profiles,
    render_profiles,
    save_profiles,
)
from tests.cli.conftest import SK, assert_no_leak, assert_one_error_line, read_terminal
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET

NO_CREDENTIALS = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}


@pytest.fixture
def keyring_env(tmp_path: Path) -> dict[str, str]:
    """keyrings.alt's file backend, chosen explicitly, storing under tmp_path."""
    return {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }


@pytest.fixture
def login(sk, sandbox, keyring_env):
    """`sk login` with the sandbox's (canary) credentials; returns the result."""

    def run(*extra: str, secret: str = CANARY_CLIENT_SECRET, env: dict[str, str] | None = None):
        return sk(
            "login",
            "--env-url",
            sandbox.url,
            "--client-id",
            CANARY_CLIENT_ID,
            "--client-secret-stdin",
            *extra,
            input=secret + "\n",
            env={**NO_CREDENTIALS, **keyring_env, **(env or {})},
        )

    return run


def _profiles_file(sk_env: dict[str, str]) -> Path:
    return Path(sk_env["SK_CONFIG_DIR"]) / "profiles.toml"


def _files_containing(root: Path, secret: str) -> list[Path]:
    return [
        path for path in root.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()
    ]


def test_login_keeps_url_and_id_in_a_private_toml_file_and_the_secret_in_the_keyring(
    login, sk, sk_env, sandbox, driver, keyring_env, tmp_path
):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = login()
    assert result.exit_code == 0, result.stderr
    assert "Logged in" in result.stderr and result.stdout == ""
    assert_no_leak(result, CANARY_CLIENT_SECRET)
    # The credentials were proven with a token request carrying them.
    (exchange,) = [r for r in sandbox.requests() if r["path"] == "/oauth/token"]
    assert f"client_id={CANARY_CLIENT_ID}" in exchange["body"]

    path = _profiles_file(sk_env)
    assert tomllib.loads(path.read_text())["profiles"]["default"] == {
        "env_url": sandbox.url,
        "client_id": CANARY_CLIENT_ID,
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The secret is only where the (explicitly chosen) keyring backend keeps it.
    assert _files_containing(tmp_path, CANARY_CLIENT_SECRET) == []  # keyrings.alt: base64
    keyring_files = list((tmp_path / "xdg-data" / "python_keyring").iterdir())
    assert keyring_files and all(f.name == "keyring_pass.cfg" for f in keyring_files)

    # With no credentials in the environment, the profile is used.
    token = sk("token", "gmail", "--user", "u", "--json", env={**NO_CREDENTIALS, **keyring_env})
    assert token.exit_code == 0, token.stderr
    assert_no_leak(token, CANARY_CLIENT_SECRET)


def test_profile_is_chosen_by_flag_or_sk_profile(login, sk, driver, keyring_env):
    driver.connect("gmail", "u")
    assert login("--profile", "work").exit_code == 0
    env = {**NO_CREDENTIALS, **keyring_env}
    by_flag = sk("--profile", "work", "token", "gmail", "--user", "u", "--json", env=env)
    assert by_flag.exit_code == 0, by_flag.stderr
    by_variable = sk("token", "gmail", "--user", "u", "--json", env={**env, "SK_PROFILE": "work"})
    assert by_variable.exit_code == 0, by_variable.stderr

    # The default profile was not stored: the message says how to get one.
    no_default = sk("token", "gmail", "--user", "u", "--json", env=env)
    assert no_default.exit_code == 5
    assert "sk login" in assert_one_error_line(no_default)
    unknown = sk("--profile", "nope", "token", "gmail", "--user", "u", "--json", env=env)
    assert unknown.exit_code == 5
    assert "no stored profile 'nope'" in assert_one_error_line(unknown)
    bad_name = sk("--profile", "../x", "token", "gmail", "--user", "u", "--json", env=env)
    assert bad_name.exit_code == 2
    assert "profile name" in assert_one_error_line(bad_name)


def test_precedence_flags_environment_dotenv_then_profile(
    login, sk, sandbox, keyring_env, tmp_path
):
    assert login().exit_code == 0
    env = {**NO_CREDENTIALS, **keyring_env}

    def sources(*flags: str, **variables: str) -> dict[str, dict]:
        result = sk(*flags, "config", "show", "--json", env={**env, **variables})
        assert_no_leak(result, CANARY_CLIENT_SECRET)
        return json.loads(result.stdout)

    from_profile = sources()
    assert from_profile["env_url"] == {"value": sandbox.url, "source": "profile default"}
    assert from_profile["client_id"]["source"] == "profile default"
    assert from_profile["client_secret"]["source"] == "profile default (keyring)"
    assert from_profile["client_secret"]["value"].endswith("…[redacted]")

    (tmp_path / ".env").write_text(f"SCALEKIT_ENV_URL={sandbox.url}\n")
    assert sources()["env_url"]["source"] == ".env (SCALEKIT_ENV_URL)"
    assert sources(SCALEKIT_ENV_URL=sandbox.url)["env_url"]["source"] == (
        "environment (SCALEKIT_ENV_URL)"
    )
    flagged = sources("--env-url", sandbox.url, SCALEKIT_ENV_URL="https://wrong.invalid")
    assert flagged["env_url"]["source"] == "flag --env-url"
    secret = sources(SCALEKIT_CLIENT_SECRET="anotherZx81Kq7Wm", SCALEKIT_ENV_URL=sandbox.url)
    assert secret["client_secret"]["source"] == "environment (SCALEKIT_CLIENT_SECRET)"
    assert_no_leak(json.dumps(secret), "anotherZx81Kq7Wm")
    # The environment's secret never goes to the .env's URL (a less trusted layer).
    conflict = sources(SCALEKIT_CLIENT_SECRET="anotherZx81Kq7Wm")
    assert conflict["client_secret"]["value"] is None
    assert ".env (SCALEKIT_ENV_URL)" in conflict["problems"][0]


def test_a_profile_secret_is_never_sent_with_another_client_or_environment(
    login, sk, sandbox_factory, keyring_env
):
    assert login().exit_code == 0
    elsewhere = sandbox_factory()
    env = {**NO_CREDENTIALS, **keyring_env}
    result = sk(
        "token", "gmail", "--user", "u", "--json", env={**env, "SCALEKIT_ENV_URL": elsewhere.url}
    )
    assert result.exit_code == 5
    line = assert_one_error_line(result)
    assert "SCALEKIT_CLIENT_SECRET not set" in line and "never sent" in line
    assert elsewhere.requests() == []
    other_client = sk(
        "token", "gmail", "--user", "u", "--json", env={**env, "SCALEKIT_CLIENT_ID": "x_9"}
    )
    assert other_client.exit_code == 5
    assert_no_leak(result, CANARY_CLIENT_SECRET)


def test_rejected_credentials_exit_5_and_store_nothing(login, sk_env, sandbox, tmp_path):
    result = login(secret="wrongCanaryQk29xLv")
    assert result.exit_code == 5
    line = assert_one_error_line(result)
    assert "rejected the client credentials" in line and "nothing was stored" in line
    assert_no_leak(result, "wrongCanaryQk29xLv")
    assert not _profiles_file(sk_env).exists()
    assert not (tmp_path / "xdg-data" / "python_keyring").exists()


def test_no_keyring_backend_exits_5_explains_and_writes_no_secret(sk, sandbox, tmp_path):
    sandbox.clear_requests()
    result = sk(
        "login",
        "--env-url",
        sandbox.url,
        "--client-id",
        CANARY_CLIENT_ID,
        "--client-secret-stdin",
        input=CANARY_CLIENT_SECRET + "\n",
        env={
            **NO_CREDENTIALS,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        },
    )
    assert result.exit_code == 5
    line = assert_one_error_line(result)
    assert "no usable keyring backend" in line and "nothing was stored" in line
    # The options: environment variables, or a keyring backend such as keyrings.alt.
    assert "SCALEKIT_CLIENT_SECRET" in result.stderr and "keyrings.alt" in result.stderr
    assert_no_leak(result, CANARY_CLIENT_SECRET)
    assert _files_containing(tmp_path, CANARY_CLIENT_SECRET) == []
    assert sandbox.requests() == []  # it failed before using the secret at all


def test_plaintext_backends_are_used_only_when_chosen_explicitly():
    from keyring.backend import KeyringBackend
    from keyring.backends import fail, null
    from keyrings.alt.file import PlaintextKeyring

    class Recommended(KeyringBackend):
        priority = 5  # type: ignore[assignment]

        def get_password(self, service, username):
            return None

        # Choosing a backend never stores through a candidate: these must not be reached.
        def set_password(self, service, username, password):
            raise AssertionError("choose_backend stored through a candidate")

        def delete_password(self, service, username):
            raise AssertionError("choose_backend deleted through a candidate")

    plaintext, recommended = PlaintextKeyring(), Recommended()
    # Detected: only a recommended backend (priority >= 1) will do.
    assert choose_backend(None, [plaintext, fail.Keyring()]) is None
    assert choose_backend(None, [plaintext, recommended]) is recommended
    # Configured by the user (PYTHON_KEYRING_BACKEND or keyringrc.cfg): their choice.
    assert choose_backend(plaintext, [recommended]) is plaintext
    assert choose_backend(fail.Keyring(), [recommended]) is None
    assert choose_backend(null.Keyring(), [recommended]) is None


def test_login_without_a_terminal_needs_its_values_as_flags(sk, sandbox, keyring_env, sk_env):
    env = {**NO_CREDENTIALS, **keyring_env}
    no_url = sk("login", "--client-id", "x", "--client-secret-stdin", input="s\n", env=env)
    assert no_url.exit_code == 2
    assert "--env-url is required" in assert_one_error_line(no_url)
    no_secret = sk("login", "--env-url", sandbox.url, "--client-id", "x", env=env)
    assert no_secret.exit_code == 2
    assert "--client-secret-stdin" in assert_one_error_line(no_secret)
    empty = sk(
        "login", "--env-url", sandbox.url, "--client-id", "x", "--client-secret-stdin",
        input="\n", env=env,
    )  # fmt: skip
    assert empty.exit_code == 2
    sandboxed = sk("--sandbox", "login", env=env)
    assert sandboxed.exit_code == 2
    assert not _profiles_file(sk_env).exists()


def test_login_on_a_terminal_asks_and_hides_the_secret(sk_env, sandbox, keyring_env, tmp_path):
    """Run `sk login` with a pseudo-terminal as its controlling terminal and answer it."""
    env = {**os.environ, **sk_env, **NO_CREDENTIALS, **keyring_env, "NO_COLOR": "1"}
    pid, leader = pty.fork()
    if pid == 0:  # the child: exec sk at once
        os.chdir(tmp_path)
        os.execve(str(SK), [str(SK), "login", "--profile", "typed"], env)
    answers = [
        (b"Environment URL", sandbox.url.encode()),
        (b"Client ID", CANARY_CLIENT_ID.encode()),
        (b"Client secret (input hidden)", CANARY_CLIENT_SECRET.encode()),
    ]

    def answer_prompts(screen: bytes) -> None:
        if answers and answers[0][0] in screen:
            os.write(leader, answers.pop(0)[1] + b"\n")

    screen = read_terminal(leader, answer_prompts)
    _, status = os.waitpid(pid, 0)
    os.close(leader)
    text = screen.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert not answers, text
    assert sandbox.url in text  # visible input is echoed by the terminal…
    assert_no_leak(text, CANARY_CLIENT_SECRET)  # …the secret is not
    assert "Logged in" in text
    assert load_profiles(_profiles_file(sk_env))["typed"] == Profile(
        "typed", sandbox.url, CANARY_CLIENT_ID
    )


def test_logout_forgets_profile_secret_and_cached_token(login, sk, sk_env, keyring_env, driver):
    driver.connect("gmail", "u")
    assert login().exit_code == 0
    env = {**NO_CREDENTIALS, **keyring_env}
    assert sk("token", "gmail", "--user", "u", "--json", env=env).exit_code == 0
    cached = list((Path(sk_env["SK_CACHE_DIR"]) / "tokens").glob("*.json"))
    assert cached

    result = sk("logout", env=env)
    assert result.exit_code == 0, result.stderr
    assert "Logged out" in result.stderr
    assert "default" not in load_profiles(_profiles_file(sk_env))
    assert not any(path.exists() for path in cached)
    gone = sk("token", "gmail", "--user", "u", "--json", env=env)
    assert gone.exit_code == 5
    again = sk("logout", env=env)
    assert again.exit_code == 5
    assert "no stored profile 'default'" in assert_one_error_line(again)
    # The keyring entry went too: a profile file restored by hand finds no secret.
    save_profiles({"default": Profile("default", driver.live.url, CANARY_CLIENT_ID)},
                  _profiles_file(sk_env))  # fmt: skip
    orphan = sk("token", "gmail", "--user", "u", "--json", env=env)
    assert orphan.exit_code == 5
    assert "not in the keyring" in assert_one_error_line(orphan)


def test_config_show_names_every_source_and_redacts_the_secret(sk, sandbox):
    table = sk("config", "show", "--debug")
    assert table.exit_code == 0, table.stderr
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in table.stdout.splitlines()}
    assert rows["setting"] == ["value", "source"]
    assert rows["env_url"] == [sandbox.url, "environment (SCALEKIT_ENV_URL)"]
    assert rows["client_id"] == [CANARY_CLIENT_ID, "environment (SCALEKIT_CLIENT_ID)"]
    assert rows["client_secret"][1] == "environment (SCALEKIT_CLIENT_SECRET)"
    assert rows["timeout"] == ["10", "environment (SK_HTTP_TIMEOUT)"]
    assert rows["profile"] == ["default", "default"]
    assert set(rows) >= {"gmail_url"}
    assert_no_leak(table, CANARY_CLIENT_SECRET)  # even with --debug

    incomplete = sk("config", "show", "--json", env={"SCALEKIT_CLIENT_SECRET": ""})
    assert incomplete.exit_code == 5
    document = json.loads(incomplete.stdout)
    assert document["client_secret"] == {"value": None, "source": "not set"}
    assert document["timeout"]["value"] == 10
    assert "SCALEKIT_CLIENT_SECRET not set" in assert_one_error_line(incomplete)


def _keyring_imported(args: list[str], env: dict[str, str], cwd: Path) -> tuple[bool, str]:
    code = (
        "import sys\n"
        "from scalekit_cli.cli.main import main\n"
        f"code = main({args!r})\n"
        "sys.stderr.write(f'\\nexit={code} keyring={\"keyring\" in sys.modules}\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("exit=0 "), done.stderr
    return last.endswith("keyring=True"), done.stdout


def test_keyring_is_imported_only_when_a_profile_secret_is_used(
    login, sk_env, keyring_env, driver, tmp_path
):
    driver.connect("gmail", "u")
    assert login().exit_code == 0
    args = ["token", "gmail", "--user", "u", "--json"]
    # Credentials from the environment (a profile is stored, but nothing is missing).
    imported, _ = _keyring_imported(args, {**sk_env, **keyring_env}, tmp_path)
    assert not imported
    # The same command with the secret from the profile does load it.
    imported, _ = _keyring_imported(args, {**sk_env, **keyring_env, **NO_CREDENTIALS}, tmp_path)
    assert imported


NAMES = st.from_regex(PROFILE_NAME, fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(entries=st.dictionaries(NAMES, st.tuples(st.text(), st.text()), max_size=4))
def test_profiles_file_round_trips_any_text(entries, tmp_path_factory):
    profiles = {name: Profile(name, url, client) for name, (url, client) in entries.items()}
    path = tmp_path_factory.mktemp("profiles") / "profiles.toml"
    save_profiles(profiles, path)
    assert tomllib.loads(render_profiles(profiles)) == (
        {
            "profiles": {
                n: {"env_url": p.env_url, "client_id": p.client_id} for n, p in profiles.items()
            }
        }
        if profiles
        else {}
    )
    assert load_profiles(path) == profiles


def test_login_with_a_bare_loopback_url_uses_http(sk, sandbox, keyring_env):
    # `sk login --env-url 127.0.0.1:8765` once became https:// and failed in the TLS handshake.
    bare = sandbox.url.removeprefix("http://")
    result = sk(
        "login", "--profile", "local", "--env-url", bare, "--client-id", CANARY_CLIENT_ID,
        "--client-secret-stdin", input=CANARY_CLIENT_SECRET + "\n",
        env={**NO_CREDENTIALS, **keyring_env},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    shown = sk(
        "--profile", "local", "config", "show", "--json", env={**NO_CREDENTIALS, **keyring_env}
    )
    assert json.loads(shown.stdout)["env_url"]["value"] == sandbox.url


@pytest.mark.parametrize("backend", ["KeepsOnDelete", "DeniesHolding"])
def test_logout_with_a_keyring_that_keeps_the_secret_says_so_and_fails(
    login, sk, sk_env, keyring_env, backend
):
    stubborn = {**keyring_env, "PYTHON_KEYRING_BACKEND": f"tests.cli.keyring_backends.{backend}"}
    assert login(env=stubborn).exit_code == 0
    env = {**NO_CREDENTIALS, **stubborn}
    result = sk("logout", env=env)
    assert result.exit_code == 5
    assert "Logged out" not in result.streams and "✓" not in result.streams
    line = assert_one_error_line(result)
    assert f"the keyring (tests.cli.keyring_backends.{backend}) still holds" in line
    assert "the profile is kept" in line and line.endswith("then run sk logout")
    assert_no_leak(result, CANARY_CLIENT_SECRET)
    # True to its word: the profile and its secret are both still usable.
    assert "default" in load_profiles(_profiles_file(sk_env))
    shown = sk("config", "show", env=env)
    assert "profile default (keyring)" in shown.stdout


def test_logout_when_the_keyring_held_no_secret_says_that(login, sk, keyring_env):
    assert login().exit_code == 0
    env = {**NO_CREDENTIALS, **keyring_env}
    # The entry went by other means (the keyring's own tool) before logout.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", keyring_env["XDG_DATA_HOME"])
        PlaintextKeyring().delete_password("scalekit-cli", "default")
    result = sk("logout", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("✓ Logged out: profile default (")
    assert "the keyring (keyrings.alt.file.PlaintextKeyring) held no secret for it" in result.stderr
