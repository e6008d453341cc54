"""The official Node SDK (@scalekit-sdk/node, pinned in tests/grpc/node/package-lock.json),
unmodified, runs the seeds' flow against plain `sk sandbox serve`: its REST token call over
HTTP/1.1 and connect-node's gRPC transport over HTTP/2 with prior knowledge, on one port.

`make test` (and so `.ci/run`) installs Debian's nodejs and npm when they are missing and the
SDK with `npm ci`; without them this test fails, saying so — it never skips.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.grpc.served import SDK_CLIENT_SECRET, ServedSandbox, start_served

NODE_PROJECT = Path(__file__).resolve().parent / "node"
INSTALL_HINT = "run `make node-sdk` (Debian's nodejs and npm, then npm ci in tests/grpc/node)"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    live = start_served(tmp_path_factory.mktemp("served-plain"))
    try:
        yield live
    finally:
        stderr = live.stop()
        assert "Traceback" not in stderr, stderr


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, f"node is not installed: {INSTALL_HINT}"
    sdk = NODE_PROJECT / "node_modules" / "@scalekit-sdk" / "node" / "package.json"
    assert sdk.is_file(), f"the Node SDK is not installed: {INSTALL_HINT}"
    assert json.loads(sdk.read_text())["version"] == "2.11.0"
    return node


class NodeFlow:
    """flow.js in a subprocess: its JSON events, one at a time, and a line to continue."""

    def __init__(self, node: str, served: ServedSandbox, user: str) -> None:
        env = {**served.sk_env(), "FLOW_USER": user}
        self.process = subprocess.Popen(
            [node, "flow.js"],
            cwd=NODE_PROJECT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.output: list[str] = []
        self._events: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("{"):
                self._events.put(json.loads(line))
        self._events.put(None)

    def next(self, expected: str, timeout: float = 60) -> dict:
        event = self._events.get(timeout=timeout)
        if event is None or event["event"] != expected:
            self.process.kill()
            _, stderr = self.process.communicate()
            raise AssertionError(f"expected {expected!r}, got {event}: {stderr}")
        return event

    def proceed(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()


def test_node_sdk_seed_flow_matches_rest_and_sk(served: ServedSandbox) -> None:
    node = _node()
    user = "node-user@example.com"
    list_accounts = "/scalekit.v1.connected_accounts.ConnectedAccountService/ListConnectedAccounts"
    served.admin(
        "POST", "/_sandbox/faults", json={"path": list_accounts, "kind": "status", "status": 503}
    )
    flow = NodeFlow(node, served, user)
    try:
        created = flow.next("created")
        assert created["status"] == "PENDING_AUTH"
        assert created["existingId"] == created["id"]
        rest = served.rest_account("gmail", user).json()["connected_account"]
        assert (rest["id"], rest["status"]) == (created["id"], "PENDING_AUTH")

        link = flow.next("link")["link"]
        assert link.startswith(f"{served.url}/magic/")
        assert "Connected" in approve_as_browser(link)
        flow.proceed()

        active = flow.next("active")
        rest = served.rest_account("gmail", user).json()["connected_account"]
        assert active["status"] == rest["status"] == "ACTIVE"
        assert active["credential"] == "oauthToken"
        assert active["accessToken"] == rest["authorization_details"]["oauth_token"]["access_token"]
        sk_token = served.sk_json("token", "gmail", "--user", user, "--debug")
        assert sk_token["access_token"] == active["accessToken"]
        sk_result = served.sk_json(
            "exec-tool", "gmail_fetch_mails", "--user", user, "-p", "max_results=2"
        )
        assert active["messageIds"] == [m["id"] for m in sk_result["data"]["messages"]]
        assert len(active["messageIds"]) == 2
        rest_tools = served.rest("GET", "/api/v1/tools").json()["tools"]
        assert active["toolNames"] == sorted(t["definition"]["name"] for t in rest_tools)

        errors = flow.next("errors")
        assert flow.process.wait(timeout=30) == 0
    finally:
        served.admin("DELETE", "/_sandbox/faults")
        if flow.process.poll() is None:
            flow.process.kill()
    missing = served.rest_account("gmail", "nobody").json()
    assert errors["missing"]["class"] == "ScalekitNotFoundException"
    assert errors["missing"]["errorCode"] == missing["details"][0]["error_code"]
    assert missing["message"] in errors["missing"]["message"]
    assert errors["fieldRule"]["class"] == "ScalekitBadRequestException"
    assert "identifier" in errors["fieldRule"]["message"]
    assert errors["unavailable"]["class"] == "ScalekitServiceUnavailableException"
    # Bad credentials: the gRPC call is UNAUTHENTICATED, the SDK fetches a token over REST and
    # surfaces that 401 as axios's error (2.11 does not wrap a failed re-authentication).
    assert errors["badCredentials"]["class"] == "AxiosError"
    assert errors["badCredentials"]["httpStatus"] == 401
    assert errors["deleted"]["class"] == "ScalekitNotFoundException"
    assert served.rest_account("gmail", user).status_code == 404
    assert served.sk("status", "gmail", "--user", user).returncode == 3
    assert SDK_CLIENT_SECRET not in "".join(flow.output)
