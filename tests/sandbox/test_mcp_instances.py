"""MCP instances, MCP definitions, connected accounts by id and disconnect, over REST at their
descriptors' bindings: each call's answer, its field rules (400, code 3) and its not-found."""

from __future__ import annotations

from typing import Any

from tests.sandbox.conftest import ACCOUNTS, Agent, assert_gateway_error

CONFIGS = "/api/v1/mcp/configs"
INSTANCES = "/api/v1/mcp/instances"


def _config(agent: Agent, name: str, *connections: str) -> dict[str, Any]:
    answer = agent.http.post(
        CONFIGS,
        json={
            "name": name,
            "connection_tool_mappings": [{"connection_name": c, "tools": []} for c in connections],
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["config"]


def _ensure(agent: Agent, **body: str) -> dict[str, Any]:
    answer = agent.http.post(INSTANCES, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["instance"]


def test_mcp_instance_lifecycle_follows_the_accounts(agent: Agent) -> None:
    config = _config(agent, "digest", "gmail", "slack")
    other = _config(agent, "chat-only", "slack")
    instance = _ensure(agent, config_name="digest", user_identifier="ann")
    assert instance["id"].startswith("inst_")
    assert instance["name"] == "digest"  # named after its configuration when no name is given
    assert instance["user_identifier"] == "ann"
    assert instance["config"]["id"] == config["id"]
    mappings = instance["config"]["connection_tool_mappings"]
    assert [m["connection_name"] for m in mappings] == ["gmail", "slack"]
    assert all("connected_account_id" not in m for m in mappings)  # ann has no accounts yet

    # ensure is get-or-create: the same configuration, name and user give the same instance
    assert _ensure(agent, config_name="digest", user_identifier="ann")["id"] == instance["id"]
    named = _ensure(agent, config_name="digest", user_identifier="ann", name="second")
    assert named["id"] != instance["id"]

    # the instance's mappings and auth state follow ann's accounts as they change
    account = agent.connect("gmail", "ann")
    got = agent.http.get(f"{INSTANCES}/{instance['id']}").json()["instance"]
    gmail = got["config"]["connection_tool_mappings"][0]
    assert (gmail["connected_account_id"], gmail["connected_account_status"]) == (
        account["id"],
        "ACTIVE",
    )
    state = agent.http.post(f"{INSTANCES}/{instance['id']}:get_auth_state")
    assert state.status_code == 200, state.text
    by_name = {c["connection_name"]: c for c in state.json()["connections"]}
    assert by_name["gmail"]["connected_account_status"] == "ACTIVE"
    assert "connected_account_id" not in by_name["slack"]
    assert all("authentication_link" not in c for c in by_name.values())
    with_links = agent.http.post(
        # the binding has no body: the flag travels in the query
        f"{INSTANCES}/{instance['id']}:get_auth_state",
        params={"include_auth_links": "true"},
    ).json()["connections"]
    assert all("/magic/" in c["authentication_link"] for c in with_links)
    # with links, the missing Slack account was created, waiting for its user
    assert agent.details("slack", "ann")["status"] == "PENDING_AUTH"

    listed = agent.http.get(INSTANCES, params={"filter.user_identifier": "ann"}).json()
    assert listed["total_size"] == 2
    assert [i["name"] for i in listed["instances"]] == ["digest", "second"]
    assert agent.http.get(INSTANCES, params={"search": "SEC"}).json()["total_size"] == 1
    paged = agent.http.get(INSTANCES, params={"page_size": 1}).json()
    assert len(paged["instances"]) == 1 and paged["next_page_token"]

    # update: renaming only renames; a new configuration rebuilds the mappings
    updated = agent.http.patch(
        f"{INSTANCES}/{instance['id']}", json={"name": "renamed", "config_name": "chat-only"}
    )
    assert updated.status_code == 200, updated.text
    moved = updated.json()["instance"]
    assert (moved["name"], moved["config"]["id"]) == ("renamed", other["id"])
    assert [m["connection_name"] for m in moved["config"]["connection_tool_mappings"]] == ["slack"]
    unknown_config = agent.http.patch(f"{INSTANCES}/{instance['id']}", json={"config_name": "nope"})
    assert_gateway_error(unknown_config, 404, 5)

    assert agent.http.delete(f"{INSTANCES}/{instance['id']}").status_code == 200
    assert_gateway_error(agent.http.get(f"{INSTANCES}/{instance['id']}"), 404, 5)
    assert_gateway_error(agent.http.delete(f"{INSTANCES}/{instance['id']}"), 404, 5)

    # deleting a configuration deletes its instances
    assert agent.http.delete(f"{CONFIGS}/{config['id']}").status_code == 200
    assert_gateway_error(agent.http.get(f"{INSTANCES}/{named['id']}"), 404, 5)


def test_mcp_instance_field_rules_and_unknown_configuration(agent: Agent) -> None:
    assert_gateway_error(agent.http.post(INSTANCES, json={"config_name": "x"}), 400, 3)
    assert_gateway_error(agent.http.post(INSTANCES, json={"user_identifier": "ann"}), 400, 3)
    assert_gateway_error(agent.http.get(INSTANCES, params={"page_size": 31}), 400, 3)
    missing = agent.http.post(INSTANCES, json={"config_name": "none", "user_identifier": "ann"})
    assert_gateway_error(missing, 404, 5)


def test_mcp_definitions_lifecycle(agent: Agent) -> None:
    body = {
        "tool_mappings": [{"connection_name": "gmail", "tool_names": ["gmail_fetch_mails"]}],
        "connected_account_identifier": "bob",
    }
    created = agent.http.post("/api/v1/mcp", json=body)
    assert created.status_code == 200, created.text
    mcp = created.json()["mcp"]
    assert mcp["id"].startswith("res_")
    assert mcp["tool_mappings"] == [
        {"connection_name": "gmail", "tool_names": ["gmail_fetch_mails"]}
    ]
    agent.connect("gmail", "bob")
    got = agent.http.get(f"/api/v1/mcp/{mcp['id']}").json()["mcp"]
    assert got["tool_mappings"][0]["status"] == "ACTIVE"  # follows bob's account
    listed = agent.http.get(
        "/api/v1/mcp", params={"filter.connected_account_identifier": "bob"}
    ).json()
    assert [m["id"] for m in listed["mcps"]] == [mcp["id"]]
    other = agent.http.get("/api/v1/mcp", params={"filter.connected_account_identifier": "zed"})
    assert other.json().get("mcps", []) == []
    assert agent.http.delete(f"/api/v1/mcp/{mcp['id']}").status_code == 200
    assert_gateway_error(agent.http.get(f"/api/v1/mcp/{mcp['id']}"), 404, 5)

    # field rules: at least one mapping, an identifier; and known tools only
    assert_gateway_error(agent.http.post("/api/v1/mcp", json={**body, "tool_mappings": []}), 400, 3)
    assert_gateway_error(
        agent.http.post("/api/v1/mcp", json={**body, "connected_account_identifier": ""}), 400, 3
    )
    bad_tool = {"connection_name": "gmail", "tool_names": ["slack_send_message"]}
    assert_gateway_error(
        agent.http.post("/api/v1/mcp", json={**body, "tool_mappings": [bad_tool]}), 400, 3
    )


def test_connected_account_by_id_and_disconnect(agent: Agent) -> None:
    account = agent.connect("gmail", "cat")
    got = agent.http.get(f"{ACCOUNTS}/{account['id']}")
    assert got.status_code == 200, got.text
    wire = got.json()["connected_account"]
    assert (wire["id"], wire["identifier"], wire["status"]) == (account["id"], "cat", "ACTIVE")
    assert "authorization_details" not in wire  # credentials only from /auth
    # the literal routes beside `{id}` still reach their own RPCs
    assert agent.details("gmail", "cat")["id"] == account["id"]

    gone = agent.http.post(f"{ACCOUNTS}/{account['id']}:disconnect", json={})
    assert gone.status_code == 200, gone.text
    assert gone.json()["connected_account"]["status"] == "DISCONNECTED"
    after = agent.auth("gmail", "cat")
    assert after["status"] == "DISCONNECTED"
    assert "authorization_details" not in after  # the tokens went with the connection
    executed = agent.http.post(
        "/api/v1/execute_tool",
        json={"tool_name": "gmail_fetch_mails", "connector": "gmail", "identifier": "cat"},
    )
    assert executed.status_code >= 400

    assert_gateway_error(agent.http.get(f"{ACCOUNTS}/ca_nope"), 404, 5)
    assert_gateway_error(agent.http.post(f"{ACCOUNTS}/ca_nope:disconnect", json={}), 404, 5)
    assert_gateway_error(agent.http.get(f"{ACCOUNTS}/this"), 404, 5)


def test_mcp_instance_pages_hold_ten(agent: Agent) -> None:
    _config(agent, "paged", "gmail")
    made = [
        _ensure(agent, config_name="paged", user_identifier="dan", name=f"n{number:02}")["id"]
        for number in range(11)
    ]
    first = agent.http.get(INSTANCES, params={"filter.config_name": "paged"}).json()
    assert [i["id"] for i in first["instances"]] == made[:10]
    assert first["total_size"] == 11
    rest = agent.http.get(
        INSTANCES, params={"filter.config_name": "paged", "page_token": first["next_page_token"]}
    ).json()
    assert [i["id"] for i in rest["instances"]] == made[10:]
    assert rest["prev_page_token"]
