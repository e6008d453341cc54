"""Proxies named by the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), through
the real entry point against the sandbox, with a forward proxy on loopback in between."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET
from tests.scalekit.forward_proxy import ForwardProxy

PROXY_PASSWORD = "CANARYproxy-pw-5Tq8"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    started = ForwardProxy().start()
    yield started
    started.stop()


def test_sk_token_goes_through_the_http_proxy_of_the_environment(sk, driver, sandbox, proxy):
    token = driver.connect("gmail", "proxied")["authorization_details"]["oauth_token"]
    result = sk("token", "gmail", "--user", "proxied", "--debug", env={"HTTP_PROXY": proxy.url})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == token["access_token"]
    # Absolute-form request lines: the proxy, not the client, connected to the sandbox.
    targets = [seen.target for seen in proxy.seen]
    assert f"{sandbox.url}/oauth/token" in targets
    assert any(t.startswith(f"{sandbox.url}/api/v1/connected_accounts/auth?") for t in targets)


def test_proxy_credentials_are_sent_to_the_proxy_and_never_shown(sk, driver, sandbox):
    expected = "Basic " + base64.b64encode(f"corp user:{PROXY_PASSWORD}".encode()).decode()
    proxy = ForwardProxy(required_authorization=expected).start()
    try:
        driver.connect("gmail", "proxied")
        # The credentials percent-encoded in the proxy's URL, as curl takes them.
        port = proxy.url.rsplit(":", 1)[1]
        url = f"http://corp%20user:{PROXY_PASSWORD}@127.0.0.1:{port}"
        result = sk("-v", "status", "gmail", "--user", "proxied", env={"http_proxy": url})
        assert result.exit_code == 0, result.stderr
        assert proxy.seen and all(seen.authorization == expected for seen in proxy.seen)
        assert_no_leak(result, PROXY_PASSWORD, expected.split()[1], CANARY_CLIENT_SECRET)
        # Without them the proxy refuses, and the answer is the proxy's 407, not a traceback.
        bare = sk("status", "gmail", "--user", "proxied", env={"http_proxy": proxy.url})
        assert bare.exit_code != 0
        assert_one_error_line(bare)
    finally:
        proxy.stop()


def test_no_proxy_sends_the_host_direct(sk, driver, sandbox, proxy):
    token = driver.connect("gmail", "direct")["authorization_details"]["oauth_token"]
    port = sandbox.url.rsplit(":", 1)[1]
    for no_proxy in (
        "127.0.0.1",
        f"localhost,127.0.0.1:9,127.0.0.1:{port}",  # this port only
        "*",
        "10.0.0.0/8, 127.0.0.0/8",
    ):
        env = {"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy}
        result = sk("token", "gmail", "--user", "direct", "--debug", env=env)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == token["access_token"]
    assert proxy.seen == []


@pytest.mark.parametrize("proxy_url", ["socks5://127.0.0.1:1080", "https://127.0.0.1:3129"])
def test_a_proxy_sk_cannot_speak_to_is_a_configuration_error(sk, driver, proxy_url):
    driver.connect("gmail", "proxied")
    result = sk("token", "gmail", "--user", "proxied", "--debug", env={"ALL_PROXY": proxy_url})
    assert result.exit_code == 5
    line = assert_one_error_line(result)
    assert "ALL_PROXY" in line and "http:// proxies only" in line


def test_no_proxy_for_another_port_or_range_still_proxies(sk, driver, sandbox, proxy):
    driver.connect("gmail", "proxied")
    for no_proxy in ("127.0.0.1:9", "10.0.0.0/8,::1", "example.com"):
        env = {"HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy}
        proxy.seen.clear()
        result = sk("token", "gmail", "--user", "proxied", "--debug", env=env)
        assert result.exit_code == 0, result.stderr
        assert proxy.seen, no_proxy


@pytest.mark.parametrize(
    "proxy_url", ["http://127.0.0.1:99999", "http://127.0.0.1:0", "http://pro xy:3128"]
)
def test_an_unusable_proxy_url_is_a_configuration_error_that_hides_it(sk, driver, proxy_url):
    driver.connect("gmail", "proxied")
    secret_url = proxy_url.replace("http://", f"http://user:{PROXY_PASSWORD}@")
    result = sk("token", "gmail", "--user", "proxied", "--debug", env={"HTTP_PROXY": secret_url})
    assert result.exit_code == 5
    assert "HTTP_PROXY does not hold a usable proxy URL" in assert_one_error_line(result)
    assert_no_leak(result, PROXY_PASSWORD)


@pytest.mark.parametrize(
    "variables",
    [{"HTTP_PROXY": "http://[::1:3128"}, {"HTTP_PROXY": "http://127.0.0.1:1", "NO_PROXY": "h:²"}],
    ids=["unclosed-bracket", "superscript-port"],
)
def test_malformed_proxy_variables_never_crash(sk, driver, variables):
    driver.connect("gmail", "proxied")
    result = sk("token", "gmail", "--user", "proxied", "--debug", env=variables)
    assert result.exit_code in (1, 5), result.stderr
    line = assert_one_error_line(result)
    assert "internal error" not in line
