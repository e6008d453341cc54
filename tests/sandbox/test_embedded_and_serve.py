"""The in-process bridge (`EmbeddedSandbox`) and the standalone server (`serve`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scalekit_cli.sandbox import EmbeddedSandbox
from scalekit_cli.sandbox.embedded import CREDENTIALS_FILE, load_or_create_credentials
from tests.cli.conftest import SK
from tests.conftest import TLS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedSandbox]:
    sandbox = EmbeddedSandbox.open(tmp_path / "data" / "sandbox.sqlite3")
    yield sandbox
    sandbox.close()


@contextlib.contextmanager
def bridge_client(sandbox: EmbeddedSandbox) -> Iterator[httpx.Client]:
    """An httpx client on the bridge, holding a machine token."""
    client = httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url)
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.settings.client_id,
            "client_secret": sandbox.settings.client_secret,
        },
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    try:
        yield client
    finally:
        client.close()


def test_credentials_are_generated_once_and_private(tmp_path: Path) -> None:
    first = EmbeddedSandbox.open(tmp_path / "fresh" / "sandbox.sqlite3")
    second = EmbeddedSandbox.open(tmp_path / "fresh" / "sandbox.sqlite3")
    assert first.settings.client_id.startswith("skc_")
    assert len(first.settings.client_secret) >= 32
    assert (first.settings.client_id, first.settings.client_secret) == (
        second.settings.client_id,
        second.settings.client_secret,
    )
    assert (
        EmbeddedSandbox.credentials(tmp_path / "fresh" / "x").client_id == first.settings.client_id
    )
    directory = tmp_path / "fresh"
    assert stat.S_IMODE((directory / CREDENTIALS_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == [CREDENTIALS_FILE]  # no temporary left over
    other = EmbeddedSandbox.open(tmp_path / "other" / "sandbox.sqlite3")
    assert other.settings.client_secret != first.settings.client_secret


def test_racing_first_uses_agree_on_one_secret(tmp_path: Path) -> None:
    results: list[tuple[str, str]] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        results.append(load_or_create_credentials(tmp_path / "race"))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1


def test_bridge_serves_the_api_without_a_socket(embedded: EmbeddedSandbox) -> None:
    with bridge_client(embedded) as client:
        created = client.post(
            "/api/v1/connected_accounts",
            json={"connector": "gmail", "identifier": "in@process.test", "connected_account": {}},
        )
        assert created.status_code == 201
        assert created.request.url.host == "sandbox.invalid"
        refused = client.get("/api/v1/connected_accounts", headers={"Authorization": "Bearer bad"})
        assert refused.status_code == 401 and refused.json()["code"] == 16
        assert client.get("/_sandbox/requests").status_code == 200  # loopback by default
    assert embedded._server is None


def test_start_server_makes_links_reachable(embedded: EmbeddedSandbox) -> None:
    with bridge_client(embedded) as client:
        before = client.post(
            "/api/v1/connected_accounts/magic_link",
            json={"connector": "gmail", "identifier": "web@x.test"},
        ).json()["link"]
        assert before.startswith("http://sandbox.invalid/magic/")
        url = embedded.start_server()
        assert url.startswith("http://127.0.0.1:")
        assert embedded.start_server() == url  # idempotent
        link = client.post(
            "/api/v1/connected_accounts/magic_link",
            json={"connector": "gmail", "identifier": "web@x.test"},
        ).json()["link"]
        assert link.startswith(f"{url}/magic/")
        with httpx.Client(timeout=10, verify=TLS) as browser:
            assert browser.get(link).status_code == 200
            assert browser.post(link, data={"decision": "allow"}).status_code == 200
        account = client.get(
            "/api/v1/connected_accounts/auth",
            params={"connector": "gmail", "identifier": "web@x.test"},
        ).json()["connected_account"]
        assert account["status"] == "ACTIVE"
        token = account["authorization_details"]["oauth_token"]["access_token"]
        # Both doors lead to one engine: the socket's Gmail takes the token too.
        with httpx.Client(timeout=10, verify=TLS) as browser:
            profile = browser.get(
                f"{url}/gmail/v1/users/me/profile", headers={"Authorization": f"Bearer {token}"}
            )
        assert profile.json()["emailAddress"] == "web@x.test"
    embedded.close()
    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=2, verify=TLS) as browser:
        browser.get(url)


def test_bridge_surfaces_drop_and_timeouts_like_a_socket(embedded: EmbeddedSandbox) -> None:
    with bridge_client(embedded) as client:
        client.post("/_sandbox/faults", json={"path": "/api/v1/tools", "kind": "drop", "times": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/api/v1/tools")
        assert client.get("/api/v1/tools").status_code == 200
        client.post(
            "/_sandbox/faults",
            json={"path": "/api/v1/tools", "kind": "latency", "latency_ms": 2000, "times": 1},
        )
        with pytest.raises(httpx.ReadTimeout):
            client.get("/api/v1/tools", timeout=httpx.Timeout(10, read=0.2))
        client.post(
            "/_sandbox/faults", json={"path": "/api/v1/tools", "kind": "not_json", "times": 1}
        )
        assert client.get("/api/v1/tools").headers["content-type"].startswith("text/html")


def test_bridge_with_a_remote_client_address_is_refused_admin(tmp_path: Path) -> None:
    sandbox = EmbeddedSandbox.open(
        tmp_path / "remote" / "s.sqlite3", client_address=("203.0.113.9", 5000)
    )
    try:
        with bridge_client(sandbox) as client:
            assert client.get("/_sandbox/requests").status_code == 403
            assert client.get("/api/v1/tools").status_code == 200
    finally:
        sandbox.close()


def test_cold_start_does_not_load_a_server(tmp_path: Path) -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, httpx
                from scalekit_cli.sandbox import EmbeddedSandbox
                sandbox = EmbeddedSandbox.open(sys.argv[1])
                with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as c:
                    assert c.get("/api/v1/tools").status_code == 401
                sandbox.close()
                assert "hypercorn" not in sys.modules and "uvicorn" not in sys.modules
                """
            ),
            str(tmp_path / "cold" / "s.sqlite3"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr


_SERVE = """
import sys
from scalekit_cli.sandbox import SandboxSettings, serve

def ready(url):
    print(url, flush=True)

serve(SandboxSettings(), host="127.0.0.1", port=0, ready=ready)
print("returned", flush=True)
print("uvicorn loaded" if "uvicorn" in sys.modules else "one server", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_reports_its_url_and_stops_cleanly(signum: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.post(
            f"{url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "skc_sandbox",
                "client_secret": "sandbox-secret",
            },
        )
        assert answer.status_code == 200
        process.send_signal(signum)
        out, errors = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    assert "returned" in out
    assert "one server" in out, "hypercorn alone serves the sandbox"
    assert "Traceback" not in errors


# --- `sk sandbox serve` as a user runs it ---------------------------------------------------


def _sk_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEKIT_", "SK_"))}
    for name in ("data", "config", "cache"):
        env[f"SK_{name.upper()}_DIR"] = str(tmp_path / name)
    return {**env, "PYTHONUNBUFFERED": "1"}


def _serve_fails(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [str(SK), "sandbox", "serve", *args],
        env=_sk_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == "", done.stdout
    return done.returncode, done.stderr.splitlines()


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = _serve_fails(tmp_path, "--memory", "--port", str(port))
    assert code == 1
    assert lines == [f"sk: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_an_unresolvable_host_is_one_line(tmp_path: Path) -> None:
    code, lines = _serve_fails(tmp_path, "--memory", "--host", "no-such-host.invalid")
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(
        "sk: cannot listen on no-such-host.invalid:8765: "
    ), lines


def test_a_state_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    code, lines = _serve_fails(tmp_path, "--state", str(folder), "--port", "0")
    assert code == 2
    # Click's own path check, as --state is a click.Path (it completes file names too).
    assert lines == [
        f"sk: invalid value for '--state': File '{folder}' is a directory "
        "(see 'sk sandbox serve --help')"
    ]


def test_an_unopenable_state_file_is_one_line(tmp_path: Path) -> None:
    state = tmp_path / "not-a-dir" / "s.sqlite3"
    state.parent.write_text("a file where a folder should be")
    code, lines = _serve_fails(tmp_path, "--state", str(state), "--port", "0")
    assert code == 1
    assert lines == [f"sk: cannot open the sandbox state {state}: File exists"], lines
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database, " * 100)
    code, lines = _serve_fails(tmp_path, "--state", str(garbage), "--port", "0")
    assert code == 1
    assert lines == [f"sk: cannot open the sandbox state {garbage}: file is not a database"]


def test_bad_requests_and_dropped_connections_log_no_raw_lines(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(SK), "sandbox", "serve", "--memory", "--port", "0"],
        env=_sk_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().split("=", 1)[1]
        port = int(url.rsplit(":", 1)[1])
        for garbage in (b"GARBAGE\r\n\r\n", b"\x16\x03\x01\x00\xff", b"GET / HTTP/9\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                raw.sendall(garbage)
                with contextlib.suppress(OSError):
                    raw.recv(4096)
        with httpx.Client(base_url=url, timeout=5) as client:
            client.post("/_sandbox/faults", json={"path": "/api/v1/tools", "kind": "drop"})
            with pytest.raises(httpx.RemoteProtocolError):
                client.get("/api/v1/tools")
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    lines = errors.splitlines()
    assert lines[0].startswith("sandbox listening on http://127.0.0.1:"), lines
    assert lines[1:] == ["sandbox stopped"], lines
