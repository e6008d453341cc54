"""The official Node SDK's `actions.listConnections()` (tests/grpc/node/list_connections.js)
answers with the sandbox's connections, as its REST face and `sk connections list` give them:
over gRPC, every page followed, and filtered by provider on the server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.grpc.served import SDK_CLIENT_SECRET, ServedSandbox, start_served
from tests.grpc.test_node_sdk import NODE_PROJECT, _node

# Smaller than the connection count, so the SDK must follow next_page_token.
PAGE_SIZE = 2
PROVIDER = "GOOGLE"
LIST_APP_CONNECTIONS = "/scalekit.v1.connections.ConnectionService/ListAppConnections"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    live = start_served(tmp_path_factory.mktemp("served-connections"))
    try:
        yield live
    finally:
        stderr = live.stop()
        assert "Traceback" not in stderr, stderr


def test_list_connections_answers_the_sandboxs_connections(served: ServedSandbox) -> None:
    served.admin("DELETE", "/_sandbox/requests")
    done = subprocess.run(
        [_node(), "list_connections.js"],
        cwd=NODE_PROJECT,
        env={**served.sk_env(), "LIST_PAGE_SIZE": str(PAGE_SIZE), "LIST_PROVIDER": PROVIDER},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    # The SDK spoke gRPC to the sandbox: its first call, without a token yet, is refused and
    # made again once it has one; then one call per page, and the filtered one.
    paths = [entry["path"] for entry in served.admin("GET", "/_sandbox/requests")["requests"]]
    assert paths[:2] == [LIST_APP_CONNECTIONS, "/oauth/token"]
    assert paths[2:] == [LIST_APP_CONNECTIONS] * (len(answer["pages"]) + 1)

    rest = served.rest("GET", "/api/v1/connections/app", params={"page_size": 30}).json()
    expected = [
        {
            "id": c["id"],
            "connectionName": c["key_id"],
            "provider": c["provider_key"],
            "type": c["type"],
            "status": c["status"],
            "enabled": c["enabled"],
        }
        for c in rest["connections"]
    ]
    listed = [connection for page in answer["pages"] for connection in page]
    assert len(expected) > PAGE_SIZE
    assert listed == expected
    assert all(0 < len(page) <= PAGE_SIZE for page in answer["pages"])
    assert answer["totalSize"] == rest["total_size"] == len(expected)
    sk_listed = served.sk_json("connections", "list")
    assert [c["connectionName"] for c in listed] == [c["name"] for c in sk_listed]
    assert [c["provider"] for c in listed] == [c["provider"] for c in sk_listed]

    google = [c for c in expected if c["provider"] == PROVIDER]
    assert google and len(google) < len(expected)
    assert answer["filtered"] == google
    assert SDK_CLIENT_SECRET not in done.stdout + done.stderr
