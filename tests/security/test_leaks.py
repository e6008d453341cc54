"""The secret leak search: canary secrets — the client secret, machine tokens, an OAuth access
and refresh token, an API-key account's key — must not appear, whole or as any 8-character
piece, in stdout, stderr, tracebacks or any file the CLI writes (the 0600 token cache may hold
the machine token, and only that), unless `--debug` — and the environment's own credentials
(the client secret, machine tokens) not even then, nor in the `-v --debug` trace. A hostile
`.env` in the working directory (SK_DEBUG=1, a foreign Gmail root, …) changes none of this.

A property test drives random commands × output flags × faults; fixed cases drive the installed
console script, and a hostile server makes httpx itself raise exceptions whose messages carry
a header value (`LocalProtocolError`), fail to encode one, or fail to decode a body.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.conftest import SkProcess, SkResult, assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET, LiveSandbox
from tests.reliability.harness import (
    Setup,
    SkRunner,
    clean_process_environment,
    closed_port,
    start_sandbox,
)

USER = "leak-user@example.com"
CANARY_API_KEY = "canary-api-key-Qm8Zt3Lx9Pw2Rv"

# Per command: argv after `sk`, and whether it takes --json.
COMMANDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "token": (("token", "gmail", "--user", USER), True),
    "token-refresh": (("token", "gmail", "--user", USER, "--field", "refresh_token"), True),
    "token-api-key": (("token", "exa", "--user", USER), True),
    "status": (("status", "gmail", "--user", USER), True),
    "status-all": (("status", "--user", USER), True),
    "gmail": (("gmail", "unread", "--user", USER, "--limit", "2"), True),
    "exec-tool": (("exec-tool", "gmail_fetch_mails", "--user", USER, "-p", "max_results=1"), True),
    "connect": (("connect", "gmail", "--user", USER, "--no-wait"), True),
    "accounts": (("accounts", "list", "--user", USER), True),
    "tools": (("tools", "list", "--connector", "gmail"), True),
    "request": (("request", "gmail", "--user", USER, "/gmail/v1/users/me/profile"), False),
    "run": (("run", "gmail", "--user", USER, "--", sys.executable, "-c", "pass"), False),
    "doctor": (("doctor", "--user", USER), True),
    "tools-show": (("tools", "show", "gmail_fetch_mails"), True),
    "config-show": (("config", "show"), True),
}
# The commands whose --debug output is the user's secret itself.
REVEALING = frozenset({"token", "token-refresh", "token-api-key"})
FLAGS: tuple[tuple[str, ...], ...] = (
    (),
    ("--json",),
    ("-v",),
    ("--json", "-v"),
    ("-v", "--debug"),
    ("--json", "-v", "--debug"),
)
# What an untrusted checkout's .env would set to get secrets out: every switch, none honoured.
HOSTILE_DOTENV = (
    "SK_DEBUG=1\n"
    "SK_GMAIL_API_URL=http://127.0.0.1:9\n"
    "SK_HTTP_TIMEOUT=0.001\n"
    "SK_PROFILE=attacker\n"
    "SK_CACHE_DIR=dotenv-cache\n"
    "SK_CONFIG_DIR=dotenv-config\n"
    "SSL_CERT_FILE=/nonexistent/ca.pem\n"
)
FAULT_PATHS = ("/oauth/token", "/api/v1/*", "/gmail/*", "/proxy/*")
# A provider's answer through the proxy that nests a token deeper than documents are walked
# (the `hostile-answer` fault; tests/security/test_hostile_answers.py has the other shapes).
PROXIED_TOKEN = "ya29.Px6CanaryHq5Vz8Ld"
PROXIED_ANSWER = '{"a": [' * 100 + json.dumps({"access_token": PROXIED_TOKEN}) + "]}" * 100


@dataclass
class Canaries:
    """The secrets to search for; machine tokens are added as the CLI obtains them."""

    fixed: list[str]
    machine_tokens: set[str] = field(default_factory=set)

    def all(self) -> list[str]:
        return [*self.fixed, *sorted(self.machine_tokens)]

    def credentials(self) -> list[str]:
        """The environment's own: never printed, --debug or not."""
        return [CANARY_CLIENT_SECRET, *sorted(self.machine_tokens)]

    def never_shown_by(self, command: str, flags: tuple[str, ...]) -> list[str]:
        if "--debug" in flags and command == "request":
            # --debug reveals what `sk request` outputs: the provider's answer.
            return [secret for secret in self.all() if secret != PROXIED_TOKEN]
        return self.credentials() if command in REVEALING and "--debug" in flags else self.all()

    def learn_machine_tokens(self, cache: Path) -> None:
        for path in cache.glob("**/*.json"):
            try:
                token = json.loads(path.read_text(encoding="utf-8")).get("access_token")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(token, str) and token:
                self.machine_tokens.add(token)


