"""Contract tests of the sandbox's Gmail stand-in, written from Google's discovery document.

Source: `scalekit_cli/sandbox/contract/gmail.v1.discovery.json` (methods users.messages.list,
users.messages.get, users.getProfile; schemas ListMessagesResponse, Message, MessagePart,
MessagePartHeader, MessagePartBody, Profile) and CONTRACT.md's Gmail section. Answers are
validated strictly; errors must be in Google's JSON error envelope.
"""

from __future__ import annotations

import base64
import email.policy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.contract.client import AgentKitClient, plain_client
from tests.contract.discovery import validate_gmail, validate_gmail_query, validate_google_error
from tests.contract.flows import connect
from tests.contract.formats import parse_rfc3339
from tests.contract.live import start_shared
from tests.contract.openapi import validate_gateway_error

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


@contextmanager
def open_mailbox(live: Any) -> Iterator[Mailbox]:
    """Connect a fresh Gmail account on `live` and hold its access token."""
    api = AgentKitClient(live.url)
    api.login(live.settings.client_id, live.settings.client_secret)
    account = connect(api, GMAIL, OWNER)
    token = account["authorization_details"]["oauth_token"]["access_token"]
    with plain_client(base_url=live.url) as http:
        yield Mailbox(live, api, http, token)
    api.close()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """One mailbox for the read-only tests of this module (reads change nothing in Gmail)."""
    live = start_shared()
    with open_mailbox(live) as box:
        yield box
    live.stop()


@pytest.fixture
def fresh_mailbox(sandbox: Any) -> Iterator[Mailbox]:
    """A mailbox on its own sandbox, for tests that move the clock or revoke tokens."""
    with open_mailbox(sandbox) as box:
        yield box


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


def test_search_box_syntax(mailbox: Mailbox) -> None:
    # q: "Supports the same query format as the Gmail search box."
    everything = mailbox.all_ids()
    unread, read = mailbox.all_ids("is:unread"), mailbox.all_ids("is:read")
    assert read and not set(read) & set(unread)
    assert sorted(read + unread) == sorted(everything)

    first = mailbox.get_ok(unread[0], ("format", "metadata"))
    headers = headers_of(first)
    sender = address_of(headers["From"])
    assert mailbox.all_ids(f"from:{sender.upper()}") == mailbox.all_ids(f"from:{sender}")

    words = [w for w in headers["Subject"].split() if w.isalnum()]
    if len(words) >= 2:
        phrase = " ".join(words[:2])
        if phrase in headers["Subject"]:
            assert unread[0] in mailbox.all_ids(f'subject:"{phrase}"')
    assert set(mailbox.all_ids(f"-from:{sender}")) == set(everything) - set(
        mailbox.all_ids(f"from:{sender}")
    )


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


def test_expired_token_is_401_and_auth_hands_out_a_fresh_one(fresh_mailbox: Mailbox) -> None:
    mailbox = fresh_mailbox
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


def test_revoked_token_is_401_and_rotation_replaces_it(fresh_mailbox: Mailbox) -> None:
    mailbox = fresh_mailbox
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


def test_get_raw_is_the_rfc2822_message(mailbox: Mailbox) -> None:
    message_id = mailbox.all_ids()[0]
    raw = mailbox.get_ok(message_id, ("format", "raw"))
    # format=raw: "the full email message data with body content in the `raw` field as a
    # base64url encoded string; the `payload` field is not used."
    assert "payload" not in raw and raw.get("raw")
    parsed = BytesParser(policy=email.policy.default).parsebytes(
        base64.urlsafe_b64decode(raw["raw"] + "=" * (-len(raw["raw"]) % 4))
    )
    metadata = headers_of(mailbox.get_ok(message_id, ("format", "metadata")))
    assert str(parsed["Subject"]) == metadata["Subject"]
    assert address_of(str(parsed["From"])) == address_of(metadata["From"])


def test_unknown_format_is_400_in_googles_shape(mailbox: Mailbox) -> None:
    # format is an enum (minimal, full, raw, metadata); anything else is an invalid argument.
    message_id = mailbox.all_ids()[0]
    answer = mailbox.http.get(
        f"{MESSAGES}/{message_id}",
        params={"format": "everything"},
        headers={"Authorization": f"Bearer {mailbox.token}"},
    )
    assert answer.status_code == 400
    validate_google_error(400, answer.json())


def test_user_id_may_be_the_email_address(mailbox: Mailbox) -> None:
    # userId: "The user's email address. The special value `me` can be used to indicate the
    # authenticated user."
    auth = {"Authorization": f"Bearer {mailbox.token}"}
    profile = mailbox.http.get(PROFILE, headers=auth).json()
    address = profile["emailAddress"]
    same = mailbox.http.get(f"/gmail/v1/users/{address}/profile", headers=auth)
    assert same.status_code == 200 and same.json() == profile
    listed = mailbox.http.get(
        f"/gmail/v1/users/{address}/messages", params={"q": "is:unread"}, headers=auth
    )
    assert listed.status_code == 200
    validate_gmail("ListMessagesResponse", listed.json())
    assert [m["id"] for m in listed.json()["messages"]] == mailbox.all_ids("is:unread")[:100]


