"""Tool-search mode of `sk mcp serve`: two tools (search, run) instead of the whole catalogue,
driven by the MCP SDK's own client over stdio and streamable HTTP against a live sandbox."""

from __future__ import annotations

import json
import signal
from dataclasses import replace

import anyio
import pytest
from jsonschema import Draft202012Validator
from mcp import types

from scalekit_cli.mcp import TOOL_SEARCH_THRESHOLD
from scalekit_cli.mcp.search import RUN_TOOL, SEARCH_TOOLS
from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET

TRANSPORTS = ["stdio", "http"]
FETCH = {"query": "is:unread", "max_results": 2}
EXECUTE = "/api/v1/execute_tool"
SEARCH = "/api/v1/tools:search"


def executions(sandbox) -> list[dict]:
    return [e for e in sandbox.requests() if e["method"] == "POST" and e["path"] == EXECUTE]


def seed_tools(sandbox, count: int, *, description: str | None = None) -> list[str]:
    """`count` more gmail tools in the catalogue (copies of gmail_fetch_mails, renamed)."""
    gmail = next(tool for tool in sandbox.engine.tools if tool.name == "gmail_fetch_mails")
    names = [f"gmail_fetch_mails_copy_{index}" for index in range(count)]
    for name in names:
        copy = replace(gmail, name=name)
        if description is not None:
            copy = replace(copy, description=description)
        sandbox.engine.tools.append(copy)
    return names


def catalogue_schema(driver, name: str) -> dict:
    answer = driver.api("GET", "/api/v1/tools", params={"filter.tool_name": name})
    [tool] = answer.json()["tools"]
    return tool["definition"]["input_schema"]


def found(result: types.CallToolResult) -> dict[str, dict]:
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content
    return {tool["name"]: tool for tool in result.structured_content["tools"]}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_lists_exactly_the_search_and_run_tools(harness, driver, transport):
    async def main():
        async with harness.client(transport, "--tool-search") as client:
            return await client.list_tools()

    listed = anyio.run(main)
    tools = {tool.name: tool for tool in listed.tools}
    assert sorted(tools) == sorted([SEARCH_TOOLS, RUN_TOOL])
    for tool in tools.values():
        Draft202012Validator.check_schema(tool.input_schema)
        assert tool.input_schema["additionalProperties"] is False
        assert tool.description
        for field in tool.input_schema["properties"].values():
            assert field["description"]
    assert tools[SEARCH_TOOLS].input_schema["required"] == ["query"]
    assert set(tools[SEARCH_TOOLS].input_schema["properties"]) == {"query", "connector", "limit"}
    assert tools[SEARCH_TOOLS].annotations.read_only_hint is True
    assert tools[RUN_TOOL].input_schema["required"] == ["name"]
    assert tools[RUN_TOOL].input_schema["properties"]["arguments"]["type"] == "object"
    assert "through scalekit_search_tools" in harness.stderr()
    harness.assert_no_secret(driver)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_search_then_run_matches_a_direct_call(harness, driver, sandbox, transport):
    driver.connect("gmail", "user_123")

    async def main():
        async with harness.client(transport, "--tool-search") as client:
            sandbox.clear_requests()
            emails = await client.call_tool(SEARCH_TOOLS, {"query": "fetch emails newest first"})
            searched = [e["path"] for e in sandbox.requests()]
            slack = await client.call_tool(
                SEARCH_TOOLS, {"query": "send a message to a channel", "limit": 1}
            )
            ran = await client.call_tool(
                RUN_TOOL, {"name": "gmail_fetch_mails", "arguments": FETCH}
            )
            unconnected = await client.call_tool(
                RUN_TOOL, {"name": "slack_list_channels", "arguments": {}}
            )
        async with harness.client(transport) as client:
            direct = await client.call_tool("gmail_fetch_mails", FETCH)
        return emails, searched, slack, ran, unconnected, direct

    emails, searched, slack, ran, unconnected, direct = anyio.run(main)
    assert emails.structured_content["source"] == "service"
    assert SEARCH in searched
    gmail = found(emails)["gmail_fetch_mails"]
    assert gmail["readiness"] == "connected"
    assert gmail["connector"] == "gmail"
    assert gmail["input_schema"] == catalogue_schema(driver, "gmail_fetch_mails")
    assert list(found(slack)) == ["slack_send_message"]
    assert found(slack)["slack_send_message"]["readiness"] == "needs connection"
    # run_tool answers exactly what the direct call in normal mode answers.
    assert not ran.is_error, ran.content
    assert ran.structured_content == direct.structured_content
    assert ran.structured_content["messages"]
    # A tool whose app is not connected goes through the same connection flow.
    assert unconnected.is_error
    assert "slack is not connected for user_123" in unconnected.content[0].text
    assert "/magic/" in unconnected.content[0].text
    harness.assert_no_secret(driver, "gmail")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_names_and_bad_arguments_are_tool_errors(harness, driver, sandbox, transport):
    driver.connect("gmail", "user_123")

    async def main():
        async with harness.client(transport, "--tool-search") as client:
            sandbox.clear_requests()
            unknown = await client.call_tool(
                RUN_TOOL, {"name": "gmail_send_everything", "arguments": {}}
            )
            bad = await client.call_tool(
                RUN_TOOL, {"name": "gmail_fetch_mails", "arguments": {"max_results": "five"}}
            )
            nameless = await client.call_tool(RUN_TOOL, {"arguments": {}})
            empty = await client.call_tool(SEARCH_TOOLS, {"query": "   "})
            too_many = await client.call_tool(SEARCH_TOOLS, {"query": "email", "limit": 500})
            elsewhere = await client.call_tool(SEARCH_TOOLS, {"query": "x", "connector": "jira"})
            return unknown, bad, nameless, empty, too_many, elsewhere

    unknown, bad, nameless, empty, too_many, elsewhere = anyio.run(main)
    assert elsewhere.is_error
    assert "no tool of 'jira' is served" in elsewhere.content[0].text
    for result in (unknown, bad, nameless, empty, too_many):
        assert result.is_error
        assert "nothing was executed" in result.content[0].text
    assert "unknown tool: gmail_send_everything" in unknown.content[0].text
    assert SEARCH_TOOLS in unknown.content[0].text
    assert "arguments.max_results: expected integer, got string" in bad.content[0].text
    assert "arguments.name: required" in nameless.content[0].text
    assert "arguments.query: blank" in empty.content[0].text
    assert "arguments.limit" in too_many.content[0].text
    assert executions(sandbox) == []
    harness.assert_no_secret(driver, "gmail")


