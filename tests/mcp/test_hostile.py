"""What a provider behind the proxy answers reaches the agent without its credentials: a
stand-in Scalekit whose proxied answers carry credential headers and a token field."""

from __future__ import annotations

import anyio
import pytest

from tests.cli.conftest import assert_no_leak
from tests.conftest import serve_app

MACHINE_TOKEN = "Qm3Xv8Rk2Lp7hMt4Wc9Ne1"
PROVIDER_TOKEN = "ya29.Zt5Wn1Hc9Bd4pAt6Kq0Ls"
COOKIE = "Jy6Fs0Ua3Ge8cKv2Rb7Yd"
UPSTREAM_KEY = "Pk2Dm7Tq4Vx1uAk5Hn8Gz"


def hostile_scalekit():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def token(request):
        return JSONResponse({"access_token": MACHINE_TOKEN, "expires_in": 3600})

    async def tools(request):
        return JSONResponse({"tools": [], "next_page_token": ""})

    async def proxy(request):
        return JSONResponse(
            {"ok": True, "access_token": PROVIDER_TOKEN, "nested": {"api_key": UPSTREAM_KEY}},
            headers={
                "set-cookie": f"sid={COOKIE}",
                "x-upstream-authorization": f"Bearer {PROVIDER_TOKEN}",
                "x-api-key": UPSTREAM_KEY,
                "x-goog-session": COOKIE,
                "x-request-id": "req-42",
            },
        )

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/api/v1/tools", tools),
            Route("/proxy/{rest:path}", proxy, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture
def hostile_url():
    url, stop = serve_app(hostile_scalekit())
    yield url
    stop()


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_proxy_answers_lose_their_credentials(harness, hostile_url, transport):
    harness.env = {**harness.env, "SCALEKIT_ENV_URL": hostile_url}

    async def main():
        async with harness.client(transport, "--allow-proxy") as client:
            return await client.call_tool(
                "scalekit_request", {"connector": "gmail", "path": "/gmail/v1/users/me/profile"}
            )

    result = anyio.run(main)
    assert not result.is_error, result.content
    answer = result.structured_content
    assert answer["status"] == 200
    assert answer["headers"]["x-request-id"] == "req-42"
    assert not {"set-cookie", "x-upstream-authorization", "x-api-key", "x-goog-session"} & set(
        answer["headers"]
    )
    assert answer["body"]["ok"] is True
    assert answer["body"]["access_token"].endswith("[redacted]")
    assert answer["body"]["nested"]["api_key"].endswith("[redacted]")
    assert_no_leak(harness.written(), MACHINE_TOKEN, PROVIDER_TOKEN, COOKIE, UPSTREAM_KEY)


def odd_scalekit():
    """A stand-in whose tool answer holds a lone surrogate (valid JSON, `\\ud800`), which
    no UTF-8 writer can encode."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    tool = {
        "id": "tol_1",
        "provider": "GMAIL",
        "definition": {
            "name": "gmail_odd",
            "description": "answers oddly",
            "input_schema": {"type": "object"},
        },
    }

    async def token(request):
        return JSONResponse({"access_token": MACHINE_TOKEN, "expires_in": 3600})

    async def tools(request):
        return JSONResponse({"tools": [tool], "next_page_token": ""})

    async def execute(request):
        odd = '{"odd": "\\ud800 ok", "access_token": "' + PROVIDER_TOKEN + '"}'
        body = '{"execution_id": "1", "data": ' + odd + "}"
        return Response(body, media_type="application/json")

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/api/v1/tools", tools),
            Route("/api/v1/execute_tool", execute, methods=["POST"]),
        ]
    )


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_an_unencodable_answer_does_not_hang_the_session(harness, transport):
    """Before, the SDK failed to write the answer and the client waited forever."""
    url, stop = serve_app(odd_scalekit())
    harness.env = {**harness.env, "SCALEKIT_ENV_URL": url}

    async def main():
        async with harness.client(transport) as client:
            with anyio.fail_after(30):
                first = await client.call_tool("gmail_odd", {})
                return first, await client.list_tools()

    try:
        result, listed = anyio.run(main)
    finally:
        stop()
    assert not result.is_error, result.content
    assert result.structured_content["odd"].endswith(" ok")
    assert result.structured_content["access_token"].endswith("[redacted]")
    assert "gmail_odd" in {tool.name for tool in listed.tools}
    assert "Traceback" not in harness.written()
    assert_no_leak(harness.written(), MACHINE_TOKEN, PROVIDER_TOKEN)
