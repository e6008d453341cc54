"""Injected faults (latency, status, 429, drop, not_json) and the request log."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import LiveSandbox
from tests.sandbox.conftest import ACCOUNTS, Agent, assert_gateway_error
from tests.security.fingerprints import logged_bearer


def test_latency_delays_then_answers_normally(sandbox: LiveSandbox, agent: Agent) -> None:
    sandbox.fault(path=ACCOUNTS, kind="latency", latency_ms=300, times=1)
    started = time.perf_counter()
    answer = agent.http.get(ACCOUNTS)
    slow = time.perf_counter() - started
    assert answer.status_code == 200
    assert slow >= 0.29
    started = time.perf_counter()
    agent.http.get(ACCOUNTS)
    assert time.perf_counter() - started < slow  # times=1: the second call is not delayed


def test_status_fault_fires_n_times_then_recovers(sandbox: LiveSandbox, agent: Agent) -> None:
    fault_id = sandbox.fault(path=ACCOUNTS, kind="status", status=503, times=2)
    for _ in range(2):
        assert_gateway_error(agent.http.get(ACCOUNTS), 503, 14)
    assert agent.http.get(ACCOUNTS).status_code == 200
    faults = sandbox.admin("GET", "/_sandbox/faults").json()["faults"]
    assert [(f["id"], f["hits"]) for f in faults] == [(fault_id, 2)]


def test_status_fault_can_let_the_first_requests_through(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    sandbox.fault(path=ACCOUNTS, kind="status", status=503, after=2, times=1)
    assert [agent.http.get(ACCOUNTS).status_code for _ in range(4)] == [200, 200, 503, 200]


@pytest.mark.parametrize(("status", "code"), [(500, 13), (502, 14), (504, 14), (409, 6)])
def test_status_fault_bodies_follow_the_gateway_mapping(
    sandbox: LiveSandbox, agent, status, code
) -> None:
    sandbox.fault(path=ACCOUNTS, kind="status", status=status)
    assert_gateway_error(agent.http.get(ACCOUNTS), status, code)


def test_rate_limit_fault_sends_retry_after(sandbox: LiveSandbox, agent: Agent) -> None:
    sandbox.fault(path="/api/v1/*", kind="status", status=429, retry_after=7, times=1)
    answer = agent.http.get(ACCOUNTS)
    assert_gateway_error(answer, 429, 8)
    assert answer.headers["retry-after"] == "7"
    sandbox.fault(path="/api/v1/*", kind="status", status=429, times=1)
    assert agent.http.get(ACCOUNTS).headers["retry-after"] == "1"  # the default


def test_gmail_status_faults_use_googles_error_shape(sandbox: LiveSandbox, agent: Agent) -> None:
    token = agent.connect("gmail", "faulty@example.com")["authorization_details"]["oauth_token"]
    sandbox.fault(path="/gmail/v1/users/me/messages", kind="status", status=503, times=1)
    answer = agent.gmail("/messages", token["access_token"])
    assert answer.status_code == 503
    assert answer.json()["error"]["status"] == "UNAVAILABLE"


def test_fault_matches_method_and_prefix_only(sandbox: LiveSandbox, agent: Agent) -> None:
    sandbox.fault(path="/api/v1/connected_accounts/*", method="post", kind="status", status=500)
    assert agent.http.get(ACCOUNTS).status_code == 200  # the prefix needs the trailing slash
    assert agent.http.get(f"{ACCOUNTS}/details", params={"id": "ca_1"}).status_code == 404
    failed = agent.http.post(
        f"{ACCOUNTS}/magic_link", json={"connector": "gmail", "identifier": "x"}
    )
    assert_gateway_error(failed, 500, 13)


def test_drop_closes_the_connection_mid_response(sandbox: LiveSandbox, agent: Agent) -> None:
    sandbox.fault(path=ACCOUNTS, kind="drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        agent.http.get(ACCOUNTS)
    assert agent.http.get(ACCOUNTS).status_code == 200


def test_not_json_answers_200_with_html(sandbox: LiveSandbox, agent: Agent) -> None:
    sandbox.fault(path=ACCOUNTS, kind="not_json", times=1)
    answer = agent.http.get(ACCOUNTS)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        answer.json()


def test_latency_combines_with_another_kind(sandbox: LiveSandbox, agent: Agent) -> None:
    sandbox.fault(path=ACCOUNTS, kind="status", status=500, latency_ms=200, times=1)
    started = time.perf_counter()
    assert agent.http.get(ACCOUNTS).status_code == 500
    assert time.perf_counter() - started >= 0.19


def test_faults_can_be_listed_removed_and_cleared(sandbox: LiveSandbox) -> None:
    first = sandbox.fault(path="/a", kind="drop")
    second = sandbox.fault(path="/b*", kind="latency", latency_ms=5)
    listed = sandbox.admin("GET", "/_sandbox/faults").json()["faults"]
    assert [f["id"] for f in listed] == [first, second]
    assert listed[0]["times"] is None
    sandbox.admin("DELETE", f"/_sandbox/faults/{first}")
    assert [f["id"] for f in sandbox.admin("GET", "/_sandbox/faults").json()["faults"]] == [second]
    sandbox.admin("DELETE", "/_sandbox/faults")
    assert sandbox.admin("GET", "/_sandbox/faults").json()["faults"] == []


@pytest.mark.parametrize(
    "spec",
    [
        {"path": "/x", "kind": "explode"},
        {"path": "x", "kind": "drop"},
        {"path": "/x", "kind": "status"},
        {"path": "/x", "kind": "status", "status": 700},
        {"path": "/x", "kind": "drop", "times": -1},
        {"path": "/x", "kind": "latency", "latency_ms": "slow"},
    ],
)
def test_bad_fault_specs_are_refused(sandbox: LiveSandbox, browser: httpx.Client, spec) -> None:
    assert browser.post(f"{sandbox.url}/_sandbox/faults", json=spec).status_code == 400


def test_request_log_records_method_path_query_headers_body(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    sandbox.clear_requests()
    agent.http.post(
        f"{ACCOUNTS}/magic_link",
        params={"a": "1 2", "b": "é"},
        json={"connector": "gmail", "identifier": "logged é"},
        headers={"X-Trace": "abc"},
    )
    agent.http.get(ACCOUNTS)
    log = sandbox.requests()
    assert [(entry["method"], entry["path"]) for entry in log] == [
        ("POST", f"{ACCOUNTS}/magic_link"),
        ("GET", ACCOUNTS),
    ]
    first = log[0]
    assert first["query"] == "a=1+2&b=%C3%A9"
    assert first["headers"]["x-trace"] == "abc"
    # The machine token is kept as a fingerprint only: any loopback caller reads the log.
    token = agent.http.headers["authorization"].removeprefix("Bearer ")
    assert first["headers"]["authorization"] == logged_bearer(token)
    assert token not in json.dumps(log)
    assert json.loads(first["body"]) == {"connector": "gmail", "identifier": "logged é"}
    sandbox.clear_requests()
    assert sandbox.requests() == []


def test_request_log_keeps_no_credential_of_any_name(sandbox: LiveSandbox, agent: Agent) -> None:
    """Query parameters, headers and body fields with a secret name (the names sk's outputs
    share) are fingerprinted, whatever the vendor calls them; their neighbours are kept."""
    canaries = {
        "query": "canaryQueryTok123",
        "key": "canaryQueryKey456",
        "goog": "AIzaCanaryGoogHeader789",
        "gitlab": "glpat-canaryPrivate012",
        "body": "canaryBodyApiToken345",
        "form": "canaryFormCode678",
    }
    sandbox.clear_requests()
    agent.http.post(
        f"{ACCOUNTS}/magic_link",
        params={"access_token": canaries["query"], "key": canaries["key"], "page": "2"},
        json={"connector": "gmail", "identifier": "x", "apiToken": canaries["body"]},
        headers={"x-goog-api-key": canaries["goog"], "private-token": canaries["gitlab"]},
    )
    agent.http.post(
        f"{ACCOUNTS}/magic_link",
        content=f"code={canaries['form']}&state=s1".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    log = sandbox.requests()
    text = json.dumps(log)
    for canary in canaries.values():
        assert canary not in text, canary
    first, second = log[0], log[1]
    assert first["query"].startswith("access_token=[redacted-sha256:")
    assert first["query"].endswith("&page=2")
    assert first["headers"]["x-goog-api-key"].startswith("[redacted-sha256:")
    assert first["headers"]["private-token"].startswith("[redacted-sha256:")
    assert json.loads(first["body"])["identifier"] == "x"
    assert "state=s1" in second["body"]
