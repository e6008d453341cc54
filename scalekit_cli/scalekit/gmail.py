"""Gmail, called directly with a connected account's access token (gmail.v1 discovery doc)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import quote

from .client import read_answer
from .errors import ProviderError
from .http import HttpSession
from .models import GmailMessage, ShapeError, json_document, load_json, objects, text_field
from .secrets import SecretRegistry

METADATA_HEADERS = ("From", "Subject", "Date")
# Concurrent metadata reads: enough to hide latency, few enough to stay polite to the API.
READ_CONCURRENCY = 10
T = TypeVar("T")


class GmailClient:
    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        session: HttpSession,
        secrets: SecretRegistry | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self._token = access_token
        if secrets is not None:
            secrets.add(access_token)

    def _get(self, path: str, params: Any, parse: Callable[[dict[str, Any]], T]) -> T:
        response = self.session.send(
            "GET",
            f"{self.base_url}/gmail/v1/users/me{path}",
            idempotent=True,
            params=params,
            headers={"authorization": f"Bearer {self._token}"},
        )
        if not response.is_success:
            raise ProviderError(
                _google_message(response), status=response.status_code, host=response.url.host
            )
        return read_answer(response, lambda data: parse(json_document(data)))

    def list_message_ids(self, query: str, limit: int) -> list[str]:
        def message_ids(data: dict[str, Any]) -> list[str]:
            # `messages` is absent when nothing matches.
            ids = [text_field(item, "id") for item in objects(data, "messages")]
            if not all(ids):
                raise ShapeError("a message of messages has no id")
            return ids

        return self._get("/messages", {"q": query, "maxResults": str(limit)}, message_ids)[:limit]

    def get_metadata(self, message_id: str) -> GmailMessage:
        params = [("format", "metadata")] + [("metadataHeaders", h) for h in METADATA_HEADERS]
        path = f"/messages/{quote(message_id, safe='')}"
        return self._get(path, params, GmailMessage.from_json)

    def read_messages(self, message_ids: list[str]) -> list[GmailMessage]:
        """Metadata of every message, read concurrently; the answer keeps the given order."""
        if not message_ids:
            return []
        workers = min(READ_CONCURRENCY, len(message_ids))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gmail") as pool:
            return list(pool.map(self.get_metadata, message_ids))


def _google_message(response: Any) -> str:
    """Google's error shape: {"error": {"code", "message", "status", "errors": [...]}}."""
    try:
        body = load_json(response.content)
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
        if isinstance(message, str) and message:
            return message
    return f"HTTP {response.status_code} from {response.url.host}"
