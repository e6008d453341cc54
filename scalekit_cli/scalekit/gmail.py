"""Gmail, called directly with a connected account's access token (gmail.v1 discovery doc).

Message metadata is read through Gmail's batch endpoint (the discovery document's `batchPath`,
`POST /batch/gmail/v1`): up to 100 `messages.get` calls in one multipart/mixed request, so
20 messages cost one round trip instead of 20 (or two rounds of 10 concurrent ones).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from .client import read_answer
from .errors import InvalidResponse, ProviderError
from .http import HttpSession
from .models import GmailMessage, ShapeError, json_document, load_json, objects, text_field
from .secrets import SecretRegistry

METADATA_HEADERS = ("From", "Subject", "Date")
T = TypeVar("T")


# Google's limit of calls per batch request; more messages take several batches, concurrently.
BATCH_LIMIT = 100
BATCH_CONCURRENCY = 5
BATCH_PATH = "/batch/gmail/v1"
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_CONTENT_ID = re.compile(
    rb"^content-id:\s*<?response-item(\d+)>?\s*$", re.IGNORECASE | re.MULTILINE
)


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
                _google_message(response), status=response.status_code, host=response.host
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

    def _metadata_path(self, message_id: str) -> str:
        query = urlencode(
            [("format", "metadata")] + [("metadataHeaders", h) for h in METADATA_HEADERS]
        )
        return f"/gmail/v1/users/me/messages/{quote(message_id, safe='')}?{query}"

    def read_messages(self, message_ids: list[str]) -> list[GmailMessage]:
        """Metadata of every message, in batches; the answer keeps the given order."""
        if not message_ids:
            return []
        chunks = [
            message_ids[start : start + BATCH_LIMIT]
            for start in range(0, len(message_ids), BATCH_LIMIT)
        ]
        if len(chunks) == 1:
            return self._read_batch(chunks[0])
        from concurrent.futures import ThreadPoolExecutor

        workers = min(BATCH_CONCURRENCY, len(chunks))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gmail") as pool:
            return [message for batch in pool.map(self._read_batch, chunks) for message in batch]

    def _read_batch(self, message_ids: list[str]) -> list[GmailMessage]:
        boundary = "sk_" + secrets.token_hex(12)
        part = (
            "--{}\r\nContent-Type: application/http\r\nContent-ID: <item{}>\r\n\r\nGET {}\r\n\r\n"
        )
        body = "".join(
            part.format(boundary, index, self._metadata_path(message_id))
            for index, message_id in enumerate(message_ids)
        )
        body += f"--{boundary}--\r\n"
        response = self.session.send(
            "POST",
            f"{self.base_url}{BATCH_PATH}",
            idempotent=True,  # every part is a read
            content=body.encode("utf-8"),
            headers={
                "authorization": f"Bearer {self._token}",
                "content-type": f"multipart/mixed; boundary={boundary}",
            },
        )
        host = response.host
        if not response.is_success:
            raise ProviderError(_google_message(response), status=response.status_code, host=host)
        answers = _split_batch(response.headers.get("content-type", ""), response.content, host)
        messages: list[GmailMessage] = []
        for index in range(len(message_ids)):
            if index not in answers:
                raise InvalidResponse(
                    f"Gmail's batch answer has no part for call {index}", status=200, host=host
                )
            status, payload = answers[index]
            document = _json_or_none(payload)
            if not 200 <= status < 300:
                raise ProviderError(
                    _error_message(document, status, host), status=status, host=host
                )
            try:
                if not isinstance(document, dict):
                    load_json(payload)  # too deep says so; otherwise it is not an object
                    raise ShapeError("it is not a JSON object")
                messages.append(GmailMessage.from_json(document))
            except ValueError as error:  # ShapeError, or not JSON at all
                problem = error if isinstance(error, ShapeError) else "it is not JSON"
                raise InvalidResponse(
                    f"unexpected answer from {host} to batch call {index}: {problem}",
                    status=status,
                    host=host,
                ) from None
        return messages


def _split_batch(content_type: str, body: bytes, host: str) -> dict[int, tuple[int, bytes]]:
    """A multipart/mixed batch answer: call index → (its HTTP status, its body)."""
    found = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/") or found is None:
        kind = content_type.split(";")[0] or "an unknown type"
        raise InvalidResponse(
            f"{host} answered the batch request with {kind}, not JSON answers in multipart/mixed",
            status=200,
            host=host,
        )
    delimiter = b"--" + found.group(1).strip().encode("latin-1")
    answers: dict[int, tuple[int, bytes]] = {}
    for chunk in body.replace(b"\r\n", b"\n").split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        part_head, _, http_response = chunk.lstrip(b"\n").partition(b"\n\n")
        content_id = _CONTENT_ID.search(part_head)
        status_line, _, rest = http_response.partition(b"\n")
        words = status_line.split()
        if content_id is None or len(words) < 2 or not words[1].isdigit():
            raise InvalidResponse(
                "Gmail's batch answer has a malformed part", status=200, host=host
            )
        _, _, payload = rest.partition(b"\n\n")
        # The line break before the next delimiter belongs to the delimiter.
        answers[int(content_id.group(1))] = (int(words[1]), payload.removesuffix(b"\n"))
    return answers


def _json_or_none(payload: bytes) -> Any:
    try:
        return load_json(payload)
    except (ValueError, UnicodeDecodeError):  # ShapeError (too deep) is a ValueError
        return None


def _error_message(document: Any, status: int, host: str) -> str:
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        message = document["error"].get("message")
        if isinstance(message, str) and message:
            return message
    return f"HTTP {status} from {host}"


def _google_message(response: Any) -> str:
    """Google's error shape: {"error": {"code", "message", "status", "errors": [...]}}."""
    return _error_message(_json_or_none(response.content), response.status_code, response.host)
