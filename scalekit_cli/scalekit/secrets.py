"""A registry of secret values, so every output path can scrub them.

Redaction by key catches fields we know; redaction by value catches the rest (exception
messages from inside httpx, tracebacks, echoed bodies). The client registers each secret the
moment it learns it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Fields whose string values are secret wherever they appear in a JSON document.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "api_key",
        "apikey",
        "password",
        "secret",
        "token",
        "authorization",
        "secret_access_key",
        "session_token",
    }
)
# Objects whose every string value is secret (API keys, usernames and passwords).
SECRET_CONTAINERS = frozenset({"static_auth"})

_SHORTEST_SECRET = 6


def mask(value: str) -> str:
    """A redacted form showing at most the first 4 characters (fewer for short values)."""
    shown = min(4, len(value) // 4)
    return f"{value[:shown]}…[redacted]"


# Any run of this many characters of a known secret is scrubbed, not only the whole value: an
# error that echoes part of a secret (a server quoting a prefix, a truncated header) must not
# print it either.
PIECE = 8


class SecretRegistry:
    """Known secret values of this process; `scrub` replaces them, and any piece of
    `PIECE` characters of them, in any text.

    The environment's own credentials (the client secret, machine tokens) are registered as
    `credential=True`: they are scrubbed even when the user asked to see secrets (`--debug`
    reveals what a command outputs, never what the environment authenticates with)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._credentials: set[str] = set()
        self._indexes: dict[bool, _PieceIndex] = {}
        self._lock = threading.Lock()

    def add(self, value: object, *, credential: bool = False) -> None:
        if not isinstance(value, str) or len(value) < _SHORTEST_SECRET:
            return
        with self._lock:
            known = self._credentials if credential else self._values
            if value not in known:
                known.add(value)
                self._indexes.clear()

    def clear(self) -> None:
        """Forget every secret: a process runs one command, but in-process runs (the tests'
        CliRunner) run many, and one command's secrets must not mask another's output."""
        with self._lock:
            self._values.clear()
            self._credentials.clear()
            self._indexes.clear()

    def add_from(self, document: object) -> None:
        """Register every secret-keyed string in a JSON-like document."""
        for value in secret_values(document):
            self.add(value)

    def values(self, *, credentials: bool = True) -> list[str]:
        """A snapshot of the known secrets (without the environment's credentials when
        `credentials=False`)."""
        with self._lock:
            return list(self._values | self._credentials if credentials else self._values)

    def __contains__(self, value: str) -> bool:
        return value in self._values or value in self._credentials

    def scrub(self, text: str, *, credentials_only: bool = False) -> str:
        """`text` with every known secret — or only the environment's credentials — and every
        `PIECE`-character piece of one masked; a run of overlapping pieces is masked whole."""
        with self._lock:
            index = self._indexes.get(credentials_only)
            if index is None:
                values = self._credentials if credentials_only else self._values | self._credentials
                if not values:
                    return text
                index = self._indexes[credentials_only] = _PieceIndex(values)
        spans = index.spans(text)
        if not spans:
            return text
        parts: list[str] = []
        last = 0
        for start, end in spans:
            parts += [text[last:start], mask(text[start:end])]
            last = end
        parts.append(text[last:])
        return "".join(parts)


