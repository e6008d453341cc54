"""SECURITY.md says what the CLI does: its tables are rendered again from `facts.py` and
compared, and `facts.py` is checked against what the CLI really writes and sends."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scalekit_cli.sandbox.faults import redacted_marker
from scalekit_cli.scalekit.secrets import mask
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, LiveSandbox
from tests.grpc.served import start_served
from tests.reliability.harness import Setup, SkRunner, clean_process_environment
from tests.security import facts
from tests.security.fingerprints import issued_machine_tokens

DOC = Path(__file__).resolve().parents[2] / "SECURITY.md"
USER = "doc-user"
API_KEY = "canary-doc-api-key-Vb7Np2Qx"
KEYRING = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}


@pytest.mark.parametrize("name", sorted(facts.SECTIONS))
def test_the_tables_match_the_facts(name: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = facts.markers(name)
    assert text.count(start) == 1 and text.count(end) == 1, f"markers of {name} missing"
    section = text[text.index(start) : text.index(end) + len(end)]
    assert section == facts.render(name), "regenerate: python -m tests.security.facts"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    with clean_process_environment(), pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        yield tmp_path


def roots(runner: SkRunner) -> dict[str, Path]:
    env = runner.env()
    return {name: Path(env[name]) for name in ("SK_CACHE_DIR", "SK_CONFIG_DIR", "SK_DATA_DIR")}


def test_what_is_stored_where(shared_sandbox: LiveSandbox, setup: Setup, home: Path) -> None:
    """Run the commands that write (a token, a login, the embedded sandbox), then every file
    under sk's directories must be a row of the table, with the table's modes."""
    runner = SkRunner(shared_sandbox, home)
    setup.connect("gmail", USER)
    keyring = {**KEYRING, "XDG_DATA_HOME": str(home / "keyring")}
    assert runner("token", "gmail", "--user", USER, "--json").exit_code == 0
    login = runner(
        "login",
        "--env-url",
        shared_sandbox.url,
        "--client-id",
        CANARY_CLIENT_ID,
        "--client-secret-stdin",
        env=keyring,
        input=CANARY_CLIENT_SECRET + "\n",
    )
    assert login.exit_code == 0, login.stderr
    embedded = runner("--sandbox", "status", "gmail", "--user", USER)
    assert embedded.exit_code == 3, embedded.stderr  # no such account there: it was asked
    data = {"SK_DATA_DIR": str(roots(runner)["SK_DATA_DIR"])}
    start_served(home / "served", "--tls", env=data).stop()  # makes its CA once

    matched: set[str] = set()
    for root_name, root in roots(runner).items():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            rows = [
                item
                for item in facts.STORED
                if item.root == root_name and relative.match(item.pattern)
            ]
            assert len(rows) == 1, f"${root_name}/{relative} is not in SECURITY.md's table"
            [row] = rows
            assert stat.S_IMODE(path.stat().st_mode) == row.file_mode, path
            assert stat.S_IMODE(path.parent.stat().st_mode) == row.directory_mode, path
            assert CANARY_CLIENT_SECRET not in path.read_bytes().decode("utf-8", "replace")
            if row.fields:
                assert tuple(sorted(json.loads(path.read_bytes()))) == row.fields, path
            matched.add(row.what)
    assert matched == {item.what for item in facts.STORED}, "a row of the table is stale"


def _requests_by_secret(log: list[dict], secrets: dict[str, set[str]]) -> dict[str, set[str]]:
    """For each kind of secret, where it travelled: 'route in location'."""
    found: dict[str, set[str]] = {kind: set() for kind in secrets}
    for entry in log:
        route = facts.route_of(entry["path"], entry["method"])
        places = {
            "query": entry["query"],
            "body": entry["body"],
            **{f"header {name}": value for name, value in entry["headers"].items()},
        }
        for kind, values in secrets.items():
            for place, text in places.items():
                # The log keeps secrets of bodies as fingerprints only.
                if any(value in text or redacted_marker(value) in text for value in values):
                    found[kind].add(f"{route} in {place}")
    return found


def test_what_is_sent_where(shared_sandbox: LiveSandbox, setup: Setup, home: Path) -> None:
    """Every command that talks to the network, once; then, for each secret, the requests that
    carried it must be exactly the table's."""
    runner = SkRunner(shared_sandbox, home)
    tokens = setup.connect("gmail", USER)["authorization_details"]["oauth_token"]
    setup.connect("exa", USER, fill={"api_key": API_KEY})
    shared_sandbox.clear_requests()
    keyring = {**KEYRING, "XDG_DATA_HOME": str(home / "keyring")}
    commands = [
        ("connect", "gmail", "--user", USER, "--no-wait"),
        ("status", "--user", USER),
        ("token", "gmail", "--user", USER, "--json"),
        ("token", "exa", "--user", USER, "--json"),
        ("gmail", "unread", "--user", USER, "--limit", "2"),
        ("exec-tool", "gmail_fetch_mails", "--user", USER, "-p", "max_results=1"),
        ("tools", "list"),
        ("accounts", "list"),
        ("request", "gmail", "--user", USER, "/gmail/v1/users/me/profile"),
        ("run", "gmail", "--user", USER, "--", sys.executable, "-c", "pass"),
        ("doctor", "--user", USER),
    ]
    for args in commands:
        result = runner(*args, env=keyring)
        assert "Traceback" not in result.streams, args
    login = runner(
        "login",
        "--profile",
        "doc",
        "--env-url",
        shared_sandbox.url,
        "--client-id",
        CANARY_CLIENT_ID,
        "--client-secret-stdin",
        env=keyring,
        input=CANARY_CLIENT_SECRET + "\n",
    )
    assert login.exit_code == 0, login.stderr
    log = shared_sandbox.requests()
    machine_tokens = set(issued_machine_tokens(shared_sandbox))
    secrets = {
        "client_secret": {CANARY_CLIENT_SECRET},
        "machine_token": machine_tokens,
        "access_token": {tokens["access_token"]},
        "refresh_token": {tokens["refresh_token"]},
        "api_key": {API_KEY},
    }
    travelled = _requests_by_secret(log, secrets)
    locations = {
        "client_secret": "body",
        "machine_token": "header authorization",
        "access_token": "header authorization",
    }
    for item in facts.SENT:
        expected = {f"{route} in {locations[item.secret]}" for route in item.routes}
        assert travelled[item.secret] == expected, item.secret