def test_search_falls_back_to_the_catalogue(harness, driver, sandbox):
    """An environment without tools:search: the served catalogue, ranked by the query's
    words, with readiness from the user's accounts."""
    driver.connect("gmail", "user_123")
    sandbox.fault(path=SEARCH, method="POST", kind="status", status=501, times=None)

    async def main():
        async with harness.client("stdio", "--tool-search") as client:
            return await client.call_tool(
                SEARCH_TOOLS, {"query": "fetch emails", "connector": "gmail"}
            ), await client.call_tool(SEARCH_TOOLS, {"query": "slack channels"})

    emails, slack = anyio.run(main)
    assert emails.structured_content["source"] == "catalogue"
    assert next(iter(found(emails))) == "gmail_fetch_mails"
    assert found(emails)["gmail_fetch_mails"]["readiness"] == "connected"
    assert set(found(emails)) <= {"gmail_fetch_mails", "gmail_get_profile"}
    assert found(slack)["slack_list_channels"]["readiness"] == "needs connection"
    harness.assert_no_secret(driver, "gmail")


def test_switches_on_by_itself_above_the_threshold(harness, driver, sandbox):
    async def names(*args: str) -> set[str]:
        async with harness.client("stdio", *args) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    async def main():
        small = await names()
        seed_tools(sandbox, TOOL_SEARCH_THRESHOLD)
        return small, await names(), await names("--no-tool-search")

    small, large, forced = anyio.run(main)
    assert len(small) <= TOOL_SEARCH_THRESHOLD
    assert "gmail_fetch_mails" in small and SEARCH_TOOLS not in small
    assert large == {SEARCH_TOOLS, RUN_TOOL}
    assert len(forced) == len(small) + TOOL_SEARCH_THRESHOLD > TOOL_SEARCH_THRESHOLD
    harness.assert_no_secret(driver)