@pytest.fixture(scope="module")
def canaries(setup: Setup, shared_sandbox: LiveSandbox) -> Canaries:
    gmail = setup.connect("gmail", USER)["authorization_details"]["oauth_token"]
    setup.connect("exa", USER, fill={"api_key": CANARY_API_KEY})
    found = Canaries([CANARY_CLIENT_SECRET, gmail["access_token"], gmail["refresh_token"]])
    found.fixed += [CANARY_API_KEY, PROXIED_TOKEN]
    found.machine_tokens.add(shared_sandbox.machine_token())
    return found


def written_files(home: Path) -> Iterator[Path]:
    """Every file under the CLI's home (cache, data, config, and the working directory)."""
    for path in sorted(home.rglob("*")):
        if path.is_file():
            yield path


def assert_files_clean(home: Path, canaries: Canaries) -> None:
    for path in written_files(home):
        text = path.read_bytes().decode("utf-8", "replace")
        if path.parent.name == "tokens" and path.suffix == ".json":
            # The token cache: the machine token is its purpose; nothing else may be there.
            assert path.stat().st_mode & 0o777 == 0o600, path
            assert_no_leak(text, *canaries.fixed)
        else:
            assert_no_leak(text, *canaries.all())


def inject(sandbox: LiveSandbox, fault: str, path: str, env: dict[str, str]) -> None:
    if fault == "none":
        return
    if fault == "token401":
        sandbox.admin("POST", "/_sandbox/machine_tokens/revoke")
        return
    if fault == "down":
        env["SCALEKIT_ENV_URL"] = f"http://127.0.0.1:{closed_port()}"
        return
    if fault == "hostile-answer":
        # Only the proxy's answer is the provider's to shape (elsewhere it would only break
        # the contract, which the other faults do).
        body = json.loads(PROXIED_ANSWER)
        sandbox.fault(path="/proxy/*", kind="mutate", mutation="replace", body=body)
        return
    spec: dict[str, Any] = {
        "503x1": {"kind": "status", "status": 503, "times": 1},
        "500": {"kind": "status", "status": 500},
        "401": {"kind": "status", "status": 401},
        "429": {"kind": "status", "status": 429, "retry_after": 0},
        "drop": {"kind": "drop"},
        "html": {"kind": "not_json"},
    }[fault]
    sandbox.fault(path=path, **spec)


