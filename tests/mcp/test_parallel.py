"""Parallel `tools/call` requests are served concurrently: driven by the MCP SDK's own client,
with the sandbox slowing Scalekit's answers so that overlap shows in its request log."""

from __future__ import annotations

import anyio
import pytest
from mcp import types

from scalekit_cli.mcp.server import MAX_PARALLEL_CALLS
from scalekit_cli.sandbox.hosted_form import approve_as_browser

ACCOUNTS = "/api/v1/connected_accounts"
EXECUTE = "/api/v1/execute_tool"
FETCH = {"query": "is:unread", "max_results": 1}
TOOL = "gmail_fetch_mails"
PARALLEL = 20
# Each execute_tool answer waits this long in the sandbox: long enough that every call of a
# batch reaches Scalekit before the first one is answered, if the server runs them together.
LATENCY_MS = 1500


def executions(sandbox) -> list[dict]:
    return [
        entry
        for entry in sandbox.requests()
        if entry["method"] == "POST" and entry["path"] == EXECUTE
    ]


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_parallel_calls_are_in_flight_together(harness, driver, sandbox, transport):
    driver.connect("gmail", "user_123")
    results: dict[int, types.CallToolResult] = {}
    in_flight_at_once: list[int] = []

    async def main() -> None:
        async with harness.client(transport) as client:
            await client.list_tools()
            sandbox.clear_requests()
            sandbox.fault(path=EXECUTE, method="POST", kind="latency", latency_ms=LATENCY_MS)

            async def one(count: int) -> None:
                results[count] = await client.call_tool("gmail_fetch_mails", {"max_results": count})

            async def watch() -> None:
                # Every call reached Scalekit while none had been answered: they overlap.
                with anyio.fail_after(30):
                    while len(executions(sandbox)) < PARALLEL and not results:
                        await anyio.sleep(0.02)
                in_flight_at_once.append(0 if results else len(executions(sandbox)))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch)
                for count in range(1, PARALLEL + 1):
                    tasks.start_soon(one, count)

    anyio.run(main)
    assert in_flight_at_once == [PARALLEL]
    assert sorted(results) == list(range(1, PARALLEL + 1))
    for count, result in results.items():
        assert not result.is_error, result.content
        assert len(result.structured_content["messages"]) == count
    assert len(executions(sandbox)) == PARALLEL
    harness.assert_no_secret(driver, "gmail")


