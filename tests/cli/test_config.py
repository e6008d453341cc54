"""Configuration: flags > environment > .env; URL rules; exit 5 for credential problems."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET


def test_missing_configuration_is_exit_5(sk):
    result = sk("token", "gmail", "--user", "u", "--json", env={"SCALEKIT_ENV_URL": ""})
    assert result.exit_code == 5
    assert "SCALEKIT_ENV_URL" in assert_one_error_line(result)
    no_secret = sk("token", "gmail", "--user", "u", "--json", env={"SCALEKIT_CLIENT_SECRET": ""})
    assert no_secret.exit_code == 5
    assert "SCALEKIT_CLIENT_SECRET" in assert_one_error_line(no_secret)


def test_plain_http_is_refused_off_loopback(sk):
    result = sk(
        "token",
        "gmail",
        "--user",
        "u",
        "--json",
        env={"SCALEKIT_ENV_URL": "http://acme.scalekit.dev"},
    )
    assert result.exit_code == 5
    assert "http://" in assert_one_error_line(result)


@pytest.mark.parametrize("host", ["acme.invalid", "localhost.invalid", "127.0.0.1.invalid"])
def test_bare_host_gets_https(sk, host):
    # Nothing listens there, so the failure names the https URL the host became; a name that
    # only starts like a loopback host is not one.
    result = sk("token", "gmail", "--user", "u", "-v", env={"SCALEKIT_ENV_URL": f"{host}:9"})
    assert result.exit_code == 1
    assert f"https://{host}:9/oauth/token" in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_bare_loopback_host_gets_http(sk, driver, sandbox, host):
    # A local server (the sandbox) speaks plain HTTP: `127.0.0.1:8765` means http://.
    driver.connect("gmail", "u")
    bare = f"{host}:{sandbox.url.rsplit(':', 1)[1]}"
    result = sk("token", "gmail", "--user", "u", "--json", "-v", env={"SCALEKIT_ENV_URL": bare})
    assert result.exit_code == 0, result.stderr
    assert f"POST http://{bare}/oauth/token" in result.stderr
    shown = sk("--env-url", bare, "config", "show", "--json")
    assert json.loads(shown.stdout)["env_url"]["value"] == f"http://{bare}"


def test_environment_url_alias_and_flag_precedence(sk, driver, sandbox):
    driver.connect("gmail", "u")
    alias = sk(
        "token",
        "gmail",
        "--user",
        "u",
        "--json",
        env={"SCALEKIT_ENV_URL": "", "SCALEKIT_ENVIRONMENT_URL": sandbox.url},
    )
    assert alias.exit_code == 0, alias.stderr
    flag = sk(
        "--env-url",
        sandbox.url,
        "token",
        "gmail",
        "--user",
        "u",
        "--json",
        env={"SCALEKIT_ENV_URL": "https://wrong.invalid"},
    )
    assert flag.exit_code == 0, flag.stderr


def test_dotenv_fills_gaps_but_never_overrides_the_environment(sk, driver, sandbox, tmp_path):
    driver.connect("gmail", "u")
    (tmp_path / ".env").write_text("SCALEKIT_CLIENT_SECRET=wrongDotenvQx8Lm3\n")
    # The environment's secret (and URL) win over .env's.
    result = sk("token", "gmail", "--user", "u", "--json")
    assert result.exit_code == 0, result.stderr
    (tmp_path / ".env").write_text(
        f"SCALEKIT_ENV_URL={sandbox.url}\nSCALEKIT_CLIENT_SECRET={CANARY_CLIENT_SECRET}\n"
    )
    only_dotenv = sk(
        "token",
        "gmail",
        "--user",
        "u",
        "--json",
        env={"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_SECRET": ""},
    )
    assert only_dotenv.exit_code == 0, only_dotenv.stderr
    # A .env secret may go to the environment's URL: a more trusted layer chose it.
    only_secret = sk("token", "gmail", "--user", "u", "--json", env={"SCALEKIT_CLIENT_SECRET": ""})
    assert only_secret.exit_code == 0, only_secret.stderr


CANARY_VARIABLE = "canaryAwsSecret-Zq81Lm47Xv"


@pytest.mark.parametrize("spelling", ["${AWS_SECRET_ACCESS_KEY}", "$AWS_SECRET_ACCESS_KEY"])
def test_a_dotenv_is_read_literally(spelling, sk, sk_env, tmp_path):
    """`${VAR}` in a checkout's .env is text, never the developer's variable: it is not sent
    to the .env's server, nor shown by `sk config show`."""
    from tests.security.recording_server import recording_server

    with recording_server() as server:
        (tmp_path / ".env").write_text(
            f"SCALEKIT_ENV_URL={server.url}\nSCALEKIT_CLIENT_ID={spelling}\n"
            "SCALEKIT_CLIENT_SECRET=literal-secret-Qx81\n"
        )
        env = {
            "SCALEKIT_ENV_URL": "",
            "SCALEKIT_CLIENT_ID": "",
            "SCALEKIT_CLIENT_SECRET": "",
            "AWS_SECRET_ACCESS_KEY": CANARY_VARIABLE,
        }
        shown = sk("config", "show", "--json", env=env)
        token = sk("token", "gmail", "--user", "u", "-v", env=env)
    assert json.loads(shown.stdout)["client_id"]["value"] == spelling
    assert server.received, "the .env's own server was not even asked"
    assert spelling.encode() in server.everything or b"AWS_SECRET_ACCESS_KEY" in server.everything
    for result in (shown, token):
        assert_no_leak(result, CANARY_VARIABLE)
    assert_no_leak(server.everything.decode("latin-1"), CANARY_VARIABLE)


