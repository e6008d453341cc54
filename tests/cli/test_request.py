"""`sk request CONNECTOR --user ID [METHOD] PATH`: raw provider calls through Scalekit's
`/proxy`, with the machine token and the account named by `connection_name` + `identifier`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET
from tests.security.fingerprints import issued_machine_tokens, logged_bearer

UNREAD = "/gmail/v1/users/me/messages?q=is:unread"


def _proxied(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"].startswith("/proxy/")]


def test_get_goes_through_the_proxy_and_prints_the_body_as_is(sk, driver, sandbox):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    sandbox.clear_requests()
    result = sk("request", "gmail", "--user", "u", UNREAD)
    assert result.exit_code == 0, result.stderr
    # The same answer Gmail gives the account's own token directly.
    direct = driver.api_gmail(tokens["access_token"], "/messages", params={"q": "is:unread"})
    assert json.loads(result.stdout) == direct and direct["messages"]
    assert result.stderr == ""

    (call,) = _proxied(sandbox)
    assert (call["method"], call["path"], call["query"]) == (
        "GET",
        "/proxy/gmail/v1/users/me/messages",
        "q=is:unread",
    )
    assert call["headers"]["connection_name"] == "gmail"
    assert call["headers"]["identifier"] == "u"
    assert call["headers"]["authorization"] in map(logged_bearer, issued_machine_tokens(sandbox))
    assert_no_leak(result, tokens["access_token"], tokens["refresh_token"], CANARY_CLIENT_SECRET)


def test_query_flags_are_added_to_the_path_query(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk("request", "gmail", "--user", "u", UNREAD, "-q", "maxResults=2", "-q", "a b=c&d")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["messages"]) == 2
    assert _proxied(sandbox)[0]["query"] == "q=is:unread&maxResults=2&a+b=c%26d"


def test_unicode_identifiers_reach_the_proxy_exactly(sk, driver):
    identifier = "Zoë Ünïcødé 日本語"
    driver.connect("gmail", identifier)
    result = sk("request", "gmail", "--user", identifier, "/gmail/v1/users/me/profile")
    assert result.exit_code == 0, result.stderr
    assert "emailAddress" in json.loads(result.stdout)


def test_verbose_shows_status_and_headers_on_stderr_only(sk, driver):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    result = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "-v")
    assert result.exit_code == 0, result.stderr
    assert "emailAddress" in json.loads(result.stdout)
    assert "< HTTP 200 OK" in result.stderr
    assert "< content-type: application/json" in result.stderr
    assert "authorization: Bearer" in result.stderr  # the trace, with the token redacted
    assert_no_leak(result, tokens["access_token"], CANARY_CLIENT_SECRET)


def test_verbose_shows_the_body_once(sk, driver):
    """The answer's body is the command's output: -v names it in the trace rather than
    printing it a second time (on a terminal both streams show)."""
    driver.connect("gmail", "user_123")
    result = sk("request", "gmail", "--user", "user_123", "/gmail/v1/users/me/profile", "-v")
    assert result.exit_code == 0, result.stderr
    assert "emailAddress" in result.stdout
    assert "emailAddress" not in result.stderr, result.stderr
    assert "bytes: the command's output)" in result.stderr
    assert '"access_token": "sbx_' in result.stderr  # other answers are still traced (masked)


def test_credential_query_parameters_are_masked_in_the_trace_and_the_request_log(
    sk, driver, sandbox
):
    """`-q access_token=… -q api_key=…`: sent as given, but the -v trace's URL and the
    sandbox's request log show neither value (the registry does not know them)."""
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    token, key = "QUERYSECRET123456", "AIzaQUERYKEY9999"
    result = sk(
        "request", "gmail", "--user", "u", "/gmail/v1/users/me/profile",
        "-q", f"access_token={token}", "-q", f"api_key={key}", "-q", "fields=emailAddress", "-v",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    trace = [line for line in result.stderr.splitlines() if line.startswith("* GET ")]
    assert trace and "access_token=" in trace[0] and "fields=emailAddress" in trace[0], trace
    assert_no_leak(result, token, key)
    (call,) = _proxied(sandbox)
    assert "fields=emailAddress" in call["query"]
    assert "access_token=[redacted-sha256:" in call["query"], call["query"]
    assert_no_leak(json.dumps(sandbox.requests()), token, key)


def test_short_credential_fields_are_masked_in_raw_output_as_in_json(sk, sk_env, driver, sandbox):
    """Values too short for the registry (`"pw1"`) are masked by field name on the raw path
    too (piped, and pretty-printed on a terminal), as --json does; --debug shows them."""
    import os
    import pty
    import subprocess

    from tests.cli.conftest import SK, read_terminal

    driver.connect("gmail", "u")
    answer = {"password": "pw1", "access_token": "tok12", "nested": [{"secret": "s3"}], "n": 1}
    sandbox.fault(path="/proxy/*", kind="mutate", mutation="replace", body=answer, times=4)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(SK), "request", "gmail", "--user", "u", "/gmail/v1/users/me/profile"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, **sk_env, "TERM": "dumb", "NO_COLOR": "1"},
    )
    os.close(follower)
    screen = read_terminal(leader, finished=lambda: process.poll() is not None)
    process.wait(timeout=10)
    os.close(leader)
    assert process.returncode == 0, screen
    assert b'"n": 1' in screen and b"[redacted]" in screen, screen
    for value in (b'"pw1"', b'"tok12"', b'"s3"'):
        assert value not in screen, screen
    raw = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile")
    assert raw.exit_code == 0, raw.stderr
    for value in ('"pw1"', '"tok12"', '"s3"'):
        assert value not in raw.stdout, raw.stdout
    shown = json.loads(raw.stdout)
    assert shown["n"] == 1 and shown["password"].endswith("[redacted]")
    as_json = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "--json")
    assert '"pw1"' not in as_json.stdout and '"tok12"' not in as_json.stdout
    revealed = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "--debug")
    assert json.loads(revealed.stdout) == answer