def test_a_slow_tool_delays_no_other_answer(harness, driver, sandbox):
    """scalekit_list_connections reads the accounts, which the sandbox makes slow; the gmail
    calls sent after it are all answered before it is."""
    driver.connect("gmail", "user_123")
    answered: list[str] = []

    async def main() -> None:
        async with harness.client("http") as client:
            sandbox.clear_requests()
            sandbox.fault(path=ACCOUNTS, method="GET", kind="latency", latency_ms=4000, times=1)

            async def slow() -> None:
                result = await client.call_tool("scalekit_list_connections", {})
                assert not result.is_error, result.content
                assert result.structured_content["connections"][0]["connector"] == "gmail"
                answered.append("slow")

            async def fast(count: int) -> None:
                result = await client.call_tool("gmail_fetch_mails", {"max_results": count})
                assert len(result.structured_content["messages"]) == count
                answered.append(f"fast {count}")

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(slow)
                with anyio.fail_after(30):  # the slow call is under way before the others
                    while not any(entry["path"] == ACCOUNTS for entry in sandbox.requests()):
                        await anyio.sleep(0.02)
                for count in range(1, 4):
                    tasks.start_soon(fast, count)

    anyio.run(main)
    assert sorted(answered[:3]) == ["fast 1", "fast 2", "fast 3"]
    assert answered[3:] == ["slow"]
    harness.assert_no_secret(driver, "gmail")


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_progress_while_the_user_authorizes(harness, driver, sandbox, transport):
    """The client opens the link at once but the user approves a moment later: meanwhile the
    call reports progress against the client's progress token, then runs."""
    progress: list[tuple[float, float | None, str | None]] = []
    links: list[str] = []

    async def open_link(context, params):
        links.append(params.url)
        return types.ElicitResult(action="accept")  # the user has not pressed Allow yet

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async def approve_later() -> None:
        with anyio.fail_after(30):
            while len(progress) < 3:
                await anyio.sleep(0.02)
        await anyio.to_thread.run_sync(approve_as_browser, links[0])

    async def main() -> types.CallToolResult:
        async with (
            harness.client(transport, elicitation=open_link) as client,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(approve_later)
            return await client.call_tool("gmail_fetch_mails", FETCH, progress_callback=on_progress)

    result = anyio.run(main)
    assert not result.is_error, result.content
    assert result.structured_content["messages"]
    assert len(progress) >= 3
    values = [value for value, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)  # MCP: increasing
    assert {total for _, total, _ in progress} == {300.0}
    assert all(
        message == "waiting for the user to approve gmail (the account is PENDING_AUTH)"
        for _, _, message in progress
    )
    harness.assert_no_secret(driver, "gmail")


def test_no_progress_without_a_progress_token(harness, driver, sandbox):
    notifications: list[object] = []

    async def open_link(context, params):
        await anyio.to_thread.run_sync(approve_as_browser, params.url)
        return types.ElicitResult(action="accept")

    async def record(message: object) -> None:
        notifications.append(message)

    async def main() -> types.CallToolResult:
        async with harness.client("stdio", elicitation=open_link, message_handler=record) as client:
            return await client.call_tool("gmail_fetch_mails", FETCH)

    result = anyio.run(main)
    assert not result.is_error, result.content
    assert not [n for n in notifications if isinstance(n, types.ProgressNotification)]


def entry(name: str, definition: dict) -> dict:
    schema = {"type": "object", "properties": {}}
    return {"id": f"tol_{name}", "definition": {"name": name, "input_schema": schema, **definition}}


def test_annotations_come_from_the_catalogue_only(harness, sandbox):
    """A definition's MCP annotations are served (booleans only); a definition without them
    gets no hint, whatever its name or tags say."""
    catalogue = [
        entry(
            "gmail_send_email", {"annotations": {"readOnlyHint": False, "destructiveHint": True}}
        ),
        entry("gmail_fetch_mails", {"annotations": {"readOnlyHint": True, "openWorldHint": "no"}}),
        {**entry("slack_list_channels", {}), "tags": ["chat", "read"]},
    ]
    sandbox.fault(
        path="/api/v1/tools",
        method="GET",
        kind="mutate",
        mutation="replace",
        body={"tools": catalogue},
    )

    async def main() -> types.ListToolsResult:
        async with harness.client("stdio") as client:
            return await client.list_tools()

    served = {tool.name: tool.annotations for tool in anyio.run(main).tools}
    assert served["gmail_send_email"] == types.ToolAnnotations(
        read_only_hint=False, destructive_hint=True
    )
    assert served["gmail_fetch_mails"] == types.ToolAnnotations(read_only_hint=True)
    assert served["slack_list_channels"] is None
    assert served["scalekit_list_connections"] == types.ToolAnnotations(
        read_only_hint=True, open_world_hint=False
    )


def test_at_most_max_parallel_calls_run_at_once(harness, driver, sandbox):
    """More calls than the documented limit: the first MAX_PARALLEL_CALLS reach Scalekit
    together, the others once those are answered; all are answered right."""
    driver.connect("gmail", "user_123")
    sent = MAX_PARALLEL_CALLS + 8
    results: dict[int, types.CallToolResult] = {}
    seen_before_any_answer: list[int] = []

    async def main() -> None:
        async with harness.client("http") as client:
            sandbox.clear_requests()
            sandbox.fault(path=EXECUTE, method="POST", kind="latency", latency_ms=LATENCY_MS)

            async def one(count: int) -> None:
                results[count] = await client.call_tool(TOOL, {"max_results": count % 5 + 1})

            async def watch() -> None:
                with anyio.fail_after(30):
                    while len(executions(sandbox)) < MAX_PARALLEL_CALLS:
                        await anyio.sleep(0.02)
                # Half the latency later, still no answer: nothing else has been let through.
                await anyio.sleep(LATENCY_MS / 2000)
                if not results:
                    seen_before_any_answer.append(len(executions(sandbox)))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch)
                for count in range(sent):
                    tasks.start_soon(one, count)

    anyio.run(main)
    assert seen_before_any_answer == [MAX_PARALLEL_CALLS]
    assert len(results) == sent
    for count, result in results.items():
        assert len(result.structured_content["messages"]) == count % 5 + 1
    assert len(executions(sandbox)) == sent


@pytest.mark.parametrize("transport", ["stdio"])
def test_parallel_calls_share_one_renewed_machine_token(harness, driver, sandbox, transport):
    """The machine token is revoked under a batch of parallel calls: each is refused once,
    and one token request renews it for all of them, whenever their refusals come."""
    driver.connect("gmail", "user_123")
    results: list[types.CallToolResult] = []

    async def main() -> None:
        async with harness.client(transport) as client:
            await client.call_tool(TOOL, FETCH)  # a warm client and token
            sandbox.admin("POST", "/_sandbox/machine_tokens/revoke")
            sandbox.clear_requests()
            # Half the batch is refused at once, the other half after the token is renewed:
            # those must not throw the new token away and fetch another each.
            sandbox.fault(
                path=EXECUTE, method="POST", kind="latency", latency_ms=800, after=PARALLEL // 2
            )

            async def one() -> None:
                results.append(await client.call_tool(TOOL, FETCH))

            async with anyio.create_task_group() as tasks:
                for _ in range(PARALLEL):
                    tasks.start_soon(one)

    anyio.run(main)
    errors = [r.content for r in results if r.is_error]
    assert not errors, errors
    fetches = [entry for entry in sandbox.requests() if entry["path"] == "/oauth/token"]
    assert len(fetches) == 1
    harness.assert_no_secret(driver)  # the driver's own token is revoked too
