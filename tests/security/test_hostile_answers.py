"""Masking holds for every shape of answer: a provider behind the proxy that nests its token
deeper than any depth bound, labels JSON `text/plain`, or puts a token in a URL of a header
(`Location`, `X-Goog-Upload-URL`, `Link`). `sk request` in a pipe and the MCP
`scalekit_request` tool mask them by what and where they are; a body that cannot be
inspected whole is shown only with `--debug`. Every byte written is searched for the canaries."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import pytest

from tests.cli.conftest import assert_no_leak, assert_one_error_line, sk, sk_env  # noqa: F401
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, serve_app
from tests.mcp.conftest import harness  # noqa: F401 (a fixture)

MACHINE_TOKEN = "sbx_mt_hostileAnswersQ4Lm8Zr2"
DEEP_TOKEN = "ya29.deepCanaryVb7Nq3Ws"
PLAIN_TOKEN = "ya29.plainCanaryKx2Rt9Hp"
LOCATION_TOKEN = "ya29.Lc7CanaryMw5Jd1Tx"
UPLOAD_ID = "Up4dCanaryAz3Ty8Pq6"
UPLOAD_TOKEN = "ya29.uploadUrlCanaryRe4Ng7"
LINK_KEY = "linkKeyCanaryUc9Hs2Dv"
HOPELESS_TOKEN = "ya29.Zq8vCanaryLt6Wp0Rn"
CANARIES = (
    DEEP_TOKEN,
    PLAIN_TOKEN,
    LOCATION_TOKEN,
    UPLOAD_ID,
    UPLOAD_TOKEN,
    LINK_KEY,
    HOPELESS_TOKEN,
)


def _nested(depth: int, inner: object) -> str:
    return '{"a": [' * depth + json.dumps(inner) + "]}" * depth


# What each hostile path answers: (content type, body, extra headers).
ANSWERS: dict[str, tuple[str, str, dict[str, str]]] = {
    # Deeper than the 64 levels documents are walked, shallow enough to parse.
    "deep": ("application/json", _nested(100, {"access_token": DEEP_TOKEN}), {}),
    # JSON that says it is text.
    "plain": ("text/plain", json.dumps({"refresh_token": PLAIN_TOKEN, "ok": True}), {}),
    # Tokens in the URLs of headers, the body harmless.
    "headers": (
        "application/json",
        '{"ok": true}',
        {
            "location": f"https://app.example/callback#access_token={LOCATION_TOKEN}&state=x",
            "x-goog-upload-url": (
                f"https://upload.example/upload?upload_id={UPLOAD_ID}&access_token={UPLOAD_TOKEN}"
            ),
            "link": f'<https://api.example/next?key={LINK_KEY}>; rel="next"',
        },
    ),
    # So deep no parser follows it: it cannot be inspected whole.
    "hopeless": ("application/json", _nested(20_000, {"access_token": HOPELESS_TOKEN}), {}),
}


def hostile_scalekit():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def token(request):
        return JSONResponse({"access_token": MACHINE_TOKEN, "expires_in": 3600})

    async def tools(request):
        return JSONResponse({"tools": [], "next_page_token": ""})

    async def proxy(request):
        kind = request.path_params["kind"]
        content_type, body, headers = ANSWERS[kind]
        return Response(body, headers={**headers, "content-type": content_type})

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/api/v1/tools", tools),
            Route("/proxy/{kind}", proxy, methods=["GET"]),
        ]
    )


@pytest.fixture
def hostile_url() -> Iterator[str]:
    url, stop = serve_app(hostile_scalekit())
    yield url
    stop()


FLAGS = ((), ("-v",), ("--json",), ("-v", "--json"))


@pytest.mark.parametrize("flags", FLAGS, ids=" ".join)
@pytest.mark.parametrize("kind", ["deep", "plain", "headers"])
def test_sk_request_masks_tokens_in_every_shape(kind, flags, sk, hostile_url):  # noqa: F811
    result = sk("request", "gmail", "--user", "u", f"/{kind}", *flags, env=_env(hostile_url))
    assert result.exit_code == 0, result.streams
    assert_no_leak(result, *CANARIES, MACHINE_TOKEN, CANARY_CLIENT_SECRET)
    if "--json" in flags:
        json.loads(result.stdout)  # still a document
    if kind == "headers" and "-v" in flags:
        assert "< location: https://app.example/callback#access_token=" in result.stderr


def test_sk_request_shows_a_body_it_cannot_inspect_only_with_debug(sk, hostile_url):  # noqa: F811
    withheld = sk("request", "gmail", "--user", "u", "/hopeless", env=_env(hostile_url))
    assert withheld.exit_code == 0, withheld.streams
    assert withheld.stdout == ""
    (note,) = withheld.stderr.splitlines()
    assert "is not shown" in note and "--debug" in note
    assert_no_leak(withheld, *CANARIES, MACHINE_TOKEN, CANARY_CLIENT_SECRET)
    as_json = sk("request", "gmail", "--user", "u", "/hopeless", "--json", env=_env(hostile_url))
    assert json.loads(as_json.stdout)["body"] is None
    assert_no_leak(as_json, *CANARIES, MACHINE_TOKEN, CANARY_CLIENT_SECRET)

    shown = sk("request", "gmail", "--user", "u", "/hopeless", "--debug", env=_env(hostile_url))
    assert shown.exit_code == 0
    assert HOPELESS_TOKEN in shown.stdout  # what the command outputs, asked for
    assert_no_leak(shown, MACHINE_TOKEN, CANARY_CLIENT_SECRET)


def test_sk_request_with_debug_shows_the_answer_as_it_came(sk, hostile_url):  # noqa: F811
    result = sk("request", "gmail", "--user", "u", "/plain", "--debug", env=_env(hostile_url))
    assert json.loads(result.stdout)["refresh_token"] == PLAIN_TOKEN


def test_a_failing_hostile_answer_is_masked_too(sk, hostile_url):  # noqa: F811
    result = sk("request", "gmail", "--user", "u", "/missing", env=_env(hostile_url))
    assert result.exit_code == 1
    assert_one_error_line(result)
    assert_no_leak(result, *CANARIES, MACHINE_TOKEN, CANARY_CLIENT_SECRET)


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_the_mcp_request_tool_masks_tokens_in_every_shape(kind, harness, hostile_url):  # noqa: F811
    harness.env = {**harness.env, **_env(hostile_url)}

    async def main():
        async with harness.client("stdio", "--allow-proxy") as client:
            return await client.call_tool(
                "scalekit_request", {"connector": "gmail", "path": f"/{kind}"}
            )

    result = anyio.run(main)
    assert not result.is_error, result.content
    assert result.structured_content["status"] == 200
    body = result.structured_content["body"]
    if kind == "hopeless":
        assert body.startswith("[withheld")
    elif kind == "plain":
        assert "refresh_token" in body and "[redacted]" in body, body
    assert_no_leak(harness.written(), *CANARIES, MACHINE_TOKEN, CANARY_CLIENT_SECRET)


def _env(url: str) -> dict[str, str]:
    return {
        "SCALEKIT_ENV_URL": url,
        "SCALEKIT_CLIENT_ID": CANARY_CLIENT_ID,
        "SCALEKIT_CLIENT_SECRET": CANARY_CLIENT_SECRET,
    }