def test_provider_error_prints_the_body_and_exits_1(sk, driver, sandbox):
    driver.connect("gmail", "u")
    result = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/messages/no-such-id")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == 404
    line = assert_one_error_line(result)
    assert "GET /gmail/v1/users/me/messages/no-such-id answered HTTP 404" in line


def test_unusable_account_is_exit_3_with_the_connect_command(sk, driver):
    missing = sk("request", "gmail", "--user", "nobody", "/gmail/v1/users/me/profile")
    assert missing.exit_code == 3
    assert "sk connect gmail --user nobody" in assert_one_error_line(missing)
    driver.connect("gmail", "u")
    driver.force("gmail", "u", "EXPIRED")
    expired = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile")
    assert expired.exit_code == 3
    assert "not ACTIVE" in assert_one_error_line(expired)


def test_data_is_sent_as_json_and_makes_the_method_post(sk, driver, sandbox, tmp_path):
    driver.connect("gmail", "u")
    body = {"raw": "aGVsbG8", "nested": {"n": 1}}
    (tmp_path / "body.json").write_text(json.dumps(body))
    for source, stdin in ((json.dumps(body), None), ("@body.json", None), ("-", json.dumps(body))):
        sandbox.clear_requests()
        result = sk(
            "request", "gmail", "--user", "u", "/gmail/v1/users/me/messages/send",
            "-d", source, input=stdin,
        )  # fmt: skip
        # The sandbox's Gmail has no send: the provider's 4xx comes back, and exit 1.
        assert result.exit_code == 1, result.stderr
        (call,) = _proxied(sandbox)
        assert call["method"] == "POST"
        assert json.loads(call["body"]) == body
        assert call["headers"]["content-type"] == "application/json"