def test_an_environment_secret_never_goes_to_a_dotenv_url(sk, driver, sandbox, tmp_path):
    """A CI secret in the environment and only the URL in a pull request's .env: exit 5 naming
    both, and the .env's host receives nothing."""
    from tests.security.recording_server import recording_server

    driver.connect("gmail", "u")
    with recording_server() as server:
        (tmp_path / ".env").write_text(f"SCALEKIT_ENV_URL={server.url}\n")
        env = {"SCALEKIT_ENV_URL": ""}
        results = [
            sk("token", "gmail", "--user", "u", "--json", env=env),
            sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", env=env),
        ]
        shown = sk("config", "show", "--json", env=env)
    assert server.received == []
    for result in results:
        assert result.exit_code == 5, result.streams
        line = assert_one_error_line(result)
        assert "environment (SCALEKIT_CLIENT_SECRET)" in line, line
        assert ".env (SCALEKIT_ENV_URL)" in line, line
        assert_no_leak(result, CANARY_CLIENT_SECRET)
    # `sk config show` shows the settings and ends on the same conflict.
    assert shown.exit_code == 5
    (problem,) = json.loads(shown.stdout)["problems"]
    assert ".env (SCALEKIT_ENV_URL)" in problem
    assert_no_leak(shown, CANARY_CLIENT_SECRET)


def test_dotenv_is_not_imported_without_a_dotenv_file(sk_process):
    import subprocess

    code = (
        "import sys, scalekit_cli.config as c; c.resolve(c.Flags(sandbox=True)); "
        "print('dotenv' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=sk_process.cwd
    )
    assert done.stdout.strip() == "False", done.stderr


def test_wrong_secret_is_exit_5_without_the_secret(sk):
    result = sk(
        "token",
        "gmail",
        "--user",
        "u",
        "--json",
        env={"SCALEKIT_CLIENT_SECRET": "wrong-canary-Qk29xLv"},
    )
    assert result.exit_code == 5
    assert "rejected the client credentials" in assert_one_error_line(result)
    assert_no_leak(result, "wrong-canary-Qk29xLv", CANARY_CLIENT_SECRET)


def test_a_changed_secret_is_noticed_at_once(sk, driver, sk_env, sandbox):
    """After a successful run has cached a machine token, a wrong secret is exit 5 on the next
    run, not a token from the cache; the right one still uses the cache. The cache holds a
    salted HMAC of the secret, nothing it could be read back from."""
    import hashlib
    from pathlib import Path

    driver.connect("gmail", "u")
    assert sk("token", "gmail", "--user", "u", "--json").exit_code == 0
    sandbox.clear_requests()
    wrong = sk(
        "token", "gmail", "--user", "u", "--json", env={"SCALEKIT_CLIENT_SECRET": "wrongCanaryQ71"}
    )
    assert wrong.exit_code == 5, wrong.streams
    assert "rejected the client credentials" in assert_one_error_line(wrong)
    assert [r["path"] for r in sandbox.requests()] == ["/oauth/token"]
    assert_no_leak(wrong, "wrongCanaryQ71", CANARY_CLIENT_SECRET)

    sandbox.clear_requests()
    assert sk("token", "gmail", "--user", "u", "--json").exit_code == 0
    assert not any(r["path"] == "/oauth/token" for r in sandbox.requests())
    (cached,) = (Path(sk_env["SK_CACHE_DIR"]) / "tokens").glob("*.json")
    text = cached.read_text()
    for form in (CANARY_CLIENT_SECRET, hashlib.sha256(CANARY_CLIENT_SECRET.encode()).hexdigest()):
        assert form not in text


