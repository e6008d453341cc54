"""The TOML files sk writes (`sk login`'s profiles, seed files): tomli-w writes them. What this
adds is only what a person reading the file needs beyond TOML's own escaping."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any


def _visible(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cs":  # a lone surrogate (from a hostile JSON answer) has no UTF-8 form
        return "\\uFFFD"
    if category in ("Cc", "Cf", "Zl", "Zp"):
        code = ord(char)
        return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"
    return char


def _without_nulls(value: Any, dropped: Callable[[], object]) -> Any:
    if isinstance(value, dict):
        members = [(k, v) for k, v in value.items() if v is not None or dropped()]
        return {key: _without_nulls(item, dropped) for key, item in members}
    if isinstance(value, list):
        return [_without_nulls(item, dropped) for item in value if item is not None or dropped()]
    return value


def toml_text(
    document: dict[str, Any],
    comments: tuple[str, ...] = (),
    *,
    dropped: Callable[[], object] = lambda: None,
) -> str:
    """`document` as TOML, after `# comments` lines. TOML has no null: each None member or
    item is left out, and `dropped()` called for it. Every control, format and separator
    character (a tab, DEL, bidi overrides, zero-width, U+2028) is written as an escape: some
    are legal raw in a TOML string, but the terminal or editor showing the file obeys them.
    Apart from line ends, they can only stand inside the basic strings tomli-w writes, where
    an escape means the same character."""
    import tomli_w

    text = tomli_w.dumps(_without_nulls(document, dropped))
    body = "".join(_visible(char) if char != "\n" else char for char in text)
    return "".join(f"# {line}\n" for line in comments) + body