@given(
    command=st.sampled_from(sorted(COMMANDS)),
    flags=st.sampled_from(FLAGS),
    fault=st.sampled_from(
        (
            "none",
            "503x1",
            "500",
            "401",
            "429",
            "drop",
            "html",
            "token401",
            "down",
            "hostile-answer",
        )
    ),
    fault_path=st.sampled_from(FAULT_PATHS),
    cold_cache=st.booleans(),
    hostile_dotenv=st.booleans(),
)
@settings(
    max_examples=150,
    deadline=15_000,  # ms; the slowest fault here (retries with a tiny back-off) takes well under
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_no_canary_in_any_output_or_file(
    command: str,
    flags: tuple[str, ...],
    fault: str,
    fault_path: str,
    cold_cache: bool,
    hostile_dotenv: bool,
    runner: SkRunner,
    shared_sandbox: LiveSandbox,
    canaries: Canaries,
) -> None:
    env: dict[str, str] = {}
    if cold_cache:
        env["SK_CACHE_DIR"] = str(runner.home / "cache" / "cold")
        for old in (runner.home / "cache" / "cold").glob("**/*.json"):
            old.unlink()
    try:
        inject(shared_sandbox, fault, fault_path, env)
        result = run_searched(runner, command, flags, env, hostile_dotenv=hostile_dotenv)
    finally:
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    assert_clean(result, runner, canaries, command, flags)


def run_searched(
    runner: SkRunner,
    command: str,
    flags: tuple[str, ...],
    env: dict[str, str],
    *,
    hostile_dotenv: bool,
) -> SkResult:
    """Run one of COMMANDS with `flags` (those it takes), with or without the hostile .env in
    its working directory."""
    args, takes_json = COMMANDS[command]
    if "--json" in flags and not takes_json:
        flags = tuple(flag for flag in flags if flag != "--json")
    if "--" in args:
        split = args.index("--")
        argv = [*args[:split], *flags, *args[split:]]
    else:
        argv = [*args, *flags]
    dotenv = runner.home / ".env"
    if hostile_dotenv:
        dotenv.write_text(HOSTILE_DOTENV, encoding="utf-8")
    try:
        result = runner(*argv, env=env)
    finally:
        dotenv.unlink(missing_ok=True)
    if hostile_dotenv:
        assert "! .env sets SK_DEBUG, which is ignored" in result.stderr
        for directory in ("dotenv-cache", "dotenv-config"):
            assert not (runner.home / directory).exists()
    return result


def assert_clean(
    result: SkResult, runner: SkRunner, canaries: Canaries, command: str, flags: tuple[str, ...]
) -> None:
    canaries.learn_machine_tokens(runner.home / "cache")
    assert "Traceback" not in result.streams
    assert_no_leak(result, *canaries.never_shown_by(command, flags))
    assert_files_clean(runner.home, canaries)
    if result.exit_code != 0:
        assert_one_error_line(result)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_with_debug_verbose_and_a_hostile_dotenv(
    command: str, runner: SkRunner, canaries: Canaries
) -> None:
    """Each command, cold cache (the token exchange traced too), `-v --debug`, the hostile
    .env: only what the command itself outputs may be revealed, never a credential of the
    environment — and with the .env alone (no --debug), nothing at all."""
    cold = runner.home / "cache" / "cold-debug"
    for old in cold.glob("**/*.json"):
        old.unlink()
    env = {"SK_CACHE_DIR": str(cold)}
    for flags in (("-v", "--debug"), ("--json", "-v", "--debug"), ("-v",)):
        result = run_searched(runner, command, flags, env, hostile_dotenv=True)
        # 2: `sk token -v` in a pipe; doctor fails its keyring check on a machine without one.
        assert result.exit_code in (0, 2) or command == "doctor", result.streams
        assert_clean(result, runner, canaries, command, flags)
        if "-v" in flags and command != "config-show":
            assert "* " in result.stderr, "-v traces"


@pytest.mark.parametrize("flags", FLAGS, ids=" ".join)
def test_sk_request_with_a_hostile_answer_leaks_nothing(
    flags: tuple[str, ...],
    runner: SkRunner,
    shared_sandbox: LiveSandbox,
    canaries: Canaries,
    tmp_path: Path,
) -> None:
    """The provider's token nested beyond the depth documents are walked, in a pipe: masked
    on stdout, in the -v trace and in --json; only --debug shows the answer as it came."""
    # A cache of its own: a machine token an earlier test revoked would make the proxy answer
    # 401 under the replaced body, which sk rightly takes for the provider's.
    env = {"SK_CACHE_DIR": str(tmp_path / "cache")}
    inject(shared_sandbox, "hostile-answer", "/proxy/*", env)
    try:
        result = run_searched(runner, "request", flags, env, hostile_dotenv=False)
    finally:
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    assert result.exit_code == 0, result.streams
    assert_clean(result, runner, canaries, "request", flags)
    if "--debug" in flags and "--json" not in flags:
        assert PROXIED_TOKEN in result.stdout  # the detector would have seen it


def test_the_search_finds_what_debug_reveals(
    runner: SkRunner, shared_sandbox: LiveSandbox, canaries: Canaries
) -> None:
    """The detector works: with --debug the canaries are printed, and found."""
    revealed = runner("token", "gmail", "--user", USER, "--debug")
    with pytest.raises(AssertionError, match="leaked"):
        assert_no_leak(revealed, *canaries.all())
    key = runner("token", "exa", "--user", USER, "--debug")
    assert CANARY_API_KEY in key.stdout
    # Eight characters from the middle of a canary are enough to be caught.
    with pytest.raises(AssertionError, match="piece"):
        assert_no_leak(f"…{CANARY_API_KEY[5:13]}…", CANARY_API_KEY)


@pytest.mark.parametrize(
    ("fault", "args"),
    [
        ({"path": "/api/v1/*", "kind": "status", "status": 500}, ("token", "gmail", "-v")),
        ({"path": "/api/v1/*", "kind": "drop"}, ("gmail", "unread", "-v")),
        ({"path": "/oauth/token", "kind": "not_json"}, ("status", "gmail", "-v")),
        ({"path": "/gmail/*", "kind": "status", "status": 401}, ("gmail", "unread", "--json")),
    ],
)
def test_the_console_script_leaks_nothing(
    fault: dict[str, Any],
    args: tuple[str, ...],
    runner: SkRunner,
    shared_sandbox: LiveSandbox,
    canaries: Canaries,
    tmp_path: Path,
) -> None:
    """The installed `sk`, in a process of its own, cold cache, under a fault."""
    env = runner.env(SK_CACHE_DIR=str(tmp_path / "cache"))
    shared_sandbox.fault(**fault)
    try:
        result = SkProcess(env, tmp_path)(*args[:-1], "--user", USER, args[-1])
    finally:
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    canaries.learn_machine_tokens(tmp_path / "cache")
    assert result.exit_code == 1, result.stderr
    assert_one_error_line(result)
    assert_no_leak(result, *canaries.all())
    assert_files_clean(tmp_path, canaries)


# -- a hostile server: exceptions from inside httpx ------------------------------------------------

HOSTILE_MACHINE_TOKEN = "sbx_mt_hostileCanaryZ7q\r\nX-Injected: yes"
HOSTILE_ACCESS_TOKENS = {
    "crlf": "ya29.hostileCanaryK3v\r\nX-Injected: yes",  # h11 raises LocalProtocolError with it
    "non-ascii": "ya29.hostileCanaryK3vé",  # httpx cannot encode the header at all
}


def rewrite_json(app: Any, path: str, change: Callable[[Any], Any]) -> Any:
    """ASGI middleware: the JSON answers of `path` rewritten by `change`."""

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] != path or not _from_sk(scope):
            await app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = json.dumps(change(json.loads(b"".join(chunks)))).encode()
                    headers = [
                        (name, value)
                        for name, value in start["headers"]
                        if name.lower() != b"content-length"
                    ]
                    headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})

        await app(scope, receive, capture)

    return wrapped


