"""The MCP rows: `sk mcp serve` (stdio, as hosts start it) driven by the MCP SDK's own client
through the relay — 20 parallel `tools/call` against one, and one `tools/call` against the
raw `execute_tool` request it wraps, on a warm httpx client (the least a call can cost)."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from .measures import USER, Context, Row, judged, through_relay
from .sandbox import SK
from .timing import Stats

PARALLEL = 20
TOOL = "gmail_fetch_mails"
ARGUMENTS: dict[str, Any] = {"query": "in:inbox", "max_results": 3}
PARALLEL_LIMIT = 2.5  # 20 calls at once ÷ one call
OVERHEAD_LIMIT = 1.15  # one tools/call ÷ the raw execute_tool request
EXECUTE = "/api/v1/execute_tool"


def _raw_client(ctx: Context) -> httpx.Client:
    return httpx.Client(
        base_url=ctx.sandbox.url,
        verify=ssl.create_default_context(cafile=ctx.env["SSL_CERT_FILE"]),
        headers={"authorization": f"Bearer {ctx.env['SK_BENCH_MACHINE_TOKEN']}"},
        timeout=30,
    )


def _raw_call(http: httpx.Client) -> dict[str, Any]:
    answer = http.post(
        EXECUTE,
        json={"tool_name": TOOL, "connector": "gmail", "identifier": USER, "params": ARGUMENTS},
    )
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()["data"]
    return data


def measure(ctx: Context, runs: int, warmup: int, errlog: Path) -> list[Row]:
    """Both rows from one server, its samples interleaved: one call, the raw request, a batch."""
    one: list[float] = []
    raw: list[float] = []
    batch: list[float] = []
    params = StdioServerParameters(
        command=str(SK),
        args=["mcp", "serve", "--user", USER, "--connector", "gmail"],
        env=ctx.env,
        cwd=str(ctx.cwd),
    )

    async def main() -> None:
        with errlog.open("w") as log, _raw_client(ctx) as http:
            async with Client(stdio_client(params, errlog=log), mode="legacy") as client:

                async def call() -> dict[str, Any]:
                    result = await client.call_tool(TOOL, ARGUMENTS)
                    if result.is_error or result.structured_content is None:
                        raise RuntimeError(f"sk mcp serve failed the call: {result.content}")
                    return result.structured_content

                # Both sides give the same answer, and sk's requests come through the relay.
                ctx.sandbox.clear_requests()
                expected = await anyio.to_thread.run_sync(_raw_call, http)
                if await call() != expected:
                    raise RuntimeError("sk mcp serve and execute_tool answered differently")
                through_relay(ctx, ctx.sandbox.requests())

                async def parallel() -> None:
                    answers: list[dict[str, Any]] = []

                    async def one_of_many() -> None:
                        answers.append(await call())

                    async with anyio.create_task_group() as tasks:
                        for _ in range(PARALLEL):
                            tasks.start_soon(one_of_many)
                    if answers != [expected] * PARALLEL:
                        raise RuntimeError("a parallel call answered wrong")

                for round_ in range(warmup + runs):
                    started = time.perf_counter()
                    await call()
                    middle = time.perf_counter()
                    await anyio.to_thread.run_sync(_raw_call, http)
                    after_raw = time.perf_counter()
                    await parallel()
                    if round_ >= warmup:
                        one.append(middle - started)
                        raw.append(after_raw - middle)
                        batch.append(time.perf_counter() - after_raw)

    anyio.run(main)
    stats_one, stats_raw, stats_batch = Stats(one), Stats(raw), Stats(batch)
    spread = stats_batch.median / stats_one.median
    overhead = stats_one.median / stats_raw.median
    served = f"`sk mcp serve --user {USER} --connector gmail` (stdio), MCP SDK client"
    call = f"tools/call {TOOL} {ARGUMENTS}"
    return [
        Row(
            f"`sk mcp serve`: {PARALLEL} parallel `tools/call` ÷ one call",
            f"≤ {PARALLEL_LIMIT:.2f}×",
            f"{spread:.2f}×",
            judged(spread <= PARALLEL_LIMIT, ctx.smoke),
            stats_batch,
            stats_one,
            f"{served}: {PARALLEL} × {call} sent at once",
            f"{served}: one {call}",
            note=f"every one of the {PARALLEL} answers checked against execute_tool's",
        ),
        Row(
            "`sk mcp serve`: one `tools/call` ÷ raw `execute_tool` on a warm client",
            f"≤ {OVERHEAD_LIMIT:.2f}×",
            f"{overhead:.2f}×",
            judged(overhead <= OVERHEAD_LIMIT, ctx.smoke),
            stats_one,
            stats_raw,
            f"{served}: one {call}",
            f"httpx.Client, kept alive: POST {EXECUTE} with the same tool and params",
            note="the same answer on both sides (checked), both through the relay",
        ),
    ]
