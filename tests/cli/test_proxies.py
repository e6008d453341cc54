"""Proxies named by the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), through
the real entry point, with a forward proxy on loopback in between.

A loopback host is never proxied, so the proxied runs reach the sandbox (served over TLS) by a
name only the proxy can resolve (SANDBOX_NAME): a run that went direct cannot reach it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET, LiveSandbox
from tests.reliability.harness import SkRunner, clean_process_environment, start_sandbox
from tests.scalekit.forward_proxy import ForwardProxy
from tests.scalekit.pki import SANDBOX_NAME, Pki, active_account, make_pki

PROXY_PASSWORD = "CANARYproxy-pw-5Tq8"
USER = "proxied"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    started = ForwardProxy(hosts={SANDBOX_NAME: "127.0.0.1"}).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_sandbox(pki: Pki) -> Iterator[LiveSandbox]:
    sandbox = start_sandbox(ssl_certfile=pki.certificate, ssl_keyfile=pki.key)
    active_account(sandbox, pki.ca, USER)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def named(tls_sandbox: LiveSandbox, pki: Pki, tmp_path: Path) -> Iterator[SkRunner]:
    """`sk` against the TLS sandbox by SANDBOX_NAME, its CA trusted."""
    url = tls_sandbox.url.replace("127.0.0.1", SANDBOX_NAME)
    by_name = {"SCALEKIT_ENV_URL": url, "SK_GMAIL_API_URL": url, "SSL_CERT_FILE": str(pki.ca)}

    class Named(SkRunner):
        def env(self, **overrides: str) -> dict[str, str]:
            return super().env(**{**by_name, **overrides})

    with clean_process_environment(), pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        yield Named(tls_sandbox, tmp_path, quick_tls=False)


def host_port(runner: SkRunner) -> str:
    return runner.env()["SCALEKIT_ENV_URL"].removeprefix("https://")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_never_proxied(sk, driver, sandbox, proxy, host):
    """Whatever NO_PROXY says (here: nothing about loopback), a loopback environment and Gmail
    root are reached direct: the proxy receives not one byte, so neither the client secret nor
    a token."""
    token = driver.connect("gmail", "local")["authorization_details"]["oauth_token"]
    url = sandbox.url.replace("127.0.0.1", host)
    for no_proxy in (None, "example.com"):
        env = {
            "SCALEKIT_ENV_URL": url,
            "SK_GMAIL_API_URL": url,
            "HTTP_PROXY": proxy.url,
            "HTTPS_PROXY": proxy.url,
            "ALL_PROXY": proxy.url,
            **({"NO_PROXY": no_proxy} if no_proxy is not None else {}),
        }
        result = sk("token", "gmail", "--user", "local", "--debug", env=env)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == token["access_token"]
        unread = sk("gmail", "unread", "--user", "local", "--json", env=env)
        assert unread.exit_code == 0, unread.stderr
    assert proxy.seen == []
    assert bytes(proxy.received) == b""
    assert CANARY_CLIENT_SECRET.encode() not in proxy.received


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_https_goes_through_the_proxy_of_the_environment(named, proxy, variable):
    result = named("token", "gmail", "--user", USER, "--debug", env={variable: proxy.url})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith("ya29")
    # Tunnels only: the proxy connected to the sandbox, and TLS ran through it end to end.
    assert proxy.seen
    assert {(seen.method, seen.target) for seen in proxy.seen} == {("CONNECT", host_port(named))}
    assert CANARY_CLIENT_SECRET.encode() not in proxy.received


def test_proxy_credentials_are_sent_to_the_proxy_and_never_shown(named):
    expected = "Basic " + base64.b64encode(f"corp user:{PROXY_PASSWORD}".encode()).decode()
    proxy = ForwardProxy(required_authorization=expected, hosts={SANDBOX_NAME: "127.0.0.1"})
    proxy.start()
    try:
        # The credentials percent-encoded in the proxy's URL, as curl takes them.
        port = proxy.url.rsplit(":", 1)[1]
        url = f"http://corp%20user:{PROXY_PASSWORD}@127.0.0.1:{port}"
        result = named("-v", "status", "gmail", "--user", USER, env={"https_proxy": url})
        assert result.exit_code == 0, result.stderr
        assert proxy.seen and all(seen.authorization == expected for seen in proxy.seen)
        assert_no_leak(result, PROXY_PASSWORD, expected.split()[1], CANARY_CLIENT_SECRET)
        # Without them the proxy refuses, and the answer is the proxy's 407, not a traceback.
        bare = named("status", "gmail", "--user", USER, env={"https_proxy": proxy.url})
        assert bare.exit_code == 1
        assert "the proxy refused the tunnel: 407" in assert_one_error_line(bare)
    finally:
        proxy.stop()


def test_no_proxy_sends_the_host_direct(named, proxy):
    """A host NO_PROXY names goes direct — where nothing resolves SANDBOX_NAME."""
    port = host_port(named).rsplit(":", 1)[1]
    for no_proxy in (SANDBOX_NAME, ".sk.test", f"localhost,{SANDBOX_NAME}:9,sk.test:{port}", "*"):
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": no_proxy}
        result = named("token", "gmail", "--user", USER, env=env)
        assert result.exit_code == 1, no_proxy
        assert assert_one_error_line(result).startswith(f"sk: cannot reach {SANDBOX_NAME}: ")
    assert proxy.seen == []


def test_no_proxy_for_another_port_or_host_still_proxies(named, proxy):
    for no_proxy in (f"{SANDBOX_NAME}:9", "10.0.0.0/8,::1", "example.com", "k.test", "ox.sk.test"):
        proxy.seen.clear()
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": no_proxy}
        result = named("token", "gmail", "--user", USER, "--debug", env=env)
        assert result.exit_code == 0, (no_proxy, result.stderr)
        assert proxy.seen, no_proxy


@pytest.mark.parametrize("proxy_url", ["socks5://127.0.0.1:1080", "https://127.0.0.1:3129"])
def test_a_proxy_sk_cannot_speak_to_is_a_configuration_error(named, proxy_url):
    result = named("token", "gmail", "--user", USER, "--debug", env={"ALL_PROXY": proxy_url})
    assert result.exit_code == 5
    line = assert_one_error_line(result)
    assert "ALL_PROXY" in line and "http:// proxies only" in line


@pytest.mark.parametrize(
    "proxy_url", ["http://127.0.0.1:99999", "http://127.0.0.1:0", "http://pro xy:3128"]
)
def test_an_unusable_proxy_url_is_a_configuration_error_that_hides_it(named, proxy_url):
    secret_url = proxy_url.replace("http://", f"http://user:{PROXY_PASSWORD}@")
    result = named("token", "gmail", "--user", USER, "--debug", env={"HTTPS_PROXY": secret_url})
    assert result.exit_code == 5
    assert "HTTPS_PROXY does not hold a usable proxy URL" in assert_one_error_line(result)
    assert_no_leak(result, PROXY_PASSWORD)


@pytest.mark.parametrize(
    "variables",
    [
        {"HTTPS_PROXY": "http://[::1:3128"},
        {"HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": "h:²"},
    ],
    ids=["unclosed-bracket", "superscript-port"],
)
def test_malformed_proxy_variables_never_crash(named, variables):
    result = named("token", "gmail", "--user", USER, "--debug", env=variables)
    assert result.exit_code in (1, 5), result.stderr
    line = assert_one_error_line(result)
    assert "internal error" not in line
