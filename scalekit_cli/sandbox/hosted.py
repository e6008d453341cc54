"""The hosted authorization page behind magic links, and the post-verification page."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .engine import HostedLink, LinkOutcome, LinkUnavailable, SandboxEngine
from .web import base_url, read_form

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;"
    "color:#1f2330}h1{font-size:1.4rem}"
    ".who{background:#f3f4f8;border-radius:6px;padding:.6rem .8rem}"
    "button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.6rem;border-radius:6px;"
    "border:1px solid #888;cursor:pointer}button[value=allow]{background:#2f5bea;color:#fff}"
    "input{font-size:1rem;padding:.4rem;width:100%;margin:.4rem 0 1rem}"
    ".note{color:#666;font-size:.85rem}"
)


# No other site may frame the page (clickjacking the Allow button).
PAGE_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}


def _page(title: str, body_html: str, status: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · Scalekit sandbox</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}"
        '<p class="note">Scalekit AgentKit sandbox — no real provider was contacted.</p>'
        "</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=PAGE_HEADERS)


def _consent_page(hosted: HostedLink, problem: str | None = None) -> HTMLResponse:
    connection, account = hosted.connection, hosted.account
    who = (
        f'<p class="who">Connection: <strong>{escape(connection.name)}</strong> '
        f"({escape(connection.provider)})<br>"
        f"Account: <strong>{escape(account.identifier)}</strong></p>"
    )
    warning = f'<p role="alert"><strong>{escape(problem)}</strong></p>' if problem else ""
    if connection.is_oauth:
        scopes = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in connection.scopes)
        scope_list = f"<p>It asks for:</p><ul>{scopes}</ul>" if scopes else ""
        form = (
            '<form method="post">'
            '<button type="submit" name="decision" value="allow">Allow</button>'
            '<button type="submit" name="decision" value="deny">Deny</button>'
            "</form>"
        )
        intro = f"<p>An app wants to access your {escape(connection.name)} account.</p>"
        return _page(
            f"Connect {connection.name}",
            who + intro + scope_list + warning + form,
            400 if problem else 200,
        )
    form = (
        '<form method="post">'
        f'<label for="api_key">{escape(connection.name)} API key</label>'
        '<input id="api_key" name="api_key" type="password" autocomplete="off" required>'
        '<button type="submit" name="decision" value="allow">Allow</button>'
        "</form>"
    )
    intro = f"<p>Enter the API key the app should use for {escape(connection.name)}.</p>"
    return _page(
        f"Connect {connection.name}", who + intro + warning + form, 400 if problem else 200
    )


def _outcome_page(outcome: LinkOutcome) -> Response:
    name, identifier = escape(outcome.connection.name), escape(outcome.account.identifier)
    if outcome.kind == "connected":
        return _page(
            "Connected",
            f"<p>Your {name} account <strong>{identifier}</strong> is "
            "connected. You can close this window and return to the app.</p>",
        )
    if outcome.kind == "denied":
        return _page(
            "Access denied",
            f"<p>Access to your {name} account <strong>{identifier}"
            "</strong> was denied. Nothing was shared with the app.</p>",
        )
    if outcome.kind == "verify_redirect" and outcome.redirect_url:
        return RedirectResponse(outcome.redirect_url, status_code=303)
    request_id = escape(outcome.auth_request_id or "")
    return _page(
        "Verification pending",
        f"<p>Your {name} account <strong>{identifier}</strong> was authorized, but the app must "
        "still verify that it is you before the connection becomes active.</p>"
        "<p>The app did not give a verification URL. It can finish with "
        "<code>POST /api/v1/connected_accounts/user/verify</code> and this auth request id:</p>"
        f'<p class="who"><code id="auth_request_id">{request_id}</code></p>',
    )


def hosted_routes(engine: SandboxEngine) -> list[BaseRoute]:
    async def verified(request: Request) -> Response:
        return _page(
            "Verified",
            "<p>Your account is verified and connected. You can close this "
            "window and return to the app.</p>",
        )

    async def magic(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            if request.method == "GET":
                return _consent_page(engine.open_link(token))
            form = await read_form(request)
            outcome = engine.decide_link(
                token, form.get("decision"), form.get("api_key"), base_url(request)
            )
        except LinkUnavailable as unavailable:
            return _page(
                unavailable.title,
                f"<p>{escape(unavailable.explanation)}</p>",
                unavailable.http_status,
            )
        if outcome.kind == "missing_api_key":
            hosted = engine.open_link(token)
            return _consent_page(hosted, "Enter an API key to continue.")
        return _outcome_page(outcome)

    return [
        Route("/magic/verified", verified, methods=["GET"]),
        Route("/magic/{token}", magic, methods=["GET", "POST"]),
    ]
