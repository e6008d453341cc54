"""`sk mcp serve` driven by the MCP SDK's own client, over stdio and streamable HTTP."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import types

from scalekit_cli.sandbox.hosted_form import approve_as_browser

TRANSPORTS = ["stdio", "http"]


def catalogue(driver) -> list[dict]:
    answer = driver.api("GET", "/api/v1/tools", params={"page_size": 100})
    answer.raise_for_status()
    return answer.json()["tools"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_lists_the_catalogue_and_runs_a_tool(harness, driver, transport):
    driver.connect("gmail", "user_123")
    expected = driver.api(
        "POST",
        "/api/v1/execute_tool",
        json={
            "tool_name": "gmail_fetch_mails",
            "connector": "gmail",
            "identifier": "user_123",
            "params": {"query": "is:unread", "max_results": 2},
        },
    ).json()["data"]

    async def main():
        async with harness.client(transport) as client:
            assert client.server_info.name == "sk"
            listed = await client.list_tools()
            result = await client.call_tool(
                "gmail_fetch_mails", {"query": "is:unread", "max_results": 2}
            )
        return listed, result

    listed, result = anyio.run(main)
    if transport == "stdio":
        # stdout carries protocol messages and nothing else.
        [stdout] = [path for path in harness.logs if path.name.startswith("stdout")]
        lines = stdout.read_text().splitlines()
        assert lines and all(json.loads(line)["jsonrpc"] == "2.0" for line in lines)
    served = {tool.name: tool for tool in listed.tools}
    for entry in catalogue(driver):
        definition = entry["definition"]
        tool = served.pop(definition["name"])
        assert tool.description == definition["description"]
        assert tool.input_schema == definition["input_schema"]
    assert sorted(served) == ["scalekit_authorize", "scalekit_list_connections"]
    assert not result.is_error
    assert result.structured_content == expected
    assert json.loads(result.content[0].text) == expected
    harness.assert_no_secret(driver, "gmail")


FETCH = {"query": "is:unread", "max_results": 1}


def executions(sandbox) -> list[dict]:
    return [
        entry
        for entry in sandbox.requests()
        if entry["method"] == "POST" and entry["path"] == "/api/v1/execute_tool"
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connecting_by_url_elicitation(harness, driver, sandbox, transport):
    asked: list[types.ElicitRequestURLParams] = []

    async def press_allow(context, params):
        asked.append(params)
        await anyio.to_thread.run_sync(approve_as_browser, params.url)
        return types.ElicitResult(action="accept")

    async def main():
        async with harness.client(transport, elicitation=press_allow) as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert len(asked) == 1
    assert asked[0].mode == "url"
    assert asked[0].url.startswith(f"{sandbox.url}/magic/")
    assert "gmail" in asked[0].message
    assert not result.is_error, result.content
    assert result.structured_content["messages"]
    assert driver.account("gmail", "user_123")["status"] == "ACTIVE"
    harness.assert_no_secret(driver, "gmail")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_declined_elicitation_executes_nothing(harness, driver, sandbox, transport):
    async def decline(context, params):
        return types.ElicitResult(action="decline")

    async def main():
        async with harness.client(transport, elicitation=decline) as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert result.is_error
    text = result.content[0].text
    assert "did not open the link" in text and f"{sandbox.url}/magic/" in text
    assert driver.account("gmail", "user_123")["status"] != "ACTIVE"
    assert executions(sandbox) and all(
        json.loads(e["body"])["tool_name"] == "gmail_fetch_mails" for e in executions(sandbox)
    )
    assert len(executions(sandbox)) == 1  # the refused one; nothing after the decline
    harness.assert_no_secret(driver)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connecting_without_elicitation_gives_the_link(harness, driver, sandbox, transport):
    async def main():
        async with harness.client(transport) as client:
            first = await client.call_tool("gmail_fetch_mails", FETCH)
            link = first.content[0].text.rsplit(" ", 1)[-1]
            await anyio.to_thread.run_sync(approve_as_browser, link)
            second = await client.call_tool("gmail_fetch_mails", FETCH)
        return first, link, second

    first, link, second = anyio.run(main)
    assert first.is_error
    text = first.content[0].text
    assert "gmail is not connected for user_123" in text
    assert link.startswith(f"{sandbox.url}/magic/")
    assert not second.is_error
    assert second.structured_content["messages"]
    harness.assert_no_secret(driver, "gmail")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_arguments_breaking_the_schema_execute_nothing(harness, driver, sandbox, transport):
    driver.connect("gmail", "user_123")

    async def main():
        async with harness.client(transport) as client:
            sandbox.clear_requests()
            wrong_type = await client.call_tool("gmail_fetch_mails", {"max_results": "five"})
            unknown = await client.call_tool("scalekit_authorize", {"connectr": "gmail"})
            return wrong_type, unknown

    wrong_type, unknown = anyio.run(main)
    assert wrong_type.is_error
    assert "arguments.max_results: expected integer, got string" in wrong_type.content[0].text
    assert unknown.is_error
    assert "arguments.connectr: not a parameter of this tool" in unknown.content[0].text
    assert executions(sandbox) == []
    assert [e for e in sandbox.requests() if "magic_link" in e["path"]] == []
    harness.assert_no_secret(driver, "gmail")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_tool_is_a_protocol_error(harness, driver, transport):
    from mcp.shared.exceptions import MCPError

    async def main():
        async with harness.client(transport) as client:
            with pytest.raises(MCPError) as raised:
                await client.call_tool("gmail_send_everything", {})
            # The server is still there.
            return raised.value, await client.list_tools()

    error, listed = anyio.run(main)
    assert error.code == types.INVALID_PARAMS
    assert "unknown tool: gmail_send_everything" in error.message
    assert listed.tools
    harness.assert_no_secret(driver)


FAULTS = [
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 429, "retry_after": 60},
    {"kind": "drop"},
    {"kind": "not_json"},
]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_scalekit_faults_are_clean_tool_errors(harness, driver, sandbox, transport):
    driver.connect("gmail", "user_123")

    async def main():
        outcomes = []
        async with harness.client(transport) as client:
            for fault in FAULTS:
                sandbox.fault(path="/api/v1/execute_tool", method="POST", times=None, **fault)
                failed = await client.call_tool("gmail_fetch_mails", FETCH)
                sandbox.admin("DELETE", "/_sandbox/faults")
                # The server keeps serving: the next call goes through.
                recovered = await client.call_tool("gmail_fetch_mails", FETCH)
                outcomes.append((fault, failed, recovered))
        return outcomes

    for fault, failed, recovered in anyio.run(main):
        assert failed.is_error, fault
        text = failed.content[0].text
        assert text.startswith(("POST /api/v1/execute_tool failed", "cannot reach", "127.0.0.1")), (
            fault,
            text,
        )
        assert not recovered.is_error, fault
        assert recovered.structured_content["messages"]
    assert "Traceback" not in harness.written()
    harness.assert_no_secret(driver, "gmail")


def test_built_in_tools(harness, driver, sandbox):
    driver.connect("gmail", "user_123")

    async def main():
        async with harness.client("http", "--allow-proxy") as client:
            listed = await client.list_tools()
            connections = await client.call_tool("scalekit_list_connections", {})
            authorize = await client.call_tool("scalekit_authorize", {"connector": "slack"})
            already = await client.call_tool("scalekit_authorize", {"connector": "gmail"})
            profile = await client.call_tool(
                "scalekit_request",
                {"connector": "gmail", "path": "/gmail/v1/users/me/profile"},
            )
            not_connected = await client.call_tool(
                "scalekit_request", {"connector": "slack", "path": "/api/conversations.list"}
            )
        return listed, connections, authorize, already, profile, not_connected

    listed, connections, authorize, already, profile, not_connected = anyio.run(main)
    names = {tool.name for tool in listed.tools}
    assert {"scalekit_list_connections", "scalekit_authorize", "scalekit_request"} <= names
    [gmail] = connections.structured_content["connections"]
    assert gmail["connector"] == "gmail" and gmail["status"] == "ACTIVE"
    assert "authorization_details" not in json.dumps(connections.structured_content)
    assert authorize.structured_content["link"].startswith(f"{sandbox.url}/magic/")
    assert already.structured_content["status"] == "ACTIVE"
    assert already.structured_content["link"] is None
    assert not profile.is_error
    assert profile.structured_content["status"] == 200
    assert "@" in profile.structured_content["body"]["emailAddress"]
    assert not any("auth" in name.lower() for name in profile.structured_content["headers"])
    # The proxy was called with the account named in headers, and sk's machine token.
    [proxied] = [e for e in sandbox.requests() if e["path"].startswith("/proxy/gmail")]
    assert proxied["headers"]["connection_name"] == "gmail"
    assert not_connected.is_error
    assert "slack is not connected for user_123" in not_connected.content[0].text
    harness.assert_no_secret(driver, "gmail")


def test_proxy_tool_only_with_allow_proxy(harness):
    async def main():
        async with harness.client("stdio") as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    assert "scalekit_request" not in anyio.run(main)


def test_filters_by_connector_and_tool(harness, driver):
    async def main():
        async with harness.client(
            "stdio", "--connector", "slack", "--tool", "gmail_get_profile"
        ) as client:
            return await client.list_tools()

    listed = anyio.run(main)
    slack = {
        e["definition"]["name"]
        for e in catalogue(driver)
        if e["definition"]["name"].startswith("slack_")
    }
    names = {tool.name for tool in listed.tools}
    assert names == slack | {"gmail_get_profile", "scalekit_list_connections", "scalekit_authorize"}
    authorize = next(tool for tool in listed.tools if tool.name == "scalekit_authorize")
    assert authorize.input_schema["properties"]["connector"]["enum"] == ["slack"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connecting_on_the_2026_protocol(harness, driver, sandbox, transport):
    """The SDK's default client negotiates 2026-07-28, which has no server-to-client
    requests: the link travels in an InputRequiredResult and the client calls again."""
    asked: list[types.ElicitRequestURLParams] = []

    async def press_allow(context, params):
        asked.append(params)
        await anyio.to_thread.run_sync(approve_as_browser, params.url)
        return types.ElicitResult(action="accept")

    async def main():
        async with harness.client(transport, elicitation=press_allow, mode="auto") as client:
            version = client.protocol_version
            listed = await client.list_tools()
            result = await client.call_tool("gmail_fetch_mails", FETCH)
        return version, listed, result

    version, listed, result = anyio.run(main)
    assert version == "2026-07-28"
    assert "gmail_fetch_mails" in {tool.name for tool in listed.tools}
    assert len(asked) == 1 and asked[0].url.startswith(f"{sandbox.url}/magic/")
    assert not result.is_error, result.content
    assert result.structured_content["messages"]
    harness.assert_no_secret(driver, "gmail")


def test_custom_user_verification_through_the_loopback_listener(harness, driver, sandbox):
    sandbox.admin("POST", "/_sandbox/settings", json={"user_verification": "custom"})
    pages: list[str] = []

    async def press_allow(context, params):
        pages.append(await anyio.to_thread.run_sync(approve_as_browser, params.url))
        return types.ElicitResult(action="accept")

    async def main():
        async with harness.client("stdio", "--verify-user", elicitation=press_allow) as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert not result.is_error, result.content
    assert "Verified" in pages[0]
    [verify] = [e for e in sandbox.requests() if e["path"].endswith("/user/verify")]
    assert json.loads(verify["body"])["identifier"] == "user_123"
    [link_request] = [e for e in sandbox.requests() if e["path"].endswith("/magic_link")]
    assert json.loads(link_request["body"])["user_verify_url"].startswith("http://127.0.0.1:")
    harness.assert_no_secret(driver, "gmail")


def test_sighup_rereads_the_catalogue_and_says_so(harness, sandbox):
    import signal

    changed = anyio.Event()

    async def on_message(message):
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async def main():
        async with harness.client("http", message_handler=on_message) as client:
            await client.list_tools()
            sandbox.clear_requests()
            harness.processes[-1].send_signal(signal.SIGHUP)
            with anyio.fail_after(20):
                await changed.wait()
            return await client.list_tools()

    listed = anyio.run(main)
    assert "gmail_fetch_mails" in {tool.name for tool in listed.tools}
    assert [e["path"] for e in sandbox.requests()] == ["/api/v1/tools"]
    assert "tool catalogue refreshed" in harness.stderr()


def test_http_refuses_other_origins_and_hosts(harness):
    import httpx

    url = harness.start_http("mcp", "serve", "--user", "user_123")
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "page", "version": "1"},
        },
    }
    accept = {"accept": "application/json, text/event-stream"}
    with httpx.Client(timeout=10) as web:
        # A page of another site in the user's browser, or one reached by DNS rebinding.
        foreign_origin = web.post(
            url, json=initialize, headers={**accept, "origin": "https://evil.example"}
        )
        foreign_host = web.post(url, json=initialize, headers={**accept, "host": "evil.example:80"})
        own = web.post(url, json=initialize, headers=accept)
    assert foreign_origin.status_code == 403
    assert foreign_host.status_code == 421
    assert own.status_code == 200


def test_debug_reveals_nothing_to_the_agent(harness, driver):
    """--debug lets sk's own stderr trace show secrets; the MCP messages stay clean."""
    driver.connect("gmail", "user_123")

    async def main():
        async with harness.client("stdio", "--debug", "--allow-proxy") as client:
            await client.call_tool("gmail_fetch_mails", FETCH)
            await client.call_tool("scalekit_list_connections", {})
            await client.call_tool(
                "scalekit_request", {"connector": "gmail", "path": "/gmail/v1/users/me/profile"}
            )
            await client.call_tool("slack_send_message", {"channel": "#x", "text": "hi"})

    anyio.run(main)
    [stdout] = [path for path in harness.logs if path.name.startswith("stdout")]
    from tests.cli.conftest import assert_no_leak

    oauth = driver.tokens("gmail", "user_123")
    secrets = [*harness.secrets(driver), oauth["access_token"], oauth["refresh_token"]]
    assert_no_leak(stdout.read_text(), *secrets)


