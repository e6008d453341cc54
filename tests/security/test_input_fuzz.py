"""Input fuzzing: identifiers, connector names, `-d` documents and `--param` values drawn from
hostile alphabets (control characters, NUL, bidi controls, 10 000-character strings, emoji,
`../`, `%00`, CRLF, bytes that are not UTF-8).

Every run either ends with exit 2 and one clear line — before any request — or sends the input
to the sandbox exactly, byte for byte, as the sandbox's request log shows. An error line is
short and holds no raw control or bidi character (it must not rewrite the user's terminal), and
nothing the user typed ever becomes a header of its own.
"""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scalekit_cli.scalekit import limits
from tests.cli.conftest import SK, SkProcess, SkResult, assert_one_error_line
from tests.conftest import LiveSandbox
from tests.reliability.harness import Setup, SkRunner

# The service's rules for connected-account requests (derived from the descriptors).
IDENTIFIER_MAX = limits.IDENTIFIER_MAX_LEN
CONNECTOR_MAX = limits.CONNECTOR_MAX_LEN
FUZZ_USER = "fuzz-user@example.com"
ERROR_LINE_MAX = 400  # characters: a clear line, whatever the size of the input
CONNECTOR_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _:-")
# Characters that reorder or hide text on a terminal.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
HOSTILE_PIECES = (
    "\x00",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\x1b[2J",
    "\x7f",
    "\x85",
    "\u200f",
    "\u202e",
    "\u2066",
    "\u2028",
    "\ufeff",
    "../",
    "..\\",
    "%00",
    "%0d%0a",
    "%2F",
    "😀",
    "👩‍👩‍👧",
    "\udcff",  # a byte that is not UTF-8, as Python decodes such an argv
    " ",
    "'",
    '"',
    "\\",
    "&",
    "?",
    "#",
    "/",
    "+",
    "=",
    ";",
    "$(id)",
    "é",
    "İ",
    "X-Injected: yes",
)
EXAMPLES = {"deadline": 10_000, "database": None}

hostile_text = st.one_of(
    st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=6)), max_size=8).map(
        "".join
    ),
    st.builds(
        lambda piece, length: (piece * length)[:length],
        st.sampled_from(("a", "😀", "\u202e", "../", "é", "\r\n")),
        st.integers(IDENTIFIER_MAX - 2, 10_000),
    ),
)


@pytest.fixture(scope="module")
def fuzz_account(setup: Setup) -> None:
    setup.connect("gmail", FUZZ_USER)


def acceptable_identifier(text: str) -> bool:
    """README: an empty --user, one over 1 024 characters, or one holding control characters
    (or bytes that are not UTF-8) is refused with exit 2."""
    return (
        bool(text.strip())
        and len(text) <= IDENTIFIER_MAX
        and not any(unicodedata.category(char) in ("Cc", "Cs") for char in text)
    )


def acceptable_connector(text: str) -> bool:
    return (
        1 <= len(text) <= CONNECTOR_MAX and set(text) <= CONNECTOR_ALPHABET and bool(text.strip())
    )


def assert_clear_usage_error(result: SkResult, log: list[dict]) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr[-500:])
    line = assert_one_error_line(result)
    assert len(line) <= ERROR_LINE_MAX, f"a {len(line)}-character error line"
    assert not any(
        unicodedata.category(char) in ("Cc", "Cs") or char in BIDI_CONTROLS for char in line
    ), repr(line)
    assert log == [], "a usage error must stop before any request"


def query_values(entry: dict, name: str) -> list[str]:
    return parse_qs(entry["query"], keep_blank_values=True, errors="strict").get(name, [])


def run_logged(runner: SkRunner, sandbox: LiveSandbox, *args: str) -> tuple[SkResult, list[dict]]:
    sandbox.clear_requests()
    result = runner(*args)
    assert "Traceback" not in result.streams
    return result, sandbox.requests()


# After a 404 for an account, `sk` reads the connections, the catalogue and the user's accounts
# for "did you mean".
SUGGESTION_LOOKUPS = {"/api/v1/tools", "/api/v1/connected_accounts", "/api/v1/connections/app"}


def api_requests(log: list[dict]) -> list[dict]:
    return [entry for entry in log if entry["path"] != "/oauth/token"]


