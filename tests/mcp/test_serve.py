"""`sk mcp serve` driven by the MCP SDK's own client, over stdio and streamable HTTP."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import types

from scalekit_cli.hosted_form import approve_as_browser

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
