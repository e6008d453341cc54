"""Read and submit the sandbox's hosted consent page the way a plain browser form would.

docs/architecture.md fixes the page's interface: a `<form method="post">` whose submit buttons
are `<button type="submit" name="decision" value="allow">Allow</button>` and `... "deny">Deny`;
an API-key connection's form has `<input name="api_key">` and Allow only. Everything else
(hidden fields, the action) is read from the page rather than assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


@dataclass
class Button:
    name: str
    value: str
    label: str
    type: str


@dataclass
class Form:
    action: str
    method: str
    inputs: dict[str, str] = field(default_factory=dict)  # name -> default value
    input_types: dict[str, str] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)

    def button(self, label: str) -> Button:
        found = [b for b in self.buttons if b.label == label]
        assert len(found) == 1, f"expected one button labelled {label!r}, found {self.buttons}"
        return found[0]


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.text_parts: list[str] = []
        self._form: Form | None = None
        self._button: Button | None = None
        self._skip_depth = 0  # inside <script>/<style>, whose text is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: (v or "") for k, v in attrs}
        if tag in ("script", "style"):
            self._skip_depth += 1
        elif tag == "form":
            self._form = Form(
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
            )
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and attributes.get("name"):
            kind = attributes.get("type", "text").lower()
            if kind == "submit":
                value = attributes.get("value", "")
                self._form.buttons.append(Button(attributes["name"], value, value, "submit"))
            else:
                self._form.inputs[attributes["name"]] = attributes.get("value", "")
                self._form.input_types[attributes["name"]] = kind
        elif tag == "button" and self._form is not None:
            self._button = Button(
                name=attributes.get("name", ""),
                value=attributes.get("value", ""),
                label="",
                type=attributes.get("type", "submit").lower(),
            )

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None and self._form is not None:
            self._button.label = self._button.label.strip()
            self._form.buttons.append(self._button)
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._button is not None:
            self._button.label += data
        self.text_parts.append(data)


@dataclass
class Page:
    url: str
    status: int
    html: str
    forms: list[Form]
    text: str  # visible text, whitespace collapsed

    def consent_form(self) -> Form | None:
        """The POST form that carries the decision buttons, if the page offers one."""
        for form in self.forms:
            if form.method == "post" and form.buttons:
                return form
        return None


def parse_page(url: str, status: int, html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    text = " ".join(" ".join(parser.text_parts).split())
    return Page(url=url, status=status, html=html, forms=parser.forms, text=text)


def open_link(client: httpx.Client, link: str) -> Page:
    response = client.get(link, follow_redirects=True)
    return parse_page(str(response.url), response.status_code, response.text)


def submit(
    client: httpx.Client, page: Page, label: str, extra: dict[str, str] | None = None
) -> httpx.Response:
    """Press the button labelled `label`: post the form's fields plus that button's pair.

    Redirects are not followed: a custom-verification redirect leaves the sandbox.
    """
    form = page.consent_form()
    assert form is not None, f"the page at {page.url} offers no consent form: {page.text[:300]}"
    button = form.button(label)
    data = dict(form.inputs)
    data.update(extra or {})
    if button.name:
        data[button.name] = button.value
    target = urljoin(page.url, form.action) if form.action else page.url
    return client.post(target, data=data, follow_redirects=False)


def follow_within(client: httpx.Client, response: httpx.Response, base_url: str) -> Page:
    """Follow redirects as long as they stay on the sandbox; return the page reached."""
    hops = 0
    while response.is_redirect and hops < 5:
        target = urljoin(str(response.url), response.headers["location"])
        if not target.startswith(base_url):
            break
        response = client.get(target, follow_redirects=False)
        hops += 1
    return parse_page(str(response.url), response.status_code, response.text)