def test_a_refresh_notifies_and_changes_the_search(harness, driver, sandbox):
    changed = anyio.Event()

    async def on_message(message):
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    query = {"query": "archive zebra"}

    async def main():
        async with harness.client("http", "--tool-search", message_handler=on_message) as client:
            await client.list_tools()
            before = await client.call_tool(SEARCH_TOOLS, query)
            [added] = seed_tools(sandbox, 1, description="Archive the zebra-striped messages.")
            harness.processes[-1].send_signal(signal.SIGHUP)
            with anyio.fail_after(20):
                await changed.wait()
            after = await client.call_tool(SEARCH_TOOLS, query)
            return added, await client.list_tools(), before, after

    added, listed, before, after = anyio.run(main)
    assert found(before) == {}
    assert list(found(after)) == [added]
    assert {tool.name for tool in listed.tools} == {SEARCH_TOOLS, RUN_TOOL}
    harness.assert_no_secret(driver)


def test_run_tool_connects_with_progress(harness, driver, sandbox):
    """Through run_tool, a tool whose app is not connected elicits the link and reports
    progress against the client's progress token while the user approves, then runs."""
    progress: list[str | None] = []
    links: list[str] = []

    async def open_link(context, params):
        links.append(params.url)
        return types.ElicitResult(action="accept")  # the user has not pressed Allow yet

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async def approve_later() -> None:
        with anyio.fail_after(30):
            while len(progress) < 2:
                await anyio.sleep(0.02)
        await anyio.to_thread.run_sync(approve_as_browser, links[0])

    async def main() -> types.CallToolResult:
        async with (
            harness.client("http", "--tool-search", elicitation=open_link) as client,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(approve_later)
            arguments = {"name": "gmail_fetch_mails", "arguments": FETCH}
            return await client.call_tool(RUN_TOOL, arguments, progress_callback=on_progress)

    result = anyio.run(main)
    assert not result.is_error, result.content
    assert result.structured_content["messages"]
    assert len(links) == 1 and links[0].startswith(f"{sandbox.url}/magic/")
    assert len(progress) >= 2
    assert set(progress) == {"waiting for the user to approve gmail (the account is PENDING_AUTH)"}
    harness.assert_no_secret(driver, "gmail")


def test_run_tool_connects_on_the_2026_protocol(harness, driver, sandbox):
    """On 2026-07-28 the link travels in an InputRequiredResult and the client calls
    run_tool again with the answer: the retry reaches the same tool."""
    asked: list[str] = []

    async def press_allow(context, params):
        asked.append(params.url)
        await anyio.to_thread.run_sync(approve_as_browser, params.url)
        return types.ElicitResult(action="accept")

    async def main():
        async with harness.client(
            "stdio", "--tool-search", elicitation=press_allow, mode="auto"
        ) as client:
            assert client.protocol_version == "2026-07-28"
            arguments = {"name": "gmail_fetch_mails", "arguments": FETCH}
            return await client.call_tool(RUN_TOOL, arguments)

    result = anyio.run(main)
    assert len(asked) == 1
    assert not result.is_error, result.content
    assert len(result.structured_content["messages"]) == FETCH["max_results"]
    assert driver.account("gmail", "user_123")["status"] == "ACTIVE"
    harness.assert_no_secret(driver, "gmail")


PARALLEL = 10
LATENCY_MS = 1500


def test_parallel_calls_through_run_tool(harness, driver, sandbox):
    driver.connect("gmail", "user_123")
    results: dict[int, types.CallToolResult] = {}
    in_flight: list[int] = []

    async def main():
        async with harness.client("http", "--tool-search") as client:
            sandbox.clear_requests()
            sandbox.fault(path=EXECUTE, method="POST", kind="latency", latency_ms=LATENCY_MS)

            async def one(count: int) -> None:
                arguments = {"name": "gmail_fetch_mails", "arguments": {"max_results": count}}
                results[count] = await client.call_tool(RUN_TOOL, arguments)

            async def watch() -> None:
                with anyio.fail_after(30):
                    while len(executions(sandbox)) < PARALLEL and not results:
                        await anyio.sleep(0.02)
                in_flight.append(0 if results else len(executions(sandbox)))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch)
                for count in range(1, PARALLEL + 1):
                    tasks.start_soon(one, count)

    anyio.run(main)
    # Every call reached Scalekit before any was answered: they ran together.
    assert in_flight == [PARALLEL]
    for count, result in results.items():
        assert not result.is_error, result.content
        assert len(result.structured_content["messages"]) == count
    harness.assert_no_secret(driver, "gmail")


