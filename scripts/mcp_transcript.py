"""The README's "Agents (MCP)" transcript, from a real run (`python scripts/mcp_transcript.py`).

It starts `sk --sandbox mcp serve` (the embedded sandbox, state in a temporary directory) as
an agent host would, over stdio, and drives it with the MCP SDK's own client: once as a host
without URL elicitation (the link comes back in a tool error), once as one with it (the link
arrives as an elicitation; the "user" presses Allow on the hosted page).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, types
from mcp.client.stdio import StdioServerParameters

from scalekit_cli.sandbox.hosted_form import approve_as_browser

SK = Path(sys.executable).with_name("sk")
FETCH = {"query": "is:unread", "max_results": 1}
WIDTH = 96


def shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def say(who: str, text: str) -> None:
    # Wrapped for the README; a link is never broken.
    lines = textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False) or [""]
    print(f"{who:<6} {lines[0]}")
    for line in lines[1:]:
        print(f"{'':<6} {line}")


def answer(result: types.CallToolResult) -> None:
    if result.is_error:
        say("sk", "isError: " + result.content[0].text)
    else:
        say("sk", shown(result.structured_content))


async def session(user: str, env: dict[str, str], elicitation: bool) -> None:
    async def press_allow(context: Any, params: types.ElicitRequestURLParams) -> types.ElicitResult:
        say("sk", f"elicitation/create (url): {params.message}")
        say("", shown(params.url))
        say("user", "opens the link and presses Allow")
        await anyio.to_thread.run_sync(approve_as_browser, params.url)
        say("agent", '→ {"action": "accept"}')
        return types.ElicitResult(action="accept")

    server = StdioServerParameters(
        command=str(SK), args=["--sandbox", "mcp", "serve", "--user", user], env=env
    )
    callback = press_allow if elicitation else None
    async with Client(server, mode="legacy", elicitation_callback=callback) as client:
        listed = await client.list_tools()
        say("agent", "tools/list")
        say("sk", ", ".join(tool.name for tool in listed.tools))
        say("agent", f"tools/call gmail_fetch_mails {json.dumps(FETCH)}")
        first = await client.call_tool("gmail_fetch_mails", FETCH)
        answer(first)
        if first.is_error:
            link = first.content[0].text.rsplit(" ", 1)[-1]
            say("user", "opens the link and presses Allow")
            await anyio.to_thread.run_sync(approve_as_browser, link)
            say("agent", f"tools/call gmail_fetch_mails {json.dumps(FETCH)}")
            answer(await client.call_tool("gmail_fetch_mails", FETCH))


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "SK_DATA_DIR": str(Path(home) / "data"),
            "SK_CACHE_DIR": str(Path(home) / "cache"),
            "SK_CONFIG_DIR": str(Path(home) / "config"),
        }
        print("# a host without URL elicitation")
        anyio.run(session, "user_123", env, False)
        print("\n# a host with URL elicitation")
        anyio.run(session, "user_456", env, True)


if __name__ == "__main__":
    main()