def test_a_masked_value_shows_at_most_four_characters() -> None:
    assert mask("ya29.a0AfH6SMBx3Kq") == "ya29…[redacted]"
    for secret in ("abcdefg", "abcdefghij", "x" * 200):
        shown = mask(secret).removesuffix("…[redacted]")
        assert len(shown) <= 4 and secret.startswith(shown)
        assert len(shown) <= len(secret) // 4  # short secrets show less


def test_the_admin_surface_answers_loopback_only() -> None:
    """Every admin route, called from a non-loopback address, is refused (403)."""
    import asyncio

    from scalekit_cli.sandbox import SandboxSettings, create_app

    app = create_app(SandboxSettings())
    routes = [route for route in app.routes if getattr(route, "path", "").startswith("/_sandbox")]
    assert len(routes) >= 9

    async def call_every_route(address: str) -> list[tuple[str, str, int]]:
        transport = httpx.ASGITransport(app=app, client=(address, 5000))
        answers = []
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for route in routes:
                path = route.path.replace("{fault_id}", "flt_0")
                for method in sorted(route.methods - {"HEAD"}):
                    answer = await client.request(method, path, json={})
                    answers.append((method, path, answer.status_code))
        return answers

    try:
        refused = asyncio.run(call_every_route("203.0.113.9"))
        served = asyncio.run(call_every_route("127.0.0.1"))
    finally:
        app.state.sandbox.close()
    assert {status for _, _, status in refused} == {403}, refused
    assert all(status != 403 for _, _, status in served), served


def test_a_failing_run_writes_no_token(shared_sandbox: LiveSandbox, home: Path) -> None:
    """Rejected credentials leave nothing behind but the (empty) fetch lock."""
    runner = SkRunner(shared_sandbox, home)
    result = runner(
        "token", "gmail", "--user", USER, "--json", env={"SCALEKIT_CLIENT_SECRET": "wrong"}
    )
    assert result.exit_code == 5
    written = [
        path
        for root in roots(runner).values()
        if root.exists()
        for path in root.rglob("*")
        if path.is_file()
    ]
    assert [path.suffix for path in written] == [".lock"]
    assert written[0].read_bytes() == b""
    assert [path for path in home.iterdir() if path.is_file()] == []