def test_label_ids_filter(mailbox: Mailbox) -> None:
    # labelIds: "Only return messages with labels that match all of the specified label IDs."
    by_label = mailbox.list_ok(("labelIds", "UNREAD"), ("maxResults", "500"))
    assert [m["id"] for m in by_label.get("messages", [])] == mailbox.all_ids("is:unread")
    both = mailbox.list_ok(("labelIds", "UNREAD"), ("labelIds", "INBOX"), ("maxResults", "500"))
    for item in both.get("messages", []):
        labels = mailbox.get_ok(item["id"], ("format", "minimal"))["labelIds"]
        assert {"UNREAD", "INBOX"} <= set(labels)


def _batch_body(boundary: str, message_ids: list[str]) -> bytes:
    parts = []
    for index, message_id in enumerate(message_ids):
        parts.append(
            f"--{boundary}\r\n"
            "Content-Type: application/http\r\n"
            f"Content-ID: <item{index}>\r\n\r\n"
            f"GET /gmail/v1/users/me/messages/{message_id}?format=metadata"
            "&metadataHeaders=Subject\r\n\r\n"
        )
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def _split_http_response(text: str) -> tuple[int, dict[str, str], str]:
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.strip("\n").split("\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_batch_of_message_reads(mailbox: Mailbox) -> None:
    # CONTRACT.md: many reads "as one `multipart/mixed` request to `/batch/gmail/v1`" (the
    # discovery document's batchPath); the outer Authorization applies to every part.
    ids = mailbox.all_ids("is:unread")[:3]
    boundary = "batch_sk_contract"
    answer = mailbox.http.post(
        "/batch/gmail/v1",
        content=_batch_body(boundary, [*ids, "18c0ffee00000000"]),
        headers={
            "Authorization": f"Bearer {mailbox.token}",
            "Content-Type": f"multipart/mixed; boundary={boundary}",
        },
    )
    assert answer.status_code == 200, answer.text[:300]
    content_type = answer.headers["content-type"]
    assert content_type.startswith("multipart/mixed") and "boundary=" in content_type
    envelope = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + answer.content
    )
    results: dict[str, tuple[int, dict[str, str], str]] = {}
    for part in envelope.iter_parts():
        assert part.get_content_type() == "application/http"
        payload = part.get_payload(decode=True).decode("utf-8")
        results[str(part["Content-ID"])] = _split_http_response(payload)
    assert set(results) == {f"<response-item{i}>" for i in range(len(ids) + 1)}
    for index, message_id in enumerate(ids):
        status, headers, body = results[f"<response-item{index}>"]
        assert status == 200 and headers["content-type"].startswith("application/json")
        message = json.loads(body)
        validate_gmail("Message", message, "batch part")
        assert message["id"] == message_id and set(headers_of(message)) == {"Subject"}
    status, _, body = results[f"<response-item{len(ids)}>"]
    assert status == 404
    validate_google_error(404, json.loads(body))


def test_proxy_forwards_with_the_users_credentials(mailbox: Mailbox) -> None:
    # CONTRACT.md "Proxy": {env}/proxy{path} with headers connection_name and identifier, and
    # the machine token; the answer is the provider's own.
    proxied = mailbox.http.get(
        f"/proxy{MESSAGES}",
        params={"q": "is:unread", "maxResults": "500"},
        headers={
            "Authorization": f"Bearer {mailbox.api.token}",
            "connection_name": GMAIL,
            "identifier": OWNER,
        },
    )
    assert proxied.status_code == 200, proxied.text[:300]
    validate_gmail("ListMessagesResponse", proxied.json(), "proxied messages.list")
    assert [m["id"] for m in proxied.json()["messages"]] == mailbox.all_ids("is:unread")

    unknown = mailbox.http.get(
        f"/proxy{PROFILE}",
        headers={
            "Authorization": f"Bearer {mailbox.api.token}",
            "connection_name": GMAIL,
            "identifier": "nobody@example.com",
        },
    )
    assert unknown.status_code == 404
    validate_gateway_error(404, unknown.json(), "proxy for an unknown account")

    no_machine_token = mailbox.http.get(
        f"/proxy{PROFILE}", headers={"connection_name": GMAIL, "identifier": OWNER}
    )
    assert no_machine_token.status_code == 401
    validate_gateway_error(401, no_machine_token.json(), "proxy without a machine token")
    assert no_machine_token.json()["code"] == 16