def test_bad_timeout_setting(sk):
    result = sk("token", "gmail", "--user", "u", "--json", env={"SK_HTTP_TIMEOUT": "soon"})
    assert result.exit_code == 5
    assert "SK_HTTP_TIMEOUT" in assert_one_error_line(result)


def test_machine_token_cache_file_is_private_and_keyed(sk, driver, sk_env, sandbox):
    from pathlib import Path

    driver.connect("gmail", "u")
    assert sk("token", "gmail", "--user", "u", "--json").exit_code == 0
    directory = Path(sk_env["SK_CACHE_DIR"]) / "tokens"
    (cached,) = directory.glob("*.json")
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert CANARY_CLIENT_SECRET not in cached.read_text()
    # A cache written for one client id is never used for another.
    other = sk(
        "token", "gmail", "--user", "u", "--json", env={"SCALEKIT_CLIENT_ID": "someone-else"}
    )
    assert other.exit_code == 5
    # A corrupted cache is ignored and rewritten.
    cached.write_text("{not json")
    assert sk("token", "gmail", "--user", "u", "--json").exit_code == 0
    assert cached.read_text().startswith("{")


def test_stale_machine_token_is_replaced_once(sk, driver, sandbox):
    driver.connect("gmail", "u")
    assert sk("token", "gmail", "--user", "u", "--json").exit_code == 0
    sandbox.admin("POST", "/_sandbox/machine_tokens/revoke")
    sandbox.clear_requests()
    result = sk("token", "gmail", "--user", "u", "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["path"] for r in sandbox.requests()] == [
        "/api/v1/connected_accounts/auth",
        "/oauth/token",
        "/api/v1/connected_accounts/auth",
    ]


def test_malformed_urls_are_configuration_errors(sk):
    for url, words in (
        ("https://[::1", "not a valid URL"),
        ("https://host:99999", "not a valid URL"),
        ("https://bob:pw-canary-Zq8@acme.scalekit.dev", "user name or password"),
        ("ftp://acme.scalekit.dev", "not an http(s) URL"),
        ("https://acme.scalekit.dev/some/path", "bare origin"),
    ):
        result = sk("token", "gmail", "--user", "u", "-v", env={"SCALEKIT_ENV_URL": url})
        assert result.exit_code == 5, (url, result.stderr)
        assert words in assert_one_error_line(result)
        assert "pw-canary-Zq8" not in result.stderr


def test_gmail_url_follows_the_same_rules(sk, driver, sandbox):
    driver.connect("gmail", "u")
    refused = sk("gmail", "unread", "--user", "u", env={"SK_GMAIL_API_URL": "http://gmail.example"})
    assert refused.exit_code == 5
    assert "Gmail access token would cross the network in clear" in assert_one_error_line(refused)
    # A bare loopback host:port gets http://, like the environment URL.
    bare = sk(
        "gmail",
        "unread",
        "--user",
        "u",
        "-v",
        env={"SK_GMAIL_API_URL": sandbox.url.removeprefix("http://")},
    )
    assert bare.exit_code == 0, bare.stderr
    assert f"GET {sandbox.url}/gmail/v1/users/me/messages" in bare.stderr


# -- a .env supplies the credentials, nothing else -------------------------------------------------


def _no_effect(result, home) -> None:
    """The variable has nothing to show beyond its warning (read from os.environ only)."""


def _not_revealed(result, home) -> None:
    import json

    assert json.loads(result.stdout)["access_token"].endswith("…[redacted]")
    assert "* GET" not in result.stderr  # nor any trace


def _nothing_written_under(name: str):
    def check(result, home) -> None:
        assert not (home / name).exists(), f"sk wrote under the .env's {name}"

    return check


# Each of sk's switches, set in a hostile .env to something that would show if it were read;
# the process environment does not set it.
DOTENV_SWITCHES = {
    "SK_DEBUG": ("1", _not_revealed),
    "SK_GMAIL_API_URL": ("http://127.0.0.1:9", _no_effect),  # config show: see below
    "SK_HTTP_TIMEOUT": ("0.000001", _no_effect),  # read, every request would time out
    "SK_PROFILE": ("attacker", _no_effect),  # read, exit 5: no stored profile
    "SK_RETRY_BACKOFF": ("0", _no_effect),
    "SK_CACHE_DIR": ("evil-cache", _nothing_written_under("evil-cache")),
    "SK_DATA_DIR": ("evil-data", _nothing_written_under("evil-data")),
    "SK_CONFIG_DIR": ("evil-config", _nothing_written_under("evil-config")),
    "SSL_CERT_FILE": ("/nonexistent/ca.pem", _no_effect),  # read, exit 5: no such bundle
    "REQUESTS_CA_BUNDLE": ("/nonexistent/ca.pem", _no_effect),
    "SSL_CERT_DIR": ("/nonexistent", _no_effect),
    # Read, each would be exit 5 (sk speaks to http:// proxies only) or send traffic away.
    "HTTPS_PROXY": ("socks5://127.0.0.1:1", _no_effect),
    "HTTP_PROXY": ("socks5://127.0.0.1:1", _no_effect),
    "http_proxy": ("socks5://127.0.0.1:1", _no_effect),
    "ALL_PROXY": ("socks5://127.0.0.1:1", _no_effect),
}


