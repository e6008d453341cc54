"""The official Node SDK's own AgentKit flows (tests/grpc/node/flows.js), unmodified, over h2c
against `sk sandbox serve --user-verification custom`: one Node process runs every step and
prints what the sandbox answered; each answer is asserted here, and held against the REST face
where that tells more than the absence of an exception.

Node SDK 2.11 has no tool search and no MCP client: test_python_sdk_flows.py covers those.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.grpc.served import SDK_CLIENT_SECRET, ServedSandbox, start_served
from tests.grpc.test_node_sdk import NODE_PROJECT, _node

USER = "node-flows@example.com"
VERIFY_URL = "https://app.example/verify"
ACCESS_TOKEN = "at-node-canary-Rw2Kd7Pz"
API_KEY = "exa-node-canary-Tm6Bx3Lq"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    live = start_served(tmp_path_factory.mktemp("node-flows"), "--user-verification", "custom")
    try:
        yield live
    finally:
        stderr = live.stop()
        assert "Traceback" not in stderr, stderr
        for secret in (SDK_CLIENT_SECRET, ACCESS_TOKEN, API_KEY):
            assert secret not in stderr


@pytest.fixture(scope="module")
def results(served: ServedSandbox) -> dict[str, Any]:
    env = {
        **served.sk_env(),
        "FLOW_USER": USER,
        "FLOW_VERIFY_URL": VERIFY_URL,
        "FLOW_ACCESS": ACCESS_TOKEN,
        "FLOW_API_KEY": API_KEY,
    }
    done = subprocess.run(
        [_node(), "flows.js"],
        cwd=NODE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert SDK_CLIENT_SECRET not in done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, f"{lines} {done.stderr}"
    (answer,) = lines
    assert answer["event"] == "results", answer
    return answer


def test_accounts_with_tokens_and_static_credentials(
    served: ServedSandbox, results: dict[str, Any]
) -> None:
    accounts = results["accounts"]
    oauth, static = accounts["created"]["oauth"], accounts["created"]["static"]
    assert oauth["id"].startswith("ca_") and static["id"].startswith("ca_")
    assert oauth["id"] != static["id"]
    assert (oauth["identifier"], oauth["connector"], oauth["provider"]) == (USER, "gmail", "GOOGLE")
    assert (oauth["status"], oauth["authorizationType"]) == ("ACTIVE", "OAUTH")
    assert oauth["oauth"] == {"accessToken": ACCESS_TOKEN, "refreshToken": "rt-1", "scopes": ["a"]}
    assert (static["connector"], static["provider"]) == ("exa", "EXA")
    assert (static["status"], static["authorizationType"]) == ("ACTIVE", "API_KEY")
    assert static["staticAuth"] == {"api_key": API_KEY}

    updated = accounts["updated"]
    assert updated["oauth"]["id"] == oauth["id"]
    assert updated["oauth"]["oauth"] == {
        "accessToken": "at-2",
        "refreshToken": "rt-2",
        "scopes": ["a", "b"],
    }
    assert updated["static"]["id"] == static["id"]  # updated by id alone
    assert updated["static"]["staticAuth"] == {"api_key": "exa-rotated"}

    fetched = accounts["fetched"]
    assert fetched["byKey"] == updated["oauth"] | {"credential": "oauthToken"}
    assert fetched["byId"]["id"] == static["id"]
    assert fetched["byId"]["staticAuth"] == {"api_key": "exa-rotated"}

    lists = accounts["lists"]
    both = [["gmail", USER, "ACTIVE"], ["exa", USER, "ACTIVE"]]
    assert lists["identifier"] == lists["connectionNames"] == both
    assert lists["connection"] == [["exa", USER, "ACTIVE"]]
    assert lists["provider"] == [["gmail", USER, "ACTIVE"]]

    deleted = accounts["deleted"]
    for gone in (deleted["byId"], deleted["byKey"]):
        assert gone["class"] == "ScalekitNotFoundException"
        assert gone["errorCode"] == "CONNECTED_ACCOUNT_NOT_FOUND"
    assert deleted["listed"] == []


def test_magic_link_with_state_and_user_verification(
    served: ServedSandbox, results: dict[str, Any]
) -> None:
    flow = results["verification"]
    assert (flow["pending"]["connector"], flow["pending"]["status"]) == ("slack", "PENDING_AUTH")
    assert flow["link"].startswith(f"{served.url}/magic/")
    assert flow["expirySeconds"] > 0
    assert flow["browser"]["status"] in (302, 303)
    redirect = urlsplit(flow["browser"]["location"])
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == VERIFY_URL
    query = parse_qs(redirect.query)
    assert query["state"] == ["node-state"]
    assert query["auth_request_id"][0]
    assert flow["waiting"]["status"] != "ACTIVE"  # not before the app verifies
    assert flow["mismatch"]["class"] == "ScalekitForbiddenException"
    assert flow["mismatch"]["errorCode"] == "IDENTIFIER_MISMATCH"
    assert flow["redirect"].startswith(served.url)
    assert (flow["active"]["id"], flow["active"]["status"]) == (flow["pending"]["id"], "ACTIVE")
    assert flow["active"]["credential"] == "oauthToken"
    rest = served.rest_account("slack", USER).json()["connected_account"]
    assert rest["status"] == "ACTIVE"
    assert (
        rest["authorization_details"]["oauth_token"]["access_token"]
        == (flow["active"]["oauth"]["accessToken"])
    )
    assert flow["reused"]["class"] == "ScalekitNotFoundException"
    assert flow["reused"]["errorCode"] == "AUTH_REQUEST_NOT_FOUND"


def test_tools_executed_listed_and_scoped(served: ServedSandbox, results: dict[str, Any]) -> None:
    tools = results["tools"]
    gmail, exa = tools["accounts"]["gmail"], tools["accounts"]["exa"]
    executed = tools["executed"]
    rest = served.rest(
        "POST",
        "/api/v1/execute_tool",
        json={"tool_name": "gmail_fetch_mails", "connected_account_id": gmail, "params": {}},
    ).json()
    assert len(executed["byName"]) == 3
    assert executed["byName"] == executed["byId"]
    assert executed["byName"] == [m["id"] for m in rest["data"]["messages"]][:3]
    assert all(executed["executionIds"]) and len(set(executed["executionIds"])) == 2
    assert executed["search"] == ["otters — result 1", "otters — result 2"]

    catalogue = served.rest("GET", "/api/v1/tools").json()["tools"]
    listed = tools["listed"]
    assert listed["all"] == sorted(t["definition"]["name"] for t in catalogue)
    assert listed["provider"] == sorted(
        t["definition"]["name"] for t in catalogue if t["provider"] == "GOOGLE"
    )
    assert listed["toolNames"] == ["exa_search", "slack_send_message"]
    assert listed["query"] == ["gmail_fetch_mails"]  # token by token, as the descriptors say
    assert listed["summary"] == ["exa_search"]
    assert tools["shortQuery"]["class"] == "ScalekitBadRequestException"
    assert "query" in tools["shortQuery"]["message"]
    # The identifier's accounts: Gmail and Exa from this step, Slack from the verified link.
    connected = ["exa_search", "gmail_fetch_mails", "gmail_get_profile"]
    slack = sorted(n for n in listed["all"] if n.startswith("slack_"))
    assert listed["identifier"] == sorted(connected + slack)

    accounts = {"gmail_fetch_mails": gmail, "gmail_get_profile": gmail, "exa_search": exa}
    slack_id = results["verification"]["active"]["id"]
    accounts |= dict.fromkeys(slack, slack_id)
    assert sorted(map(tuple, tools["scoped"])) == sorted(
        (name, USER, account) for name, account in accounts.items()
    )
    assert tools["scopedTotal"] == len(accounts)
    assert tools["scopedExa"] == ["exa_search"]
    assert tools["available"] == listed["all"]  # every connection's tools, account or not


def test_list_connections(served: ServedSandbox, results: dict[str, Any]) -> None:
    connections = results["connections"]
    rest = served.rest("GET", "/api/v1/connections/app").json()["connections"]
    everything = connections["all"]["connections"]
    assert [c["connectionName"] for c in everything] == [c["key_id"] for c in rest]
    assert [c["id"] for c in everything] == [c["id"] for c in rest]
    assert connections["all"]["totalSize"] == len(rest)
    by_name = {c["connectionName"]: c for c in everything}
    assert (by_name["exa"]["provider"], by_name["exa"]["type"]) == ("EXA", "API_KEY")
    assert (by_name["gmail"]["provider"], by_name["gmail"]["type"]) == ("GOOGLE", "OAUTH")
    assert all(c["enabled"] and c["status"] == "COMPLETED" for c in everything)
    google = connections["google"]["connections"]
    assert [c["connectionName"] for c in google] == ["gmail", "googlecalendar"]