def test_explicit_method_and_headers(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk(
        "request", "gmail", "--user", "u", "put", "/gmail/v1/users/me/drafts/x",
        "-H", "Content-Type: text/plain", "-H", "X-Trace: 42", "-d", "not json",
    )  # fmt: skip
    assert result.exit_code == 1
    (call,) = _proxied(sandbox)
    assert (call["method"], call["body"]) == ("PUT", "not json")
    assert call["headers"]["content-type"] == "text/plain"
    assert call["headers"]["x-trace"] == "42"


def test_usage_errors_send_nothing(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    for args, fragment in (
        (("gmail/v1/users/me/profile",), "must start with '/'"),
        (("FETCH", "/x"), "not an HTTP method"),
        (("GET", "/x", "/y"), "expected [METHOD] PATH"),
        (("/x", "-H", "Authorization: Bearer mine"), "sk sets this header itself"),
        (("/x", "-H", "no colon"), "is not 'Name: value'"),
        (("/x", "-q", "novalue"), "is not key=value"),
        (("/x", "-d", "{not json"), "-d is not valid JSON"),
        (("/x", "-d", "@missing.json"), "cannot read the file"),
    ):
        result = sk("request", "gmail", "--user", "u", *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert fragment in assert_one_error_line(result), args
    assert _proxied(sandbox) == []


HOP_BY_HOP = (
    "Transfer-Encoding: chunked",
    "transfer-encoding: gzip",
    "Connection: close",
    "Content-Length: 0",
    "Host: attacker.example",
    "Keep-Alive: timeout=5",
    "Proxy-Connection: keep-alive",
    "TE: trailers",
    "Trailer: Expires",
    "Upgrade: h2c",
)


def test_hop_by_hop_headers_are_reserved(sk, driver, sandbox):
    """A user's framing or connection header beside sk's own would make a malformed request
    (`Transfer-Encoding` with `Content-Length`): each is exit 2 in one line, nothing sent."""
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    for header in HOP_BY_HOP:
        result = sk("request", "gmail", "--user", "u", "-d", "{}", "/x", "-H", header)
        assert result.exit_code == 2, (header, result.streams)
        name = header.split(":")[0]
        assert assert_one_error_line(result) == f"sk: -H {name}: sk sets this header itself"
    assert _proxied(sandbox) == []


def test_json_mode_wraps_status_headers_and_body(sk, driver):
    driver.connect("gmail", "u")
    result = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == 200
    assert document["headers"]["content-type"] == "application/json"
    assert "emailAddress" in document["body"]


def test_a_refused_machine_token_is_renewed_once(sk, driver, sandbox):
    driver.connect("gmail", "u")
    assert sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile").exit_code == 0
    sandbox.admin("POST", "/_sandbox/machine_tokens/revoke")
    sandbox.clear_requests()
    result = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile")
    assert result.exit_code == 0, result.stderr
    assert [r["path"] for r in sandbox.requests()] == [
        "/proxy/gmail/v1/users/me/profile",
        "/oauth/token",
        "/proxy/gmail/v1/users/me/profile",
    ]


def test_a_provider_401_is_not_taken_for_a_machine_token_problem(sk, driver, sandbox):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    assert sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile").exit_code == 0
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "gmail", "identifier": "u", "rotate": False},
    )
    sandbox.clear_requests()
    result = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile")
    assert result.exit_code == 1
    assert "HTTP 401" in assert_one_error_line(result)
    assert [r["path"] for r in sandbox.requests()] == ["/proxy/gmail/v1/users/me/profile"]
    assert_no_leak(result, tokens["access_token"], CANARY_CLIENT_SECRET)


def test_the_machine_token_is_redacted_in_traces_even_with_debug(sk_process, sk_env, driver):
    driver.connect("gmail", "u")
    quiet = sk_process("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "-v")
    assert quiet.exit_code == 0, quiet.stderr
    (cache,) = (Path(sk_env["SK_CACHE_DIR"]) / "tokens").glob("*.json")
    machine_token = json.loads(cache.read_text())["access_token"]
    assert "authorization: Bearer" in quiet.stderr
    assert_no_leak(quiet, machine_token, CANARY_CLIENT_SECRET)
    debug = sk_process(
        "request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "-v", "--debug"
    )
    assert debug.exit_code == 0, debug.stderr
    assert "authorization: Bearer" in debug.stderr and "emailAddress" in debug.stdout
    assert_no_leak(debug, machine_token, CANARY_CLIENT_SECRET)


# The classic traversal corpus: dot segments plain, percent-encoded (once and twice, either
# case, mixed), behind encoded separators, with `;` parameters or full-width dots; backslashes;
# absolute and protocol-relative URLs. Each would leave `/proxy` once a server in the chain
# normalises or decodes it (httpx itself folds plain dot segments before sending).
TRAVERSALS = [
    "/../api/v1/connected_accounts:delete",
    "/../../_sandbox/requests",
    "/gmail/../../api/v1/connected_accounts",
    "/./gmail/v1/users/me/profile",
    "/gmail/v1/.",
    "/gmail/v1/..",
    "/%2e%2e/api/v1/connected_accounts",
    "/%2E%2E/api/v1/connected_accounts",
    "/%2e%2E/_sandbox/requests",
    "/.%2e/api/v1/connected_accounts",
    "/%2e./api/v1/connected_accounts",
    "/%2e/gmail/v1/users/me/profile",
    "/%252e%252e/api/v1/connected_accounts",
    "/..%2fapi/v1/connected_accounts",
    "/..%2Fapi/v1/connected_accounts",
    "/gmail%2f..%2f..%2fapi/v1/connected_accounts",
    "/%2f%2e%2e/api",
    "/..%5capi/v1/connected_accounts",
    "/..;/api/v1/connected_accounts",
    "/．．/api/v1/connected_accounts",
    "/..\\api\\v1\\connected_accounts",
    "/gmail\\..\\..\\api",
    "\\..\\api",
    "//127.0.0.1:9/api/v1/connected_accounts",
    "http://127.0.0.1:9/api/v1/connected_accounts",
    "https://evil.example/x",
    "gmail/v1/users/me/profile",
]


def test_the_traversal_corpus_is_refused_and_nothing_leaves_the_proxy(sk, driver, sandbox):
    driver.connect("gmail", "u")
    driver.connect("gmail", "stale")
    sandbox.clear_requests()
    for path in TRAVERSALS:
        for target in ((path,), ("POST", path)):
            data = ("-d", '{"connector":"gmail","identifier":"stale"}') if len(target) > 1 else ()
            result = sk("request", "gmail", "--user", "u", *target, *data)
            assert result.exit_code == 2, (path, result.stderr)
            assert result.stdout == ""
            assert "Traceback" not in result.streams
            assert_one_error_line(result)
    assert sandbox.requests() == []  # refused before any request, the token exchange included
    assert driver.account("gmail", "stale")["status"] == "ACTIVE"

    # What stays under /proxy passes, normalised: repeated slashes folded, the query as typed.
    for path, proxied, query in (
        ("/gmail//v1/users/me/profile", "/proxy/gmail/v1/users/me/profile", ""),
        ("/gmail/v1/users/me/messages?q=../..", "/proxy/gmail/v1/users/me/messages", "q=../.."),
        ("/gmail/v1/users/me/..profile", "/proxy/gmail/v1/users/me/..profile", ""),
    ):
        sandbox.clear_requests()
        result = sk("request", "gmail", "--user", "u", path)
        assert result.exit_code in (0, 1), (path, result.stderr)
        log = [entry for entry in sandbox.requests() if entry["path"] != "/oauth/token"]
        assert [(entry["path"], entry["query"]) for entry in log] == [(proxied, query)], path


def test_a_body_without_a_final_newline_gets_one_on_a_terminal_only(sk, sk_env, driver, sandbox):
    """On a terminal the next line (an `sk:` error, the shell prompt) must not run into the
    body; in a pipe or a file the bytes stay exactly as the provider sent them."""
    import os
    import pty
    import subprocess

    from tests.cli.conftest import SK, read_terminal

    driver.connect("gmail", "u")
    sandbox.fault(path="/proxy/*", kind="not_json")  # an HTML page, no final newline
    piped = sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/profile")
    assert piped.exit_code == 0
    assert piped.stdout.startswith("<html>") and piped.stdout.endswith("</html>")

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(SK), "request", "gmail", "--user", "u", "/gmail/v1/users/me/profile", "-v"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, **sk_env, "TERM": "xterm-256color"},
    )
    os.close(follower)
    screen = read_terminal(leader, finished=lambda: process.poll() is not None)
    process.wait(timeout=10)
    os.close(leader)
    assert process.returncode == 0
    assert screen.endswith(b"</html>\r\n"), screen[-80:]


def test_deep_or_non_json_data_is_one_usage_line_and_nothing_is_sent(sk, driver, sandbox):
    """-d too deeply nested for the parser, or with NaN/Infinity (which Python's json takes and
    JSON has not), is exit 2 on one line, not an internal error or a network failure."""
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    deep = "[" * 100_000 + "]" * 100_000
    for data, fragment in (
        (deep, "nested too deeply"),
        ('{"n": NaN}', "NaN is not a JSON value"),
        ('{"n": -Infinity}', "-Infinity is not a JSON value"),
    ):
        result = sk("request", "gmail", "--user", "u", "/x", "-d", data)
        assert result.exit_code == 2, (data[:20], result.stderr[-300:])
        line = assert_one_error_line(result)
        assert "-d is not valid JSON" in line and fragment in line, line
    assert _proxied(sandbox) == []