def _from_sk(scope: dict) -> bool:
    """Only the CLI under test meets the hostile answers, not the test's own set-up client."""
    headers = dict(scope.get("headers", []))
    return headers.get(b"user-agent", b"").startswith(b"scalekit-cli/")


def garbled_gzip(app: Any, path: str) -> Any:
    """ASGI middleware: `path` answers a body that claims gzip and is not."""

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] != path or not _from_sk(scope):
            await app(scope, receive, send)
            return
        body = gzip.compress(b'{"connected_account": {}}')[:-12] + b"\x00garbage"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-encoding", b"gzip"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return wrapped


def _with_machine_token(answer: dict) -> dict:
    return {**answer, "access_token": HOSTILE_MACHINE_TOKEN}


def _with_access_token(token: str) -> Callable[[dict], dict]:
    def change(answer: dict) -> dict:
        details = answer["connected_account"]["authorization_details"]
        details["oauth_token"]["access_token"] = token
        return answer

    return change


@pytest.fixture
def hostile_home(tmp_path: Path) -> Iterator[SkRunner]:
    with clean_process_environment(), pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        yield tmp_path  # type: ignore[misc]


def _run_against(wrap: Callable[[Any], Any], home: Path, *args: str) -> tuple[SkResult, list[dict]]:
    """One run against a sandbox wrapped in `wrap`; the result and the sandbox's request log."""
    sandbox = start_sandbox(wrap)
    try:
        Setup(sandbox).connect("gmail", USER)
        sandbox.clear_requests()
        result = SkRunner(sandbox, home)(*args)
        return result, sandbox.requests()
    finally:
        sandbox.stop()


