"""Submitting a hosted authorization page's form over HTTP, as a browser would.

`sk demo` approves its own link this way, and the tests use it to play the user; it is kept
apart so that loading `sk` does not load an HTML parser.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

from ..errors import CliError, ExitCode


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
    from .. import httpx_lean as httpx
    from ..scalekit.transport import NetworkTransport

    # sk's own transport: the environment's proxies and CA variables as sk honours them.
    transport = NetworkTransport()
    with httpx.Client(
        transport=transport, trust_env=False, timeout=10, follow_redirects=True
    ) as browser:
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