@given(identifier=hostile_text)
@example(identifier="a\udcffb")
@example(identifier="nul\x00byte")
@example(identifier="crlf\r\nX-Injected: yes")
@example(identifier="\u202eevil\u2066")
@example(identifier="../../%00%0d%0a")
@example(identifier="😀" * IDENTIFIER_MAX)
@example(identifier="😀" * (IDENTIFIER_MAX + 1))
@example(identifier="x" * 10_000)
@example(identifier=" \u2028 ")
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
def test_identifiers_are_refused_or_reach_the_server_exactly(
    identifier: str, runner: SkRunner, shared_sandbox: LiveSandbox
) -> None:
    result, log = run_logged(
        runner, shared_sandbox, "connect", "gmail", f"--user={identifier}", "--no-wait", "--json"
    )
    if not acceptable_identifier(identifier):
        assert_clear_usage_error(result, api_requests(log))
        return
    assert result.exit_code == 0, result.stderr[-500:]
    assert json.loads(result.stdout)["identifier"] == identifier
    requests = api_requests(log)
    assert requests, "nothing reached the sandbox"
    for entry in requests:
        if entry["method"] == "GET":
            assert query_values(entry, "identifier") == [identifier]
        else:
            assert json.loads(entry["body"])["identifier"] == identifier


@given(identifier=hostile_text)
@example(identifier="crlf\r\nX-Injected: yes")
@example(identifier="utf8 é 😀 \u202e")
@example(identifier="\u200f ")
@example(identifier=" leading space")
@example(identifier="a\udcffb")
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
def test_an_identifier_sent_as_a_header_cannot_inject_one(
    identifier: str, runner: SkRunner, shared_sandbox: LiveSandbox
) -> None:
    """`sk request` names the account in the proxy's `identifier` header — whose value cannot
    start or end with a space, so such an identifier is refused there."""
    result, log = run_logged(
        runner,
        shared_sandbox,
        "request",
        "gmail",
        f"--user={identifier}",
        "/gmail/v1/users/me/profile",
    )
    if not acceptable_identifier(identifier) or identifier != identifier.strip(" "):
        assert_clear_usage_error(result, api_requests(log))
        return
    [proxied] = [entry for entry in log if entry["path"].startswith("/proxy/")]
    # The log decodes header bytes as Latin-1; the CLI sent UTF-8.
    sent = proxied["headers"]["identifier"].encode("latin-1").decode("utf-8")
    assert sent == identifier
    assert "x-injected" not in proxied["headers"]
    assert result.exit_code in (0, 1, 3)
    if result.exit_code:
        assert_one_error_line(result)


@given(connector=hostile_text)
@example(connector="gmail\r\nX-Injected: yes")
@example(connector="-gmail")
@example(connector="gm ail:x_y-z")
@example(connector="g" * (CONNECTOR_MAX + 1))
@example(connector="\udcff")
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
def test_connector_names_are_refused_or_reach_the_server_exactly(
    connector: str, runner: SkRunner, shared_sandbox: LiveSandbox
) -> None:
    # After `--`, a name starting with '-' is a name, not an option.
    result, log = run_logged(
        runner, shared_sandbox, "status", "--user", "fuzz-user", "--", connector
    )
    if not acceptable_connector(connector):
        assert_clear_usage_error(result, api_requests(log))
        return
    details, *lookups = api_requests(log)
    assert details["path"] == "/api/v1/connected_accounts/details"
    assert query_values(details, "connector") == [connector]
    # No such account: what follows only reads the names the environment knows, to suggest one.
    assert {entry["path"] for entry in lookups} <= SUGGESTION_LOOKUPS
    assert result.exit_code in (1, 2, 3)  # failure, a typo ("did you mean"), no such account
    assert_one_error_line(result)


# -- exec-tool: -d documents and --param values ---------------------------------------------------

TOOL = "gmail_fetch_mails"