def _hostile_secrets(token: str) -> list[str]:
    return [piece for piece in token.replace("\r\n", "\n").split("\n") if len(piece) >= 8]


@pytest.mark.parametrize("verbose", [False, True])
def test_a_malformed_machine_token_is_refused_and_never_cached(
    verbose: bool, hostile_home: Path
) -> None:
    args = ("token", "gmail", "--user", USER, *(("-v",) if verbose else ()))
    result, _ = _run_against(
        lambda app: rewrite_json(app, "/oauth/token", _with_machine_token), hostile_home, *args
    )
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert "malformed access_token" in line and "127.0.0.1" in line
    assert_no_leak(result, CANARY_CLIENT_SECRET, *_hostile_secrets(HOSTILE_MACHINE_TOKEN))
    # Nothing cached: the next run asks again rather than failing for an hour.
    assert not list((hostile_home / "cache").glob("**/*.json"))


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("kind", sorted(HOSTILE_ACCESS_TOKENS))
def test_an_unsendable_token_fails_cleanly_without_header_injection(
    kind: str, verbose: bool, hostile_home: Path
) -> None:
    token = HOSTILE_ACCESS_TOKENS[kind]
    args = ("gmail", "unread", "--user", USER, *(("-v",) if verbose else ()))
    result, log = _run_against(
        lambda app: rewrite_json(app, "/api/v1/connected_accounts/auth", _with_access_token(token)),
        hostile_home,
        *args,
    )
    assert result.exit_code == 1, result.stderr
    line = assert_one_error_line(result)
    assert "could not be sent" in line
    assert_no_leak(result, *_hostile_secrets(token))
    assert not any("x-injected" in entry["headers"] for entry in log)
    # A request that cannot be written is not retried: nothing about it will change.
    assert not any(entry["path"].startswith("/gmail/") for entry in log)


def test_an_undecodable_body_fails_cleanly(hostile_home: Path) -> None:
    result, _ = _run_against(
        lambda app: garbled_gzip(app, "/api/v1/connected_accounts/details"),
        hostile_home,
        "status",
        "gmail",
        "--user",
        USER,
        "-v",
    )
    assert result.exit_code == 1, result.stderr
    assert "could not be decoded" in assert_one_error_line(result)
    assert "Traceback" not in result.streams


def echoing_refusal(app: Any, path: str, message: str) -> Any:
    """ASGI middleware: `path` refuses the CLI with a 401 whose description is `message`."""

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] != path or not _from_sk(scope):
            await app(scope, receive, send)
            return
        body = json.dumps({"error": "invalid_client", "error_description": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "piece",
    [CANARY_CLIENT_SECRET[:18], CANARY_CLIENT_SECRET[5:13], CANARY_CLIENT_SECRET[-9:]],
    ids=["prefix", "middle", "suffix"],
)
def test_a_partial_echo_of_the_secret_is_scrubbed(piece: str, debug: bool, tmp_path: Path) -> None:
    """A server quoting part of the client secret back (`CANARYcs-7Hq2Zr9Lw4…`) gets it
    scrubbed like the whole value, --debug or not: any 8-character piece counts."""
    message = f"client secret {piece}… does not match"
    with clean_process_environment(), pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        sandbox = start_sandbox(lambda app: echoing_refusal(app, "/oauth/token", message))
        try:
            args = ("status", "gmail", "--user", USER, *(("--debug",) if debug else ()))
            result = SkRunner(sandbox, tmp_path)(*args)
        finally:
            sandbox.stop()
    assert result.exit_code == 5, result.streams
    line = assert_one_error_line(result)
    assert "rejected the client credentials: client secret " in line and "does not match" in line
    assert_no_leak(result, CANARY_CLIENT_SECRET)
