"""Custom user verification completed by `sk connect --verify-user`, the way native apps receive
OAuth redirects (RFC 8252 §7.3): a one-shot HTTP listener on a loopback port.

The magic link is requested with `user_verify_url` pointing here and an unguessable `state`.
After consent, Scalekit sends the browser here with `auth_request_id` and that `state`; a
request whose `state` is missing or different is refused, otherwise we call `user/verify` with
the identifier the link was made for.
"""

from __future__ import annotations

import hmac
import html
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .scalekit.client import ScalekitClient
from .scalekit.errors import ScalekitError
from .scalekit.models import link_problem

CALLBACK_PATH = "/verify"


class VerifyListener:
    def __init__(self, client: ScalekitClient, identifier: str, *, notify=None) -> None:
        self.client = client
        self.identifier = identifier
        self.state = secrets.token_urlsafe(32)
        self.verified = threading.Event()
        self.refused = 0
        self.failure: str | None = None
        self._notify = notify or (lambda message: None)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{CALLBACK_PATH}"

    def start(self) -> VerifyListener:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, query: str) -> tuple[int, dict[str, str], str]:
        """(status, headers, HTML) for one browser visit."""
        values = parse_qs(query, keep_blank_values=True)
        state = values.get("state", [""])[0]
        auth_request_id = values.get("auth_request_id", [""])[0]
        if self.verified.is_set():
            # The state is single-use: a replayed callback must not verify anything again.
            return 400, {}, _page("Already verified", "This request was already completed.")
        if not state or not hmac.compare_digest(state.encode(), self.state.encode()):
            self.refused += 1
            self._notify("refused a verification request whose state did not match")
            return (
                400,
                {},
                _page("Refused", "This request's state does not match the one sk issued."),
            )
        if not auth_request_id:
            return 400, {}, _page("Refused", "The request carries no auth_request_id.")
        try:
            redirect = self.client.verify_user(auth_request_id, self.identifier)
        except ScalekitError as exc:
            self.failure = str(exc)
            self._notify(f"user verification failed: {exc}")
            return 502, {}, _page("Verification failed", str(exc))
        self.verified.set()
        if redirect and link_problem(redirect) is None:
            return 302, {"Location": redirect}, _page("Verified", "Redirecting…")
        return 200, {}, _page("Verified", "Your account is connected. You can close this tab.")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH:
                    status, headers, body = 404, {}, _page("Not found", "Nothing here.")
                else:
                    status, headers, body = listener.handle(parts.query)
                payload = body.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Cache-Control", "no-store")
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    return  # the browser went away; nothing to tell it

            def log_message(self, format: str, *args: object) -> None:
                # The request line carries auth_request_id: never written to the terminal.
                return

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """A browser closing its connection early must not print a traceback on the terminal."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return


def _page(title: str, message: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>sk — {html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
