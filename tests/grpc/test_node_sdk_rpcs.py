"""The official Node SDK over h2c (tests/grpc/node/rpcs.js): `listAppConnections()` and the
connected-account RPCs served beyond the seeds' flow (get by id, disconnect), each answer held
against the REST face's."""

from __future__ import annotations

import json
import subprocess

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.grpc import test_node_sdk
from tests.grpc.served import SDK_CLIENT_SECRET, ServedSandbox

# The plain (h2c) sandbox of the seeds' Node flow (one per module).
served = test_node_sdk.served


def test_node_sdk_connections_account_by_id_and_disconnect(served: ServedSandbox) -> None:
    node = test_node_sdk._node()
    user = "node-rpcs@example.com"
    created = served.rest(
        "POST",
        "/api/v1/connected_accounts/magic_link",
        json={"connector": "gmail", "identifier": user},
    )
    assert created.status_code == 200, created.text
    assert "Connected" in approve_as_browser(created.json()["link"])

    ran = subprocess.run(
        [node, "rpcs.js"],
        cwd=test_node_sdk.NODE_PROJECT,
        env={**served.sk_env(), "FLOW_USER": user},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    events = {e["event"]: e for e in map(json.loads, ran.stdout.splitlines())}

    connections = events["connections"]
    rest = served.rest("GET", "/api/v1/connections/app").json()
    assert connections["names"] == [c["key_id"] for c in rest["connections"]]
    assert connections["names"][:3] == ["gmail", "googlecalendar", "slack"]
    assert connections["providers"][0] == "GOOGLE"
    assert connections["totalSize"] == len(connections["names"])
    assert connections["slack"] == ["slack"]

    accounts = events["accounts"]
    assert accounts["byId"] == {"id": accounts["id"], "identifier": user, "status": "ACTIVE"}
    assert accounts["disconnected"] == accounts["after"] == "DISCONNECTED"
    rest_account = served.rest_account("gmail", user).json()["connected_account"]
    assert (rest_account["id"], rest_account["status"]) == (accounts["id"], "DISCONNECTED")
    assert "authorization_details" not in rest_account
    assert accounts["missing"]["class"] == "ScalekitNotFoundException"
    assert accounts["fieldRule"]["class"] == "ScalekitBadRequestException"
    assert SDK_CLIENT_SECRET not in ran.stdout + ran.stderr