@pytest.mark.parametrize("name", sorted(DOTENV_SWITCHES))
def test_a_dotenv_switch_is_ignored_with_one_warning(name, sk, driver, sk_env, tmp_path):
    import json

    value, check = DOTENV_SWITCHES[name]
    driver.connect("gmail", "u")
    (tmp_path / ".env").write_text(f"{name}={value}\nDATABASE_URL=postgres://not-ours\n")
    # Unset in the process environment (XDG dirs kept inside tmp_path for the dir switches).
    env = {
        name: None,
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }
    result = sk("token", "gmail", "--user", "u", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if name in line]
    assert warnings == [
        f"! .env sets {name}, which is ignored: only the environment may set it (a .env "
        "supplies SCALEKIT_ENV_URL, SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID, "
        "SCALEKIT_CLIENT_SECRET only)"
    ]
    assert "DATABASE_URL" not in result.stderr  # another tool's key: not sk's business
    check(result, tmp_path)

    shown = sk("config", "show", "--json", env=env)
    assert shown.exit_code == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["ignored_dotenv"] == [name]
    sources = {key: entry["source"] for key, entry in document.items() if isinstance(entry, dict)}
    assert not any(source.startswith(".env") for source in sources.values()), sources
    defaults = {
        "SK_GMAIL_API_URL": "gmail_url",
        "SK_HTTP_TIMEOUT": "timeout",
        "SK_PROFILE": "profile",
    }
    if name in defaults:
        assert sources[defaults[name]] == "default"
    table = sk("config", "show", env=env)
    assert f"ignored\t{name}\t.env (only the environment may set these)" in table.stdout


def test_the_process_environment_still_sets_every_switch(sk, driver, tmp_path):
    """The same switches from the environment are honoured (the rule is about .env only)."""
    driver.connect("gmail", "u")
    revealed = sk("token", "gmail", "--user", "u", env={"SK_DEBUG": "1"})
    assert revealed.stdout.strip() == driver.tokens("gmail", "u")["access_token"]
    unknown_profile = sk(
        "token", "gmail", "--user", "u", "--json",
        env={"SK_PROFILE": "attacker", "SCALEKIT_CLIENT_SECRET": None},
    )  # fmt: skip
    assert unknown_profile.exit_code == 5
    assert "no stored profile 'attacker'" in unknown_profile.stderr


def test_dotenv_warnings_come_before_a_configuration_failure(sk, tmp_path):
    (tmp_path / ".env").write_text("SK_DEBUG=1\n")
    result = sk("status", "gmail", "--user", "u", env={"SCALEKIT_CLIENT_SECRET": ""})
    assert result.exit_code == 5
    lines = result.stderr.splitlines()
    assert lines[0].startswith("! .env sets SK_DEBUG, which is ignored")
    assert lines[-1].startswith("sk: ")


# -- a token goes only to its own API --------------------------------------------------------------


def test_a_gmail_root_other_than_googles_is_announced(sk, driver, sandbox, sk_env):
    import json

    driver.connect("gmail", "u")
    note = (
        f"! Gmail access tokens go to {sandbox.url} (environment (SK_GMAIL_API_URL)), not to "
        "Google's https://gmail.googleapis.com"
    )
    # Once per run, even when Gmail's 401 makes sk fetch a fresh token and send it again.
    sandbox.fault(path="/gmail/*", kind="status", status=401, times=1)
    unread = sk("gmail", "unread", "--user", "u", "--limit", "1")
    assert unread.exit_code == 0, unread.stderr
    assert unread.stderr.splitlines().count(note) == 1
    traced = sk("gmail", "unread", "--user", "u", "--limit", "1", "-v")
    assert traced.stderr.splitlines().count(note) == 1
    shown = sk("config", "show", "--json")
    assert note in shown.stderr.splitlines()
    assert json.loads(shown.stdout)["gmail_url"] == {
        "value": sandbox.url,
        "source": "environment (SK_GMAIL_API_URL)",
    }
    # Google's own root, and the embedded sandbox, need no such note.
    default = sk("config", "show", env={"SK_GMAIL_API_URL": None})
    assert "Gmail access tokens go to" not in default.stderr