def test_gives_up_waiting_after_the_connect_timeout(harness, driver, sandbox):
    async def accept_only(context, params):
        return types.ElicitResult(action="accept")  # but the user never presses Allow

    async def main():
        async with harness.client(
            "stdio", "--connect-timeout", "0.5", elicitation=accept_only
        ) as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert result.is_error
    assert "is still PENDING_AUTH after 0.5 s; nothing was executed" in result.content[0].text
    assert len(executions(sandbox)) == 1  # only the call that found the account unusable


def test_embedded_sandbox(harness, tmp_path):
    """`sk --sandbox mcp serve`: no credentials, and its links open in a real browser."""

    async def press_allow(context, params):
        await anyio.to_thread.run_sync(approve_as_browser, params.url)
        return types.ElicitResult(action="accept")

    env = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}
    harness.env = {**harness.env, **env}

    async def main():
        async with harness.client("stdio", root=("--sandbox",), elicitation=press_allow) as client:
            return await client.call_tool("gmail_get_profile", {})

    result = anyio.run(main)
    assert not result.is_error, result.content
    assert "@" in result.structured_content["emailAddress"]


def test_concurrent_calls(harness, driver, sandbox):
    driver.connect("gmail", "user_123")
    results: list[types.CallToolResult] = []

    async def main():
        async with harness.client("http") as client:

            async def one(count: int) -> None:
                results.append(await client.call_tool("gmail_fetch_mails", {"max_results": count}))

            sandbox.clear_requests()
            async with anyio.create_task_group() as tasks:
                for count in range(1, 7):
                    tasks.start_soon(one, count)

    anyio.run(main)
    assert sorted(len(r.structured_content["messages"]) for r in results) == [1, 2, 3, 4, 5, 6]
    assert len(executions(sandbox)) == 6
    harness.assert_no_secret(driver, "gmail")


def test_a_failed_elicitation_falls_back_to_the_link(harness, sandbox):
    async def fail(context, params):
        return types.ErrorData(code=types.INTERNAL_ERROR, message="no browser here")

    async def main():
        async with harness.client("stdio", elicitation=fail) as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert result.is_error
    assert "gmail is not connected for user_123" in result.content[0].text
    assert f"{sandbox.url}/magic/" in result.content[0].text
