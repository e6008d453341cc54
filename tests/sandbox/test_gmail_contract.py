"""Contract tests of the sandbox's Gmail stand-in, written from Google's discovery document.

Source: `../shared/gmail/gmail.v1.discovery.json` (methods users.messages.list,
users.messages.get, users.getProfile; schemas ListMessagesResponse, Message, MessagePart,
MessagePartHeader, MessagePartBody, Profile) and CONTRACT.md's Gmail section. Answers are
validated strictly; errors must be in Google's JSON error envelope.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.contract.client import AgentKitClient
from tests.contract.discovery import validate_gmail, validate_gmail_query, validate_google_error
from tests.contract.flows import connect
from tests.contract.formats import parse_rfc3339

GMAIL = "gmail"
MESSAGES = "/gmail/v1/users/me/messages"
PROFILE = "/gmail/v1/users/me/profile"
OWNER = "mailbox.owner@example.com"


@dataclass
class Mailbox:
    sandbox: Any
    api: AgentKitClient
    http: httpx.Client
    token: str

    def request(
        self,
        path: str,
        params: list[tuple[str, str]] | None = None,
        token: str | None = None,
        *,
        method_name: tuple[str, str],
    ) -> httpx.Response:
        """A Gmail GET; the query is checked against the discovery method before sending."""
        validate_gmail_query(*method_name, params or [])
        bearer = self.token if token is None else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return self.http.get(path, params=params or None, headers=headers)

    def list(self, *params: tuple[str, str], token: str | None = None) -> httpx.Response:
        return self.request(MESSAGES, list(params), token, method_name=("users.messages", "list"))

    def get(self, message_id: str, *params: tuple[str, str], token: str | None = None):
        return self.request(
            f"{MESSAGES}/{message_id}", list(params), token, method_name=("users.messages", "get")
        )

    def list_ok(self, *params: tuple[str, str]) -> dict[str, Any]:
        answer = self.list(*params)
        assert answer.status_code == 200, f"messages.list {params} -> {answer.status_code}: "
        body = answer.json()
        validate_gmail("ListMessagesResponse", body, f"messages.list {params}")
        return body

    def get_ok(self, message_id: str, *params: tuple[str, str]) -> dict[str, Any]:
        answer = self.get(message_id, *params)
        assert answer.status_code == 200, f"messages.get {message_id} -> {answer.status_code}"
        body = answer.json()
        validate_gmail("Message", body, f"messages.get {message_id} {params}")
        return body

    def all_ids(self, query: str | None = None) -> list[str]:
        params = [("q", query)] if query else []
        body = self.list_ok(*params, ("maxResults", "500"))
        assert "nextPageToken" not in body, "the seeded mailbox fits in one page of 500"
        return [m["id"] for m in body.get("messages", [])]


def _content_type_is_json(response: httpx.Response) -> None:
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    assert kind == "application/json", f"Gmail answers JSON, got {kind!r}"


@pytest.fixture
def mailbox(sandbox: Any) -> Iterator[Mailbox]:
    api = AgentKitClient(sandbox.url)
    api.login(sandbox.settings.client_id, sandbox.settings.client_secret)
    account = connect(api, GMAIL, OWNER)
    token = account["authorization_details"]["oauth_token"]["access_token"]
    with httpx.Client(base_url=sandbox.url, timeout=10) as http:
        yield Mailbox(sandbox, api, http, token)
    api.close()


def headers_of(message: dict[str, Any]) -> dict[str, str]:
    return {h["name"]: h["value"] for h in message.get("payload", {}).get("headers", [])}


def address_of(from_header: str) -> str:
    """`"Name" <a@b.c>` -> `a@b.c`."""
    if "<" in from_header:
        return from_header.split("<", 1)[1].split(">", 1)[0].strip()
    return from_header.strip()


def b64url_text(data: str) -> str:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")


def test_fresh_mailbox_has_ten_unread_messages_with_headers(mailbox: Mailbox) -> None:
    listing = mailbox.list_ok(("q", "is:unread"), ("maxResults", "500"))
    messages = listing.get("messages", [])
    assert len(messages) >= 10, f"a fresh mailbox has >= 10 unread messages, got {len(messages)}"
    assert listing["resultSizeEstimate"] >= len(messages)
    non_ascii = False
    for item in messages:
        # ListMessagesResponse.messages: "each message resource contains only an id and a
        # threadId".
        assert set(item) == {"id", "threadId"}, item
        message = mailbox.get_ok(
            item["id"],
            ("format", "metadata"),
            ("metadataHeaders", "From"),
            ("metadataHeaders", "Subject"),
            ("metadataHeaders", "Date"),
        )
        assert message["id"] == item["id"] and message["threadId"] == item["threadId"]
        assert "UNREAD" in message["labelIds"]
        headers = headers_of(message)
        assert set(headers) == {"From", "Subject", "Date"}, headers
        assert "@" in headers["From"]
        assert headers["Subject"].strip()
        parsedate_to_datetime(headers["Date"])  # RFC 2822 date
        text = " ".join([headers["From"], headers["Subject"], message.get("snippet", "")])
        non_ascii = non_ascii or any(ord(ch) > 127 for ch in text)
    assert non_ascii, "some seeded mail carries non-ASCII text"


def test_list_is_newest_first(mailbox: Mailbox) -> None:
    # Message.internalDate "determines ordering in the inbox".
    ids = mailbox.all_ids()
    dates = [int(mailbox.get_ok(i, ("format", "minimal"))["internalDate"]) for i in ids]
    assert dates == sorted(dates, reverse=True)


def test_unread_query_selects_unread_label(mailbox: Mailbox) -> None:
    unread = set(mailbox.all_ids("is:unread"))
    everything = mailbox.all_ids()
    assert unread <= set(everything)
    for message_id in everything:
        labels = mailbox.get_ok(message_id, ("format", "minimal")).get("labelIds", [])
        assert ("UNREAD" in labels) == (message_id in unread), (message_id, labels)


def test_from_and_subject_queries(mailbox: Mailbox) -> None:
    first_id = mailbox.all_ids("is:unread")[0]
    headers = headers_of(
        mailbox.get_ok(
            first_id,
            ("format", "metadata"),
            ("metadataHeaders", "From"),
            ("metadataHeaders", "Subject"),
        )
    )
    sender = address_of(headers["From"])
    from_ids = mailbox.all_ids(f"from:{sender}")
    assert first_id in from_ids
    for message_id in from_ids:
        found = headers_of(
            mailbox.get_ok(message_id, ("format", "metadata"), ("metadataHeaders", "From"))
        )
        assert sender.lower() in found["From"].lower()

    word = next(w for w in headers["Subject"].split() if w.isalpha() and len(w) >= 4)
    subject_ids = mailbox.all_ids(f"subject:{word}")
    assert first_id in subject_ids
    for message_id in subject_ids:
        found = headers_of(
            mailbox.get_ok(message_id, ("format", "metadata"), ("metadataHeaders", "Subject"))
        )
        assert word.lower() in found["Subject"].lower()

    both = set(mailbox.all_ids(f"is:unread from:{sender}"))
    assert first_id in both and both <= set(from_ids)


def test_empty_result_has_no_messages_key(mailbox: Mailbox) -> None:
    body = mailbox.list_ok(("q", "subject:zzqxnothingmatchesthis"))
    # CONTRACT.md: "no `messages` key when there are none".
    assert "messages" not in body
    assert "nextPageToken" not in body
    assert body.get("resultSizeEstimate", 0) == 0


def test_max_results_and_page_tokens(mailbox: Mailbox) -> None:
    expected = mailbox.all_ids("is:unread")
    collected: list[str] = []
    token: str | None = None
    for _ in range(20):
        params = [("q", "is:unread"), ("maxResults", "3")]
        if token:
            params.append(("pageToken", token))
        body = mailbox.list_ok(*params)
        page = [m["id"] for m in body.get("messages", [])]
        assert len(page) <= 3
        collected.extend(page)
        token = body.get("nextPageToken")
        if not token:
            break
        assert len(page) == 3, "only the last page may be short"
    assert collected == expected, "pages in order, no duplicates, nothing missing"


def test_get_minimal(mailbox: Mailbox) -> None:
    message_id = mailbox.all_ids()[0]
    message = mailbox.get_ok(message_id, ("format", "minimal"))
    # format=minimal: "Returns only email message ID and labels; does not return the email
    # headers, body, or payload."
    assert "payload" not in message and "raw" not in message
    assert message["id"] == message_id and "labelIds" in message


def test_get_metadata_without_header_filter_has_headers_and_no_body(mailbox: Mailbox) -> None:
    message = mailbox.get_ok(mailbox.all_ids()[0], ("format", "metadata"))
    # format=metadata: "Returns only email message ID, labels, and email headers."
    headers = headers_of(message)
    assert {"From", "Subject", "Date", "To"} <= set(headers)
    assert "raw" not in message

    def no_body_data(part: dict[str, Any]) -> None:
        assert not part.get("body", {}).get("data"), "metadata carries no body data"
        for child in part.get("parts", []):
            no_body_data(child)

    no_body_data(message["payload"])


def test_get_full_has_decodable_body(mailbox: Mailbox) -> None:
    message_id = mailbox.all_ids()[0]
    message = mailbox.get_ok(message_id)  # format defaults to full
    same = mailbox.get_ok(message_id, ("format", "full"))
    assert message == same
    assert "raw" not in message
    payload = message["payload"]
    assert payload.get("mimeType")
    assert {"From", "Subject", "Date"} <= set(headers_of(message))

    texts: list[str] = []

    def collect(part: dict[str, Any]) -> None:
        data = part.get("body", {}).get("data")
        if data:
            texts.append(b64url_text(data))
            assert part["body"].get("size") == len(b64url_text(data).encode("utf-8"))
        for child in part.get("parts", []):
            collect(child)

    collect(payload)
    assert any(t.strip() for t in texts), "a full message has a decodable text body"


def test_profile(mailbox: Mailbox) -> None:
    validate_gmail_query("users", "getProfile", [])
    answer = mailbox.http.get(PROFILE, headers={"Authorization": f"Bearer {mailbox.token}"})
    assert answer.status_code == 200
    _content_type_is_json(answer)
    profile = answer.json()
    validate_gmail("Profile", profile, "users.getProfile")
    assert "@" in profile["emailAddress"]
    assert profile["messagesTotal"] >= len(mailbox.all_ids())
    assert 1 <= profile["threadsTotal"] <= profile["messagesTotal"]


@pytest.mark.parametrize("token", ["", "ya29.not-a-real-token"], ids=["missing", "wrong"])
def test_bad_token_is_401_in_googles_shape(mailbox: Mailbox, token: str) -> None:
    message_id = mailbox.all_ids()[0]
    # An empty token sends no Authorization header at all.
    for answer in (
        mailbox.list(("q", "is:unread"), token=token),
        mailbox.get(message_id, token=token),
        mailbox.http.get(PROFILE, headers={"Authorization": f"Bearer {token}"} if token else {}),
    ):
        assert answer.status_code == 401, f"{answer.request.url} -> {answer.status_code}"
        _content_type_is_json(answer)
        validate_google_error(401, answer.json())


def test_unknown_message_is_404_in_googles_shape(mailbox: Mailbox) -> None:
    answer = mailbox.get("18c0ffee00000000")
    assert answer.status_code == 404
    _content_type_is_json(answer)
    validate_google_error(404, answer.json())


def test_expired_token_is_401_and_auth_hands_out_a_fresh_one(mailbox: Mailbox) -> None:
    ttl = mailbox.sandbox.settings.access_token_ttl
    before = mailbox.api.auth(connector=GMAIL, identifier=OWNER)
    mailbox.sandbox.admin("POST", "/_sandbox/clock", json={"advance_seconds": ttl + 1})
    stale = mailbox.list(("q", "is:unread"))
    assert stale.status_code == 401
    validate_google_error(401, stale.json())

    # CONTRACT.md: Scalekit refreshes OAuth tokens on its side; read /auth before each use.
    after = mailbox.api.auth(connector=GMAIL, identifier=OWNER)
    assert after["status"] == "ACTIVE"
    fresh = after["authorization_details"]["oauth_token"]["access_token"]
    assert fresh != mailbox.token
    assert parse_rfc3339(after["token_expires_at"]) > parse_rfc3339(before["token_expires_at"])
    assert mailbox.list(("q", "is:unread"), token=fresh).status_code == 200


def test_revoked_token_is_401_and_rotation_replaces_it(mailbox: Mailbox) -> None:
    mailbox.sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": GMAIL, "identifier": OWNER, "rotate": True},
    )
    revoked = mailbox.list()
    assert revoked.status_code == 401
    validate_google_error(401, revoked.json())
    rotated = mailbox.api.auth(connector=GMAIL, identifier=OWNER)
    token = rotated["authorization_details"]["oauth_token"]["access_token"]
    assert token != mailbox.token
    assert mailbox.list(token=token).status_code == 200
