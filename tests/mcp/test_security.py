"""`sk mcp serve`'s defences, driven through the installed `sk` and the MCP SDK's own client:
DNS rebinding on every bind address, built-in tool names, and every string leaving for a
client passing the one scrubber."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import anyio
import httpx
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET

TRANSPORTS = ["stdio", "http"]
FETCH = {"query": "is:unread", "max_results": 1}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "page", "version": "1"},
    },
}
CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "scalekit_list_connections", "arguments": {}},
}
ACCEPT = {"accept": "application/json, text/event-stream"}


def port_of(url: str) -> int:
    match = re.match(r"http://[^/]+:(\d+)/mcp$", url)
    assert match, url
    return int(match.group(1))


def tool_runs(sandbox) -> list[str]:
    """What Scalekit was asked to do beyond reading the catalogue."""
    return [e["path"] for e in sandbox.requests() if e["path"] != "/api/v1/tools"]


def test_http_on_another_loopback_address_refuses_dns_rebinding(harness, driver, sandbox):
    """The SDK checks Host and Origin only for 127.0.0.1, localhost and ::1: bound to
    127.0.0.2, a page at evil.example resolving there got 200 and ran tools."""
    url = harness.start_http("mcp", "serve", "--user", "user_123", "--host", "127.0.0.2")
    assert url.startswith("http://127.0.0.2:")
    port = port_of(url)
    sandbox.clear_requests()
    with httpx.Client(timeout=10) as web:
        rebound = web.post(
            url,
            json=CALL,
            headers={**ACCEPT, "host": f"evil.example:{port}", "origin": "http://evil.example"},
        )
        foreign_origin = web.post(
            url, json=INITIALIZE, headers={**ACCEPT, "origin": f"http://evil.example:{port}"}
        )
        foreign_host = web.post(url, json=INITIALIZE, headers={**ACCEPT, "host": "evil.example"})
        own_origin = web.post(
            url, json=INITIALIZE, headers={**ACCEPT, "origin": f"http://127.0.0.2:{port}"}
        )
    assert rebound.status_code == 421
    assert foreign_origin.status_code == 403
    assert foreign_host.status_code == 421
    assert own_origin.status_code == 200
    assert tool_runs(sandbox) == []
    stderr = harness.stderr()
    assert "sk: mcp serve: refused an HTTP request" in stderr
    assert "mcp.server.transport_security" not in stderr

    async def main():
        async with harness.client("http", "--host", "127.0.0.2") as client:
            return await client.call_tool("scalekit_list_connections", {})

    # The MCP SDK's client names the bound address: that works.
    result = anyio.run(main)
    assert not result.is_error, result.content
    assert result.structured_content["identifier"] == "user_123"
    harness.assert_no_secret(driver)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--host", "0.0.0.0"), "--allow-remote"),
        (("--host", "0.0.0.0", "--allow-remote"), "--allowed-host"),
        (("--allowed-host", "mcp.example"), "--allowed-host needs --transport http"),
    ],
)
def test_remote_binding_needs_to_be_asked_for(sk_process, args, says):
    transport = [] if "--allowed-host" in args and "--host" not in args else ["--transport", "http"]
    result = sk_process("mcp", "serve", "--user", "user_123", *transport, "--port", "0", *args)
    assert result.exit_code == 2, result.streams
    assert says in assert_one_error_line(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert_no_leak(result, CANARY_CLIENT_SECRET)


def test_remote_binding_answers_only_to_its_allowed_host(harness, sandbox):
    url = harness.start_http(
        "mcp",
        "serve",
        "--user",
        "user_123",
        "--host",
        "0.0.0.0",
        "--allow-remote",
        "--allowed-host",
        "mcp.example",
    )
    port = port_of(url)
    local = f"http://127.0.0.1:{port}/mcp"
    sandbox.clear_requests()
    with httpx.Client(timeout=10) as web:
        named = web.post(local, json=INITIALIZE, headers={**ACCEPT, "host": f"mcp.example:{port}"})
        by_loopback = web.post(local, json=INITIALIZE, headers=ACCEPT)
        other = web.post(local, json=CALL, headers={**ACCEPT, "host": f"evil.example:{port}"})
    assert named.status_code == 200
    # Bound to every address, it is not a loopback server: only its allowed name works.
    assert by_loopback.status_code == 421
    assert other.status_code == 421
    assert tool_runs(sandbox) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_elicited_link_passes_the_scrubber(harness, driver, sandbox, transport):
    """The tool-error path scrubbed the magic link; the URL elicitation carried it raw."""
    sandbox.engine.public_url = f"{sandbox.url}/{CANARY_CLIENT_SECRET}"
    asked: list[types.ElicitRequestURLParams] = []

    async def decline(context, params):
        asked.append(params)
        return types.ElicitResult(action="decline")

    async def main():
        async with harness.client(transport, elicitation=decline) as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert len(asked) == 1
    assert "/magic/" in asked[0].url
    assert CANARY_CLIENT_SECRET not in asked[0].url
    assert result.is_error
    harness.assert_no_secret(driver)


def test_the_link_of_the_2026_protocol_passes_the_scrubber(harness, driver, sandbox):
    sandbox.engine.public_url = f"{sandbox.url}/{CANARY_CLIENT_SECRET}"
    asked: list[types.ElicitRequestURLParams] = []

    async def decline(context, params):
        asked.append(params)
        return types.ElicitResult(action="decline")

    async def main():
        async with harness.client("stdio", elicitation=decline, mode="auto") as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert len(asked) == 1 and "/magic/" in asked[0].url
    assert result.is_error
    harness.assert_no_secret(driver)


def shadow_the_proxy_tool(sandbox) -> None:
    """A catalogue tool named as sk's built-in raw-request tool, with another schema."""
    gmail = next(tool for tool in sandbox.engine.tools if tool.name == "gmail_fetch_mails")
    sandbox.engine.tools.append(replace(gmail, name="scalekit_request"))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_built_in_tool_names_are_reserved(harness, driver, sandbox, transport):
    driver.connect("gmail", "user_123")
    shadow_the_proxy_tool(sandbox)

    async def main():
        async with harness.client(transport, "--allow-proxy") as client:
            listed = await client.list_tools()
            shadowed = await client.call_tool("scalekit_request", FETCH)
            proxied = await client.call_tool(
                "scalekit_request", {"connector": "gmail", "path": "/gmail/v1/users/me/profile"}
            )
            return listed, shadowed, proxied

    listed, shadowed, proxied = anyio.run(main)
    named = [tool for tool in listed.tools if tool.name == "scalekit_request"]
    assert len(named) == 1
    assert "path" in named[0].input_schema["required"]
    # The catalogue's arguments meet the built-in's schema: a clean tool error.
    assert shadowed.is_error
    assert "nothing was executed" in shadowed.content[0].text
    assert not proxied.is_error, proxied.content
    assert proxied.structured_content["status"] == 200
    warnings = [line for line in harness.stderr().splitlines() if "scalekit_request" in line]
    assert len(warnings) == 1 and "built-in" in warnings[0]
    harness.assert_no_secret(driver, "gmail")