def test_the_docs_name_the_threshold_and_the_parallel_limit():
    """README and docs/mcp.md state both figures; they must be the code's."""
    from pathlib import Path

    from scalekit_cli.mcp.server import MAX_PARALLEL_CALLS

    root = Path(__file__).resolve().parents[2]
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    guide = " ".join((root / "docs" / "mcp.md").read_text(encoding="utf-8").split())
    assert f"up to {MAX_PARALLEL_CALLS} at a time (`MAX_PARALLEL_CALLS`)" in readme
    assert f"When more than {TOOL_SEARCH_THRESHOLD} tools are served" in readme
    assert f"up to **{MAX_PARALLEL_CALLS} at a time**" in guide
    assert f"whenever more than **{TOOL_SEARCH_THRESHOLD}** tools are served" in guide
    assert f"tool search when more than {TOOL_SEARCH_THRESHOLD} tools are served" in guide


def test_both_flags_are_a_usage_error(sk_process):
    result = sk_process("mcp", "serve", "-u", "user_123", "--tool-search", "--no-tool-search")
    assert result.exit_code == 2, result.streams
    assert "contradict" in assert_one_error_line(result)
    assert_no_leak(result, CANARY_CLIENT_SECRET)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hostile_meta_tool_arguments_are_tool_errors(harness, driver, sandbox, transport):
    """What a confused or hostile agent may send the two tools: a whole-number float limit
    (JSON Schema's integer), the meta tools' own names through run_tool (no recursion), and
    `arguments` that are not an object. Each is a tool error, nothing runs."""
    driver.connect("gmail", "user_123")

    async def main():
        async with harness.client(transport, "--tool-search") as client:
            sandbox.clear_requests()
            floated = await client.call_tool(SEARCH_TOOLS, {"query": "send", "limit": 1.0})
            itself = await client.call_tool(
                RUN_TOOL, {"name": RUN_TOOL, "arguments": {"name": RUN_TOOL}}
            )
            searcher = await client.call_tool(RUN_TOOL, {"name": SEARCH_TOOLS})
            listish = await client.call_tool(
                RUN_TOOL, {"name": "gmail_fetch_mails", "arguments": [1]}
            )
            return floated, itself, searcher, listish

    floated, itself, searcher, listish = anyio.run(main)
    assert len(found(floated)) == 1
    for result in (itself, searcher):
        assert result.is_error
        assert "arguments.name: unknown tool" in result.content[0].text
    assert listish.is_error
    assert "arguments.arguments" in listish.content[0].text
    assert executions(sandbox) == []
    assert "failed" not in harness.stderr()
    harness.assert_no_secret(driver, "gmail")


def test_a_tool_the_service_ranks_twice_is_found_once(harness, driver, sandbox):
    """tools:search may answer one name more than once (a tool of two connections, or a
    hostile server): the agent gets each served tool once, at its best rank."""
    driver.connect("gmail", "user_123")
    answer = driver.api(
        "POST", SEARCH, json={"query": "fetch emails", "identifier": "user_123"}
    ).json()
    first, *rest = answer["tools"]
    body = {**answer, "tools": [first, first, *rest, first]}
    sandbox.fault(path=SEARCH, method="POST", kind="mutate", mutation="replace", body=body)

    async def main():
        async with harness.client("stdio", "--tool-search") as client:
            return await client.call_tool(SEARCH_TOOLS, {"query": "fetch emails"})

    result = anyio.run(main)
    names = [tool["name"] for tool in result.structured_content["tools"]]
    assert names == ["gmail_fetch_mails", "slack_fetch_conversation_history"]
    assert result.structured_content["tools"][0]["readiness"] == "connected"