class _PieceIndex:
    """Finds the known values, and their `PIECE`-character pieces, in a text.

    Any piece found starts within half a piece before a position that is a multiple of half a
    piece, and holds the half-piece there whole: so the text is probed at every such position
    against the set of half-pieces, and only around a hit against the pieces themselves — a
    few set look-ups per 4 characters, with nothing to compile."""

    _HALF = PIECE // 2

    def __init__(self, values: set[str]) -> None:
        ordered = sorted(values, key=len, reverse=True)  # a value holding another wins whole
        self.whole = re.compile("|".join(re.escape(value) for value in ordered))
        self.pieces = {
            value[i : i + PIECE] for value in values for i in range(len(value) - PIECE + 1)
        }
        half = self._HALF
        self.halves = {piece[i : i + half] for piece in self.pieces for i in range(half + 1)}

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The merged (start, end) runs of `text` that are secret."""
        found = [match.span() for match in self.whole.finditer(text)]
        if self.pieces:
            half, halves, pieces = self._HALF, self.halves, self.pieces
            for probe in range(0, len(text) - half + 1, half):
                if text[probe : probe + half] in halves:
                    for start in range(max(0, probe - half), probe + 1):
                        if text[start : start + PIECE] in pieces:
                            found.append((start, start + PIECE))
        found.sort()
        merged: list[tuple[int, int]] = []
        for start, end in found:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


# Deeper than this, documents are not walked: a hostile or pathological answer must not
# exhaust the stack (values already known are still scrubbed from text by `scrub`).
MAX_DEPTH = 64
DEEP = "…[nested too deep]"


def secret_values(document: object, *, inside_secret: bool = False, _depth: int = 0) -> list[str]:
    found: list[str] = []
    if _depth > MAX_DEPTH:
        return found
    if isinstance(document, dict):
        for key, value in document.items():
            lowered = str(key).lower()
            secret = inside_secret or lowered in SECRET_CONTAINERS
            if isinstance(value, str) and (secret or lowered in SECRET_KEYS):
                found.append(value)
            else:
                found.extend(secret_values(value, inside_secret=secret, _depth=_depth + 1))
    elif isinstance(document, list):
        for item in document:
            found.extend(secret_values(item, inside_secret=inside_secret, _depth=_depth + 1))
    return found


def redact_document(document: object, *, inside_secret: bool = False, _depth: int = 0) -> object:
    """A copy of a JSON-like document with every secret-keyed value masked (non-string values
    inside a secret container too)."""
    if _depth > MAX_DEPTH and isinstance(document, dict | list):
        return DEEP
    if isinstance(document, dict):
        copy: dict[str, object] = {}
        for key, value in document.items():
            lowered = str(key).lower()
            secret = inside_secret or lowered in SECRET_CONTAINERS
            if isinstance(value, str) and value and (secret or lowered in SECRET_KEYS):
                copy[key] = mask(value)
            elif secret and isinstance(value, int | float) and not isinstance(value, bool):
                copy[key] = mask(str(value))
            else:
                copy[key] = redact_document(value, inside_secret=secret, _depth=_depth + 1)
        return copy
    if isinstance(document, list):
        return [
            redact_document(item, inside_secret=inside_secret, _depth=_depth + 1)
            for item in document
        ]
    return document


# The registry of this process: every client and output of a command shares it, so a secret
# learnt anywhere is scrubbed everywhere, including in a last-resort error message.
GLOBAL_SECRETS = SecretRegistry()


# -- answers of any shape ------------------------------------------------------------------------

# Query or form parameters that carry a credential in a URL (a `Location`, an upload session's
# `X-Goog-Upload-URL`, a signed link), beside the JSON field names above.
URL_SECRET_PARAMS = frozenset(
    {
        "key",
        "code",
        "sig",
        "signature",
        "upload_id",
        "x-goog-signature",
        "x-goog-credential",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
# Headers whose whole value is a credential.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-goog-api-key",
    }
)
_KEY_NAMES = "|".join(
    re.escape(name) for name in sorted(SECRET_KEYS | URL_SECRET_PARAMS, key=len, reverse=True)
)
# `"access_token": "…"` wherever it sits in a text, however deep, whatever the body claims
# to be (JSON labelled text/plain, truncated JSON) — and `\"access_token\": \"…\"`, the same
# inside a JSON string.
_QUOTED_PAIR = re.compile(rf'"(?:{_KEY_NAMES})"\s*:\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
_ESCAPED_PAIR = re.compile(
    rf'\\"(?:{_KEY_NAMES})\\"\s*:\s*\\"((?:[^"\\]|\\[^"])*)\\"', re.IGNORECASE
)
# `access_token=…` in a URL's query or fragment, a form body or any text.
_PARAM_PAIR = re.compile(rf"(?<![A-Za-z0-9_.-])(?:{_KEY_NAMES})=([^&#\s;,\"'<>]+)", re.IGNORECASE)
# A password in a URL's user information: `scheme://user:password@host`.
# The scheme starts where no scheme character precedes it and is at most 32 long: without
# both, a long run of letters (a 3 MB padded answer) costs a scan per start, quadratic.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/\s:@]*:([^/\s@]+)@"
)


# A name says "secret" when one of its words (camelCase, `-`, `_` and `.` split words) ends in
# one of these: `GITHUB_TOKEN`, `x-goog-api-key`, `PRIVATE-TOKEN`, `accessToken`, `DB_PASSWORD`,
# `apitoken` — but not `max_tokens`, `keyword` or `author`. The one definition of secret names
# for what sk shows of requests: the -v trace, the sandbox's request log, `sk mcp install`'s
# preview and the parameter checks' errors.
_SECRET_WORD = re.compile(
    r"(?:token|secrets?|keys?|passw(?:or)?ds?|passphrase|pwd|credentials?|cookies?"
    r"|bearer|signature|authorization|auth|session|sid)$"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Tokens that are cursors, not credentials (`page_token`, `nextPageToken`, `syncToken`): they
# travel in URLs and logs by design, and a check must quote them.
_CURSOR = re.compile(r"(?:^|_)(?:next_?)?(?:page|sync|continuation|cursor)_?token$")


def is_secret_name(name: str, *, in_url: bool = False) -> bool:
    """Whether a field, header, variable or flag called `name` holds a secret; `in_url` adds
    the names that are credentials only as URL or form parameters (`code`, `key`, `sig`)."""
    lowered = name.lower()
    if lowered in SECRET_KEYS or lowered in SECRET_HEADERS or lowered in SECRET_CONTAINERS:
        return True
    if in_url and lowered.lstrip("-") in URL_SECRET_PARAMS:
        return True
    words = re.split(r"[^a-z0-9]+", _CAMEL.sub("_", name).lower())
    if _CURSOR.search("_".join(words)):
        return False
    return any(word and _SECRET_WORD.search(word) for word in words)


# `NAME=VALUE` in a URL's query or fragment, a form body, an argument or any text.
_NAMED_PARAM = re.compile(r"(?<![A-Za-z0-9_.%\[\]-])([A-Za-z0-9_.%\[\]-]+)=([^&#\s;,\"'<>]+)")


def mask_url_params(text: str, replace: Callable[[str], str] = mask) -> str:
    """`text` (a URL, a query string, a form body, an argument) with the value of every
    secret-named parameter and every URL password passed through `replace`."""
    from urllib.parse import unquote_plus

    def param(match: re.Match[str]) -> str:
        if not is_secret_name(unquote_plus(match.group(1)), in_url=True):
            return match.group(0)
        return f"{match.group(1)}={replace(match.group(2))}"

    def password(match: re.Match[str]) -> str:
        start, end = match.span(1)
        whole = match.group(0)
        offset = match.start(0)
        return whole[: start - offset] + replace(match.group(1)) + whole[end - offset :]

    return _NAMED_PARAM.sub(param, _URL_PASSWORD.sub(password, text))


def mask_json_fields(text: str, replace: Callable[[str], str] = mask) -> str:
    """A JSON text with the string value of every credential-named field (`SECRET_KEYS`, at
    any depth) passed through `replace`, everything else byte for byte as it was — for a body
    shown raw, where the registry alone misses values too short to register."""

    def field(match: re.Match[str]) -> str:
        start, end = match.span(1)
        offset = match.start(0)
        whole = match.group(0)
        if start == end:
            return whole
        return whole[: start - offset] + replace(match.group(1)) + whole[end - offset :]

    return _QUOTED_PAIR.sub(field, text)


@dataclass(frozen=True)
class Inspection:
    """What an answer holds: its secret values (as they appear in it, and decoded), and
    whether all of it could be inspected — a body that looks like JSON but could not be
    parsed whole (nested beyond the parser's stack, malformed) could hide a secret field."""

    secrets: list[str]
    complete: bool


def text_secrets(text: str) -> list[str]:
    """Secret values found in any text by where they sit: a credential-named JSON field or
    URL/form parameter, or a URL's password."""
    from urllib.parse import unquote_plus

    found: list[str] = []
    for pattern in (_QUOTED_PAIR, _ESCAPED_PAIR, _PARAM_PAIR, _URL_PASSWORD):
        for match in pattern.finditer(text):
            value = match.group(1)
            found += [value, unquote_plus(value)]
    return found


def _walk_secrets(document: object) -> list[str]:
    """`secret_values` without a depth bound, iteratively (no stack to exhaust)."""
    found: list[str] = []
    pending: list[tuple[object, bool]] = [(document, False)]
    while pending:
        value, inside_secret = pending.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                lowered = str(key).lower()
                secret = inside_secret or lowered in SECRET_CONTAINERS
                if isinstance(child, str) and (secret or lowered in SECRET_KEYS):
                    found.append(child)
                elif secret and isinstance(child, int | float) and not isinstance(child, bool):
                    found.append(str(child))
                else:
                    pending.append((child, secret))
        elif isinstance(value, list):
            pending.extend((child, inside_secret) for child in value)
    return found


def _escaped_forms(value: str) -> list[str]:
    """`value` as a JSON text may spell it, so it is scrubbed from the raw body too."""
    import json

    return [value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]]


def inspect_answer(
    body: bytes, headers: Iterable[tuple[str, str]], content_type: str = ""
) -> Inspection:
    """The secrets of an HTTP answer, found by what and where they are rather than by what
    the answer claims to be: credential headers, credentials in any URL of a header, and
    credential fields of the body at any depth, in any syntax."""
    import json

    found: list[str] = []
    for name, value in headers:
        if name.lower() in SECRET_HEADERS:
            found.append(value)
        found += text_secrets(value)
    text = body.decode("utf-8", "replace")
    found += text_secrets(text)
    complete = True
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") or "json" in content_type.lower():
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            complete = not stripped  # an empty body holds nothing
        else:
            for value in _walk_secrets(document):
                found += _escaped_forms(value)
    return Inspection(list(dict.fromkeys(value for value in found if value)), complete)
