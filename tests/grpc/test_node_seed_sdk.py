"""The official Node SDK over h2c against `sk sandbox serve --seed examples/seed.toml` (the
README's example), through tests/grpc/node/seeded.js: the seeded connections, accounts and
tools answer agent code that names them as the dashboard does."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.grpc.served import SDK_CLIENT_SECRET, ServedSandbox, start_served
from tests.grpc.test_node_sdk import NODE_PROJECT, _node

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.toml"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    live = start_served(tmp_path_factory.mktemp("node-seeded"), "--seed", str(EXAMPLE))
    try:
        yield live
    finally:
        stderr = live.stop()
        assert "Traceback" not in stderr, stderr
        assert SDK_CLIENT_SECRET not in stderr


@pytest.fixture(scope="module")
def results(served: ServedSandbox) -> dict[str, Any]:
    done = subprocess.run(
        [_node(), "seeded.js"],
        cwd=NODE_PROJECT,
        env=served.sk_env(),
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


def test_seeded_accounts_through_the_node_sdk(results: dict[str, Any]) -> None:
    assert results["gmail"] == {"id": "ca_0123456789", "status": "ACTIVE", "connector": "GMAIL"}
    assert results["byId"] == {"identifier": "default", "connector": "GMAIL"}
    assert results["pending"] == [["freshdesk-8", "PENDING_AUTH"]]
    assert results["connections"] == [
        ["GMAIL", "GOOGLE", "OAUTH"],
        ["freshdesk-8", "FRESHDESK", "API_KEY"],
        ["myapp", "MYAPP", "OAUTH"],
    ]


def test_seeded_tools_through_the_node_sdk(results: dict[str, Any]) -> None:
    # The custom connector's templated answer, and the Gmail app behind the renamed connection.
    assert results["docs"] == {"documents": [{"title": "Docs for otters", "owner": "default"}]}
    assert results["mails"] == 2
    assert results["tools"] == [
        "c-myapp_create-doc",
        "c-myapp_fetch-docs",
        "gmail_fetch_mails",
        "gmail_get_profile",
    ]
