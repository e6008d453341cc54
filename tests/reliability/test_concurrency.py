"""The machine-token cache under concurrency and damage: twenty cold `sk token` processes at
once, corrupted and foreign cache files, and one cache per environment URL and client id.

The figures asserted here are quoted in docs/reliability.md, from `figures.py`."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from scalekit_cli.scalekit.token_cache import FETCH_LOCK_WAIT_SECONDS, TokenCache
from tests.cli.conftest import SkProcess, assert_one_error_line
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, LiveSandbox
from tests.reliability.figures import (
    CONCURRENT_PROCESSES,
    DAMAGE_KINDS,
    TOKEN_DIRECTORY_MODE,
    TOKEN_FILE_MODE,
)
from tests.reliability.harness import Setup, SkRunner, count_requests, start_sandbox
from tests.security.fingerprints import logged_bearer

IDENTIFIER = "cache-user"


@pytest.fixture(scope="module")
def cache_account(setup: Setup) -> None:
    setup.connect("gmail", IDENTIFIER)


def token_files(cache: Path) -> list[Path]:
    directory = cache / "tokens"
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_twenty_cold_processes_share_one_token_exchange(
    runner: SkRunner, shared_sandbox: LiveSandbox, cache_account: None, tmp_path: Path
) -> None:
    cache = tmp_path / "cold-cache"
    env = runner.env(SK_CACHE_DIR=str(cache))
    shared_sandbox.clear_requests()
    invalid_reads: list[str] = []
    reads = 0
    done = threading.Event()

    def watch_cache_file() -> None:
        # Whatever moment a reader picks, it sees no file, the old file or the new one.
        nonlocal reads
        while not done.is_set():
            for path in token_files(cache):
                try:
                    text = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    continue
                reads += 1
                try:
                    json.loads(text)
                except ValueError:
                    invalid_reads.append(text)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch_cache_file, daemon=True)
    watcher.start()
    sk = SkProcess(env, tmp_path)
    processes = [
        sk.popen("token", "gmail", "--user", IDENTIFIER, "--json")
        for _ in range(CONCURRENT_PROCESSES)
    ]
    outcomes = [(process.wait(timeout=120), *process.communicate()) for process in processes]
    done.set()
    watcher.join()

    assert [code for code, _, _ in outcomes] == [0] * CONCURRENT_PROCESSES, outcomes
    assert all(stdout.strip() for _, stdout, _ in outcomes)
    assert all("Traceback" not in stderr for _, _, stderr in outcomes)
    # The lock serialises the fetch: one exchange, and nineteen processes read its result.
    assert count_requests(shared_sandbox.requests(), "POST", "/oauth/token") == 1
    assert count_requests(shared_sandbox.requests(), "GET", "/api/v1/connected_accounts/auth") == (
        CONCURRENT_PROCESSES
    )
    assert reads > 0 and invalid_reads == []
    [cache_file] = token_files(cache)
    document = json.loads(cache_file.read_text(encoding="utf-8"))
    assert document["env_url"] == shared_sandbox.url
    assert document["client_id"] == CANARY_CLIENT_ID
    assert CANARY_CLIENT_SECRET not in cache_file.read_text(encoding="utf-8")
    assert mode(cache_file) == TOKEN_FILE_MODE
    assert mode(cache_file.parent) == TOKEN_DIRECTORY_MODE
    for lock in cache_file.parent.glob("*.lock"):
        assert mode(lock) == TOKEN_FILE_MODE
    assert list(cache_file.parent.glob(".tok-*")) == []  # no temporary file left behind


def test_a_fetch_lock_held_for_ever_delays_a_fetch_only_for_a_while(
    runner: SkRunner, shared_sandbox: LiveSandbox, cache_account: None, tmp_path: Path
) -> None:
    """Another process holds the fetch lock and never lets go (a suspended `sk`): this one
    waits a bounded time, then fetches a token of its own, instead of hanging for ever."""
    import fcntl

    cache = tmp_path / "cache"
    lock = TokenCache(shared_sandbox.url, CANARY_CLIENT_ID, cache / "tokens")._lock_path
    lock.parent.mkdir(parents=True, mode=0o700)
    shared_sandbox.clear_requests()
    with lock.open("w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        sk = SkProcess(runner.env(SK_CACHE_DIR=str(cache)), tmp_path)
        process = sk.popen("token", "gmail", "--user", IDENTIFIER, "--json")
        started = time.monotonic()
        try:
            code = process.wait(timeout=FETCH_LOCK_WAIT_SECONDS + 30)
        finally:
            process.kill()
        waited = time.monotonic() - started
        stdout, stderr = process.communicate()
    assert code == 0, stderr
    assert json.loads(stdout)
    assert waited >= FETCH_LOCK_WAIT_SECONDS - 1
    assert count_requests(shared_sandbox.requests(), "POST", "/oauth/token") == 1
    assert token_files(cache)


def _foreign_environment(sandbox: LiveSandbox) -> bytes:
    return json.dumps(
        {
            "env_url": "https://other.example.com",
            "client_id": CANARY_CLIENT_ID,
            "access_token": "sbx_mt_foreign-environment-token",
            "expires_at": time.time() + 3600,
        }
    ).encode()


def _foreign_client(sandbox: LiveSandbox) -> bytes:
    return json.dumps(
        {
            "env_url": sandbox.url,
            "client_id": "skc_someone_else",
            "access_token": "sbx_mt_foreign-client-token",
            "expires_at": time.time() + 3600,
        }
    ).encode()


def _lapsing(sandbox: LiveSandbox) -> bytes:
    return json.dumps(
        {
            "env_url": sandbox.url,
            "client_id": CANARY_CLIENT_ID,
            "access_token": "sbx_mt_lapsing-token",
            "expires_at": time.time() + 30,  # inside the one-minute margin
        }
    ).encode()


DAMAGE = {
    "empty": lambda sandbox: b"",
    "truncated": lambda sandbox: _lapsing(sandbox)[:40],
    "not-utf8": lambda sandbox: b"\xff\xfe\x00garbage\x80",
    "null": lambda sandbox: b"null",
    "array": lambda sandbox: b"[1, 2]",
    "token-not-a-string": lambda sandbox: b'{"access_token": 5, "expires_at": "soon"}',
    "lapsing": _lapsing,
    "other-environment": _foreign_environment,
    "other-client": _foreign_client,
}


def test_every_kind_of_damage_is_counted_in_the_figures() -> None:
    assert len(DAMAGE) == DAMAGE_KINDS


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_or_foreign_cache_file_is_ignored_and_rewritten(
    damage: str,
    runner: SkRunner,
    shared_sandbox: LiveSandbox,
    cache_account: None,
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    target = TokenCache(shared_sandbox.url, CANARY_CLIENT_ID, cache / "tokens").path
    target.parent.mkdir(parents=True, mode=0o755)
    target.write_bytes(DAMAGE[damage](shared_sandbox))
    target.chmod(0o644)
    shared_sandbox.clear_requests()

    result = runner(
        "token", "gmail", "--user", IDENTIFIER, "--json", env={"SK_CACHE_DIR": str(cache)}
    )

    assert result.exit_code == 0, result.stderr
    log = shared_sandbox.requests()
    assert count_requests(log, "POST", "/oauth/token") == 1  # the file was not trusted
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["env_url"] == shared_sandbox.url
    assert document["client_id"] == CANARY_CLIENT_ID
    [auth] = [entry for entry in log if entry["path"] == "/api/v1/connected_accounts/auth"]
    assert auth["headers"]["authorization"] == logged_bearer(document["access_token"])
    assert mode(target) == TOKEN_FILE_MODE
    assert mode(target.parent) == TOKEN_DIRECTORY_MODE


def test_one_cache_per_environment_url_and_client_id(
    runner: SkRunner,
    shared_sandbox: LiveSandbox,
    setup: Setup,
    cache_account: None,
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    env = {"SK_CACHE_DIR": str(cache)}
    assert runner("token", "gmail", "--user", IDENTIFIER, "--json", env=env).exit_code == 0
    [first] = token_files(cache)
    first_token = json.loads(first.read_text(encoding="utf-8"))["access_token"]

    # Another environment, same client id and secret: the cached token must not travel there.
    other = start_sandbox()
    try:
        Setup(other).connect("gmail", IDENTIFIER)
        other.clear_requests()
        result = runner(
            "token",
            "gmail",
            "--user",
            IDENTIFIER,
            "--json",
            env={**env, "SCALEKIT_ENV_URL": other.url, "SK_GMAIL_API_URL": other.url},
        )
        assert result.exit_code == 0, result.stderr
        log = other.requests()
        assert count_requests(log, "POST", "/oauth/token") == 1
        assert all(first_token not in json.dumps(entry) for entry in log)
        assert len(token_files(cache)) == 2
    finally:
        other.stop()

    # The same environment, another client id: it must prove itself, not borrow the token.
    shared_sandbox.clear_requests()
    borrowed = runner(
        "token",
        "gmail",
        "--user",
        IDENTIFIER,
        "--json",
        env={**env, "SCALEKIT_CLIENT_ID": "skc_intruder"},
    )
    assert borrowed.exit_code == 5, borrowed.stderr
    assert "rejected the client credentials" in assert_one_error_line(borrowed)
    log = shared_sandbox.requests()
    assert count_requests(log, "POST", "/oauth/token") == 1
    assert all(first_token not in json.dumps(entry) for entry in log)


def test_a_loose_cache_directory_is_tightened(
    runner: SkRunner, shared_sandbox: LiveSandbox, cache_account: None, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    (cache / "tokens").mkdir(parents=True)
    os.chmod(cache / "tokens", 0o777)
    result = runner(
        "token", "gmail", "--user", IDENTIFIER, "--json", env={"SK_CACHE_DIR": str(cache)}
    )
    assert result.exit_code == 0, result.stderr
    assert mode(cache / "tokens") == TOKEN_DIRECTORY_MODE
    [cache_file] = token_files(cache)
    assert mode(cache_file) == TOKEN_FILE_MODE
