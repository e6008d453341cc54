"""`sk demo` — the whole flow on the embedded sandbox, unattended.

Connect gmail for user_123 (the hosted page's Allow form is submitted over HTTP, as a browser
would), wait for ACTIVE, show the token redacted, list 5 unread messages, run
gmail_fetch_mails, and end with the commands to do it for real. It runs the same code as the
commands themselves.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

import typer

from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.errors import NotFound
from . import connect, exec_tool, gmail, token
from ._common import DebugOption, VerboseOption, execute

DEMO_USER = "user_123"
DEMO_CONNECTOR = "gmail"


@dataclass
class DemoOptions:
    identifier: str = DEMO_USER


class _FormFinder(HTMLParser):
    """The hosted page's form: its action, hidden inputs, and the submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: list[tuple[str, str, str]] = []  # (name, value, label)
        self._button: tuple[str, str] | None = None
        self._label = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type", "text") == "hidden" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "button" and values.get("type", "submit") == "submit":
            self._button = (values.get("name", ""), values.get("value", ""))
            self._label = ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons.append((*self._button, self._label.strip()))
            self._button = None


def approve_as_browser(
    link: str, *, press: str = "Allow", fill: dict[str, str] | None = None
) -> str:
    """Open the hosted page, fill its inputs and press the button labelled `press`; returns the
    final page's text (after redirects)."""
    from ..scalekit import _httpx as httpx

    with httpx.Client(timeout=10, follow_redirects=True) as browser:
        page = browser.get(link)
        form = _FormFinder()
        form.feed(page.text)
        chosen = [b for b in form.buttons if b[2] == press]
        if page.status_code != 200 or form.action is None or not chosen:
            raise CliError(f"the hosted page at {link} has no {press!r} button", ExitCode.FAILURE)
        name, value, _ = chosen[0]
        fields = {**form.fields, **(fill or {})}
        if name:
            fields[name] = value
        answer = browser.post(urljoin(str(page.url), form.action or ""), data=fields)
        return answer.text


def run(options: DemoOptions, runtime: Runtime) -> int:
    out = runtime.out
    runtime.flags.sandbox = True
    client = runtime.scalekit()
    sandbox = runtime.sandbox
    assert sandbox is not None

    out.info("sk demo — the whole flow on the local sandbox (no Scalekit account needed)\n")
    out.info(f"1. sk connect {DEMO_CONNECTOR} --user {options.identifier}")
    with contextlib.suppress(NotFound):  # start from scratch each run, with a fresh mailbox
        client.delete_account(DEMO_CONNECTOR, options.identifier)
    sandbox.start_server()
    client.get_or_create_account(DEMO_CONNECTOR, options.identifier)
    connect_options = connect.ConnectOptions(
        DEMO_CONNECTOR, options.identifier, interval=0.2, timeout=30
    )
    link = client.magic_link(DEMO_CONNECTOR, options.identifier)
    connect._show_link(runtime, connect_options, link)
    out.info("   … pressing Allow on the hosted page, as the user's browser would")
    approve_as_browser(link.link)
    connect._wait_until_active(runtime, connect_options, link, None)
    out.success(f"{DEMO_CONNECTOR} is connected for {options.identifier} (ACTIVE)\n")

    out.info(f"2. sk token {DEMO_CONNECTOR} --user {options.identifier}")
    token.run(token.TokenOptions(DEMO_CONNECTOR, options.identifier), runtime)

    out.info(f"\n3. sk gmail unread --user {options.identifier} --limit 5")
    gmail.run(gmail.UnreadOptions(options.identifier, limit=5), runtime)

    out.info(
        f"\n4. sk exec-tool gmail_fetch_mails --user {options.identifier} "
        """-d '{"query": "is:unread", "max_results": 2}'"""
    )
    exec_tool.run(
        exec_tool.ExecToolOptions(
            "gmail_fetch_mails",
            options.identifier,
            data='{"query": "is:unread", "max_results": 2}',
        ),
        runtime,
    )
    out.info(
        "\nDone. To do it for real, with your Scalekit environment's API credentials:\n"
        "  export SCALEKIT_ENV_URL=https://<your-env>.scalekit.dev "
        "SCALEKIT_CLIENT_ID=<id> SCALEKIT_CLIENT_SECRET=<secret>\n"
        f"  sk connect gmail --user {options.identifier}\n"
        f"  sk token gmail --user {options.identifier}\n"
        f"  sk gmail unread --user {options.identifier}"
    )
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        ctx: typer.Context, debug: DebugOption = False, verbose: VerboseOption = False
    ) -> None:
        """Run connect → token → gmail unread → exec-tool on the local sandbox."""
        execute(ctx, run, DemoOptions(), verbose=verbose, debug=debug)