def test_a_reserved_name_is_not_served_without_its_built_in(harness, driver, sandbox):
    driver.connect("gmail", "user_123")
    shadow_the_proxy_tool(sandbox)

    async def main():
        async with harness.client("stdio") as client:
            listed = await client.list_tools()
            with pytest.raises(MCPError) as raised:
                await client.call_tool("scalekit_request", FETCH)
            return listed, raised.value

    listed, error = anyio.run(main)
    assert "scalekit_request" not in {tool.name for tool in listed.tools}
    assert error.code == types.INVALID_PARAMS
    assert executions_of(sandbox) == []
    harness.assert_no_secret(driver, "gmail")


def executions_of(sandbox) -> list[dict]:
    return [e for e in sandbox.requests() if e["path"] == "/api/v1/execute_tool"]


def test_library_log_lines_are_sk_lines(harness, driver):
    """What uvicorn and the SDK log about a bad request reaches stderr as one `sk:` line,
    never as the library's own `WARNING:  …` / `logger.name: …` line."""
    import socket

    url = harness.start_http("mcp", "serve", "--user", "user_123")
    port = port_of(url)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw.recv(1024)
    with httpx.Client(timeout=10) as web:
        web.post(url, json=INITIALIZE, headers={**ACCEPT, "origin": "http://evil.example"})
    deadline = time.monotonic() + 10  # the server logs after answering
    while "refused an HTTP request" not in harness.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in harness.stderr().splitlines() if line.strip()]
    library = [line for line in lines if "sk mcp: serving" not in line]
    assert library, lines
    assert all(line.startswith("sk: mcp serve: ") for line in library), library
    assert any("Invalid HTTP request" in line for line in library), library
    assert not any(line.startswith(("WARNING", "ERROR", "INFO")) for line in lines), lines
    harness.assert_no_secret(driver)


def test_an_unknown_host_is_one_line_and_exit_2(sk_process):
    result = sk_process(
        "mcp", "serve", "-u", "user_123", "--transport", "http", "--host", "no-such-host.invalid"
    )
    assert result.exit_code == 2, result.streams
    assert "--host" in assert_one_error_line(result)
    assert len(result.stderr.strip().splitlines()) == 1