@st.composite
def conforming_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Documents gmail_fetch_mails accepts, with hostile strings where it takes strings."""
    text = hostile_text.filter(lambda value: "\udcff" not in value)
    document: dict[str, Any] = {"query": draw(text)}
    if draw(st.booleans()):
        document["max_results"] = draw(st.integers(1, 500))
    if draw(st.booleans()):
        document["label_ids"] = draw(st.lists(text, max_size=3))
    if draw(st.booleans()):
        document["page_token"] = draw(text)
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """RFC 8259 JSON: Python's parser also takes NaN and Infinity, which no server accepts."""
    return json.loads(text, parse_constant=_refuse_constant)


def is_unicode(document: Any) -> bool:
    """Lone surrogates (from `\\ud800` escapes or non-UTF-8 argv) cannot be sent as UTF-8."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def executed_params(log: list[dict]) -> list[Any]:
    return [
        json.loads(entry["body"])["params"]
        for entry in log
        if entry["path"] == "/api/v1/execute_tool"
    ]


@given(document=conforming_documents(), ascii_only=st.booleans())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
def test_documents_reach_the_tool_exactly(
    document: dict[str, Any],
    ascii_only: bool,
    runner: SkRunner,
    shared_sandbox: LiveSandbox,
    fuzz_account: None,
) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    result, log = run_logged(
        runner, shared_sandbox, "exec-tool", TOOL, "--user", FUZZ_USER, "-d", text
    )
    assert executed_params(log) == [document], result.stderr[-500:]
    assert result.exit_code in (0, 1), result.stderr[-500:]
    if result.exit_code:
        assert_one_error_line(result)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text
)
json_documents = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=6,
)
document_texts = st.one_of(
    hostile_text,
    json_documents.map(json.dumps),
    json_documents.map(lambda value: json.dumps(value, ensure_ascii=False)),
    st.sampled_from(
        (
            '{"query": NaN}',
            '{"max_results": Infinity}',
            '{"query": "\\ud800"}',
            '{"query": "a", "query": "b"}',
            "[]",
            "null",
            '"{}"',
            "{}",
            "{" * 5000,
            "[" * 100_000,
        )
    ),
)


@given(text=document_texts)
@example(text="")
@example(text='{"query": NaN}')
@example(text='{"query": "\\ud800"}')
@example(text="[" * 100_000)
@example(text='{"query": "a\\r\\nX-Injected: yes"}')
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
def test_any_document_is_refused_or_reaches_the_tool_exactly(
    text: str, runner: SkRunner, shared_sandbox: LiveSandbox, fuzz_account: None
) -> None:
    result, log = run_logged(
        runner, shared_sandbox, "exec-tool", TOOL, "--user", FUZZ_USER, "-d", text
    )
    try:
        document = strict_json(text)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict) or not is_unicode(document):
        assert_clear_usage_error(result, [e for e in log if e["path"] == "/api/v1/execute_tool"])
        return
    sent = executed_params(log)
    if result.exit_code == 2:  # refused by the tool's input schema, before executing
        assert_clear_usage_error(result, sent)
        return
    assert sent == [document]
    if result.exit_code:
        assert_one_error_line(result)


def param_value(raw: str) -> Any:
    """README: --param values parse as JSON where they can and stay strings otherwise."""
    try:
        return strict_json(raw)
    except (ValueError, RecursionError):
        return raw


@given(raw=hostile_text)
@example(raw="NaN")
@example(raw="-Infinity")
@example(raw='"\\ud800"')
@example(raw="\udcff")
@example(raw="[" * 100_000)
@example(raw='"quoted"')
@example(raw="5")
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
def test_param_values_are_refused_or_reach_the_tool_exactly(
    raw: str, runner: SkRunner, shared_sandbox: LiveSandbox, fuzz_account: None
) -> None:
    result, log = run_logged(
        runner, shared_sandbox, "exec-tool", TOOL, "--user", FUZZ_USER, "--param", f"query={raw}"
    )
    value = param_value(raw)
    sent = executed_params(log)
    if not isinstance(value, str) or not is_unicode(value):
        # `query` takes a string: a number, list or null is refused by the schema, before sending.
        assert_clear_usage_error(result, sent)
        return
    assert sent == [{"query": value}], result.stderr[-500:]
    if result.exit_code:
        assert_one_error_line(result)


@given(key=hostile_text)
@example(key="")
@example(key="  ")
@example(key="k" * 10_000)
@example(key="query")
@example(key="\udcff")
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], **EXAMPLES)
def test_param_keys_are_refused_or_reach_the_tool_exactly(
    key: str, runner: SkRunner, shared_sandbox: LiveSandbox, fuzz_account: None
) -> None:
    result, log = run_logged(
        runner, shared_sandbox, "exec-tool", TOOL, "--user", FUZZ_USER, "--param", f"{key}=1"
    )
    sent = executed_params(log)
    name = key.partition("=")[0].strip()
    value = param_value((key + "=1").partition("=")[2])
    if not name or not is_unicode(name) or name in ("query", "page_token", "label_ids"):
        assert_clear_usage_error(result, sent)
        return
    if result.exit_code == 2:
        assert_clear_usage_error(result, sent)
        return
    assert sent == [{name: value}], result.stderr[-500:]


# -- fixed cases through the real console script -------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [b"status", b"gmail", b"--user", b"user\xff\xfe"],
        [b"token", b"gmail", b"--user", b"user\xff"],  # `sk token` has a path without Typer
        [b"exec-tool", b"gmail_fetch_mails", b"--account-id", b"ca_\xc3"],
        [b"exec-tool", b"gmail_fetch_mails", b"--user", b"u", b"-p", b"query=\xff"],
    ],
)
def test_argv_that_is_not_utf8_is_a_usage_error(
    argv: list[bytes], runner: SkRunner, shared_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """From a shell, a byte that is not UTF-8 reaches Python as a lone surrogate."""
    shared_sandbox.clear_requests()
    done = subprocess.run(
        [str(SK).encode(), *argv],
        env={k.encode(): v.encode() for k, v in runner.env().items()}
        | {b"PATH": b"/usr/bin:/bin", b"LANG": b"C.UTF-8"},
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    result = SkResult(done.returncode, done.stdout.decode(), done.stderr.decode("utf-8", "replace"))
    assert_clear_usage_error(result, api_requests(shared_sandbox.requests()))
    assert "holds bytes that are not UTF-8" in result.stderr


def test_hostile_identifiers_through_the_console_script(
    runner: SkRunner, shared_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """What a shell can pass (no NUL: argv cannot hold one) reaches the server exactly."""
    sk = SkProcess(runner.env(), tmp_path)
    for identifier in (
        "\u202eevil\u202c@example.com",
        "😀" * IDENTIFIER_MAX,  # the rule counts characters, not bytes
        "../../etc/passwd%00",
        "a&b=c#d?e",
    ):
        shared_sandbox.clear_requests()
        result = sk("status", "gmail", f"--user={identifier}")
        assert result.exit_code == 3, result.stderr  # no such account: it was looked up
        details, *lookups = api_requests(shared_sandbox.requests())
        assert query_values(details, "identifier") == [identifier]
        assert {entry["path"] for entry in lookups} <= SUGGESTION_LOOKUPS
    for identifier in ("line\r\nbreak", "a" * (IDENTIFIER_MAX + 1), "   ", "\x1b[2Jclear"):
        shared_sandbox.clear_requests()
        result = sk("status", "gmail", f"--user={identifier}")
        assert_clear_usage_error(result, api_requests(shared_sandbox.requests()))


@given(identifier=hostile_text.filter(acceptable_identifier))
@example(identifier="\u200f\u2028")
@example(identifier="\u202eevil'\\")
@example(identifier='it\'s a "test"')
@settings(max_examples=40, **EXAMPLES)
def test_the_suggested_connect_command_is_one_line_that_runs_as_printed(identifier: str) -> None:
    """`sk` prints `sk connect … --user WORD` for the user to paste: WORD must be one line with
    nothing that reorders it on a terminal, and a shell must turn it back into the identifier."""
    from scalekit_cli.errors import shell_word

    word = shell_word(identifier)
    assert len(word.splitlines()) == 1
    assert not any(
        unicodedata.category(char) in ("Cc", "Cs") or char in BIDI_CONTROLS for char in word
    )
    echoed = subprocess.run(
        ["bash", "-c", f"printf '%s' {word}"],
        capture_output=True,
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
        timeout=10,
        check=True,
    )
    assert echoed.stdout.decode("utf-8") == identifier
