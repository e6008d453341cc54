"""One page of a list answer, with the gateway's offset page tokens (engine.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def page(
    items: list[Any],
    key: str,
    page_size: int,
    page_token: str,
    to_wire: Callable[[Any], dict[str, Any]] = lambda item: item,
) -> dict[str, Any]:
    """`{key: [...], total_size, next_page_token?, prev_page_token?}`; `page_size` is already
    defaulted and within its field rule."""
    from .engine import decode_page_token, encode_page_token

    offset = decode_page_token(page_token or None)
    answer: dict[str, Any] = {
        key: [to_wire(item) for item in items[offset : offset + page_size]],
        "total_size": len(items),
    }
    if offset + page_size < len(items):
        answer["next_page_token"] = encode_page_token(offset + page_size)
    if offset > 0:
        answer["prev_page_token"] = encode_page_token(max(0, offset - page_size))
    return answer
