"""Parallel `tools/call` requests are served concurrently: driven by the MCP SDK's own client,
with the sandbox slowing Scalekit's answers so that overlap shows in its request log."""

from __future__ import annotations

import anyio
import pytest
from mcp import types

EXECUTE = "/api/v1/execute_tool"
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
