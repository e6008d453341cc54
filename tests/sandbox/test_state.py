"""The SQLite state: in memory and on disk, shared by processes and threads, and reset."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from scalekit_cli.sandbox import SandboxSettings, default_state_path, reset_state
from scalekit_cli.sandbox.engine import AccountKey, SandboxEngine
from tests.conftest import LiveSandbox

PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_is_cheap() -> None:
    probe = run_python(
        """
        import sys
        import scalekit_cli.sandbox as sandbox
        from scalekit_cli.sandbox import SandboxSettings, default_state_path
        SandboxSettings()
        heavy = ("starlette", "uvicorn", "sqlite3", "httpx", "anyio")
        heavy = [name for name in heavy if name in sys.modules]
        assert not heavy, heavy
        assert "create_app" in dir(sandbox)
        """
    )
    assert probe.returncode == 0, probe.stderr


def test_default_state_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SK_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    path = default_state_path()
    assert path.name == "sandbox.sqlite3"
    assert "scalekit-cli" in path.parts
    monkeypatch.setenv("SK_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_state_path() == tmp_path / "elsewhere" / "sandbox.sqlite3"


def test_file_state_uses_wal(tmp_path: Path) -> None:
    engine = SandboxEngine(SandboxSettings(state_path=tmp_path / "s.sqlite3"))
    engine.create_account(AccountKey(connector="gmail", identifier="wal"))
    engine.close()
    with sqlite3.connect(tmp_path / "s.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


_WRITER = """
import sys
from pathlib import Path
from scalekit_cli.sandbox import SandboxSettings
from scalekit_cli.sandbox.engine import AccountKey, SandboxEngine

engine = SandboxEngine(SandboxSettings(state_path=Path(sys.argv[1])))
for number in range(int(sys.argv[3])):
    engine.create_account(AccountKey(connector="gmail", identifier=f"{sys.argv[2]}-{number}"))
    engine.get_account_auth(AccountKey(connector="gmail", identifier=f"{sys.argv[2]}-{number}"))
engine.close()
"""


def test_two_processes_write_one_file_at_once(tmp_path: Path) -> None:
    state = tmp_path / "shared.sqlite3"
    writers = [
        subprocess.Popen(
            [PYTHON, "-c", _WRITER, str(state), name, "200"],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=60)
        assert writer.returncode == 0, errors
    engine = SandboxEngine(SandboxSettings(state_path=state))
    listing = engine.list_accounts(page_size=100)
    assert listing["total_size"] == 400
    engine.close()


def test_threads_share_one_engine(tmp_path: Path) -> None:
    for state in (None, tmp_path / "threads.sqlite3"):
        engine = SandboxEngine(SandboxSettings(state_path=state))
        failures: list[BaseException] = []

        def work(
            name: str, engine: SandboxEngine = engine, failures: list[BaseException] = failures
        ) -> None:
            try:
                for number in range(40):
                    key = AccountKey(connector="gmail", identifier=f"{name}-{number}")
                    engine.create_account(key)
                    engine.get_account_auth(key)
            except BaseException as error:  # pragma: no cover - reported below
                failures.append(error)

        threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        assert engine.list_accounts()["total_size"] == 160
        engine.close()


def test_state_survives_across_processes_through_the_embedded_bridge(tmp_path: Path) -> None:
    state = tmp_path / "data" / "sandbox.sqlite3"
    first = run_python(
        """
        import json, sys, httpx
        from scalekit_cli.sandbox import EmbeddedSandbox
        sandbox = EmbeddedSandbox.open(sys.argv[1])
        with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as client:
            token = client.post("/oauth/token", data={
                "grant_type": "client_credentials",
                "client_id": sandbox.settings.client_id,
                "client_secret": sandbox.settings.client_secret,
            }).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            created = client.post("/api/v1/connected_accounts", headers=headers,
                                  json={"connector": "gmail", "identifier": "kept@example.com",
                                        "connected_account": {}})
            assert created.status_code == 201, created.text
        sandbox.close()
        print(json.dumps({"token": token, "id": created.json()["connected_account"]["id"]}))
        """,
        str(state),
    )
    assert first.returncode == 0, first.stderr
    written = json.loads(first.stdout)
    second = run_python(
        """
        import json, sys, httpx
        from scalekit_cli.sandbox import EmbeddedSandbox
        sandbox = EmbeddedSandbox.open(sys.argv[1])
        with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as client:
            # The machine token of the first process is still good: it is state too.
            answer = client.get("/api/v1/connected_accounts",
                                headers={"Authorization": f"Bearer {sys.argv[2]}"})
        sandbox.close()
        print(answer.text)
        """,
        str(state),
        written["token"],
    )
    assert second.returncode == 0, second.stderr
    listing = json.loads(second.stdout)
    assert [a["id"] for a in listing["connected_accounts"]] == [written["id"]]


def test_reset_state_empties_a_file(tmp_path: Path) -> None:
    state = tmp_path / "reset.sqlite3"
    engine = SandboxEngine(SandboxSettings(state_path=state))
    engine.create_account(AccountKey(connector="gmail", identifier="doomed"))
    engine.advance_clock(500)
    reset_state(state)
    assert engine.list_accounts()["total_size"] == 0
    assert engine.clock_offset() == 0
    engine.close()


def test_admin_reset_empties_state(sandbox: LiveSandbox) -> None:
    sandbox.engine.create_account(AccountKey(connector="gmail", identifier="doomed"))
    sandbox.admin("POST", "/_sandbox/reset")
    assert sandbox.engine.list_accounts()["total_size"] == 0


def test_settings_reject_unknown_verification_mode() -> None:
    with pytest.raises(ValueError):
        SandboxSettings(user_verification="sometimes")
