"""The emulated Gmail API: mailbox contents, `q` search, paging, formats and errors."""

from __future__ import annotations

import base64
import email.policy
import json
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

import pytest

from tests.sandbox.conftest import Agent

ADDRESS = "reader@example.com"


@pytest.fixture
def token(agent: Agent) -> str:
    return agent.connect("gmail", ADDRESS)["authorization_details"]["oauth_token"]["access_token"]


def _all_ids(agent: Agent, token: str, **params) -> list[str]:
    answer = agent.gmail("/messages", token, **params)
    assert answer.status_code == 200, answer.text
    return [m["id"] for m in answer.json().get("messages", [])]


def _metadata(agent: Agent, token: str, message_id: str) -> dict:
    answer = agent.gmail(f"/messages/{message_id}", token, format="metadata")
    assert answer.status_code == 200
    return {h["name"]: h["value"] for h in answer.json()["payload"]["headers"]}


def test_fresh_mailbox_has_unread_mail_newest_first(agent: Agent, token: str) -> None:
    listing = agent.gmail("/messages", token).json()
    assert set(listing) == {"messages", "resultSizeEstimate"}
    messages = listing["messages"]
    assert all(set(m) == {"id", "threadId"} for m in messages)
    assert listing["resultSizeEstimate"] == len(messages) >= 20
    unread = _all_ids(agent, token, q="is:unread")
    assert len(unread) >= 10
    dates = []
    for message in messages:
        full = agent.gmail(f"/messages/{message['id']}", token, format="minimal").json()
        dates.append(int(full["internalDate"]))
    assert dates == sorted(dates, reverse=True)


def test_unread_and_read_partition_the_mailbox(agent: Agent, token: str) -> None:
    everything = set(_all_ids(agent, token))
    unread = set(_all_ids(agent, token, q="is:unread"))
    read = set(_all_ids(agent, token, q="is:read"))
    assert unread and read
    assert unread | read == everything and not unread & read
    for message_id in list(unread)[:3]:
        labels = agent.gmail(f"/messages/{message_id}", token, format="minimal").json()["labelIds"]
        assert "UNREAD" in labels and "INBOX" in labels
    assert set(_all_ids(agent, token, labelIds=["UNREAD", "INBOX"])) == unread


def test_from_subject_and_bare_words_are_anded(agent: Agent, token: str) -> None:
    first_id = _all_ids(agent, token)[0]
    headers = _metadata(agent, token, first_id)
    sender_address = headers["From"].split("<")[1].rstrip(">")
    by_sender = _all_ids(agent, token, q=f"from:{sender_address.upper()}")
    assert first_id in by_sender
    for message_id in by_sender:
        assert sender_address in _metadata(agent, token, message_id)["From"]
    subject_word = headers["Subject"].split()[0]
    both = _all_ids(agent, token, q=f'from:{sender_address} subject:"{subject_word}"')
    assert first_id in both
    assert set(both) <= set(by_sender)
    assert _all_ids(agent, token, q="from:nobody-writes-from-here.example") == []
    negated = set(_all_ids(agent, token, q=f"-from:{sender_address}"))
    assert negated.isdisjoint(by_sender)


def test_empty_result_has_no_messages_key(agent: Agent, token: str) -> None:
    answer = agent.gmail("/messages", token, q="zzzz-no-such-word")
    assert answer.json() == {"resultSizeEstimate": 0}


def test_paging_walks_every_message_once(agent: Agent, token: str) -> None:
    everything = _all_ids(agent, token)
    seen: list[str] = []
    page_token = None
    while True:
        params = {"maxResults": 7, **({"pageToken": page_token} if page_token else {})}
        page = agent.gmail("/messages", token, **params).json()
        assert len(page["messages"]) <= 7
        seen += [m["id"] for m in page["messages"]]
        page_token = page.get("nextPageToken")
        if not page_token:
            break
    assert seen == everything
    assert agent.gmail("/messages", token, pageToken="garbage").status_code == 400
    assert agent.gmail("/messages", token, maxResults="many").status_code == 400
    assert len(_all_ids(agent, token, maxResults=100000)) == len(everything)  # capped at 500


def test_metadata_format_filters_headers(agent: Agent, token: str) -> None:
    message_id = _all_ids(agent, token)[0]
    answer = agent.gmail(
        f"/messages/{message_id}",
        token,
        format="metadata",
        metadataHeaders=["from", "Subject", "Date"],
    ).json()
    assert set(answer) == {
        "id", "threadId", "labelIds", "snippet", "sizeEstimate", "historyId", "internalDate",
        "payload",
    }  # fmt: skip
    assert [h["name"] for h in answer["payload"]["headers"]] == ["Date", "Subject", "From"]
    names_and_values = {h["name"]: h["value"] for h in answer["payload"]["headers"]}
    assert "<" in names_and_values["From"] and "@" in names_and_values["From"]
    sent = parsedate_to_datetime(names_and_values["Date"])
    assert abs(sent.timestamp() * 1000 - int(answer["internalDate"])) < 1000
    assert "body" not in answer["payload"]


def test_full_format_carries_a_base64url_body(agent: Agent, token: str) -> None:
    message_id = _all_ids(agent, token)[0]
    full = agent.gmail(f"/messages/{message_id}", token, format="full").json()
    data = full["payload"]["body"]["data"]
    assert "=" not in data and "+" not in data and "/" not in data
    text = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")
    assert full["snippet"][:20] in " ".join(text.split())
    assert full["payload"]["body"]["size"] == len(text.encode("utf-8"))
    default = agent.gmail(f"/messages/{message_id}", token).json()
    assert default == full  # format defaults to full
    raw = agent.gmail(f"/messages/{message_id}", token, format="raw").json()["raw"]
    assert b"Subject: " in base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def test_minimal_has_no_payload(agent: Agent, token: str) -> None:
    message_id = _all_ids(agent, token)[0]
    minimal = agent.gmail(f"/messages/{message_id}", token, format="minimal").json()
    assert "payload" not in minimal
    assert minimal["id"] == message_id
    assert agent.gmail(f"/messages/{message_id}", token, format="fancy").status_code == 400


def test_mailbox_has_non_ascii_headers(agent: Agent, token: str) -> None:
    texts = [
        " ".join(_metadata(agent, token, message_id).values())
        for message_id in _all_ids(agent, token)
    ]
    assert any(any(ord(ch) > 0x2000 for ch in text) for text in texts)  # CJK or emoji
    assert any(any(0x80 <= ord(ch) < 0x250 for ch in text) for text in texts)  # accents


def test_mailboxes_are_deterministic_per_identifier(agent: Agent) -> None:
    one = agent.connect("gmail", "same@example.com")["authorization_details"]["oauth_token"]
    other = agent.connect("gmail", "other@example.com")["authorization_details"]["oauth_token"]
    first = _all_ids(agent, one["access_token"])
    second = _all_ids(agent, other["access_token"])
    assert first != second
    from scalekit_cli.sandbox.mailbox import Mailbox

    again = Mailbox.generate("same@example.com", 1_700_000_000)
    assert [m.id for m in again.messages] == first  # ids depend on the identifier only


def test_unknown_message_is_googles_404(agent: Agent, token: str) -> None:
    answer = agent.gmail("/messages/0000000000000000", token)
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["status"] == "NOT_FOUND" and error["code"] == 404


def test_profile(agent: Agent, token: str) -> None:
    profile = agent.gmail("/profile", token).json()
    assert set(profile) == {"emailAddress", "messagesTotal", "threadsTotal", "historyId"}
    assert profile["emailAddress"] == ADDRESS
    assert profile["messagesTotal"] == len(_all_ids(agent, token))
    assert 0 < profile["threadsTotal"] <= profile["messagesTotal"]
    by_address = agent.http.get(
        f"/gmail/v1/users/{ADDRESS}/profile", headers={"Authorization": f"Bearer {token}"}
    )
    assert by_address.status_code == 200
    stranger = agent.http.get(
        "/gmail/v1/users/someone@else.example/profile", headers={"Authorization": f"Bearer {token}"}
    )
    assert stranger.status_code == 403


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc"])
def test_bad_credentials_are_googles_401(agent: Agent, token: str, authorization) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = agent.http.get("/gmail/v1/users/me/messages", headers=headers)
    if authorization is None:
        # agent.http carries the machine token, which Gmail must not accept either.
        assert answer.status_code == 401
        answer = agent.browser.get(f"{agent.live.url}/gmail/v1/users/me/messages")
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["status"] == "UNAUTHENTICATED"
    assert error["errors"] == [
        {
            "message": error["message"],
            "domain": "global",
            "reason": "authError",
            "location": "Authorization",
            "locationType": "header",
        }
    ]


def test_tokens_of_non_google_accounts_are_refused(agent: Agent) -> None:
    slack = agent.connect("slack", "team@example.com")["authorization_details"]["oauth_token"]
    assert agent.gmail("/profile", slack["access_token"]).status_code == 401


def _batch(agent: Agent, token: str, parts: list[str], boundary: str = "b0undary") -> list:
    body = "".join(
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <p{n}>\r\n\r\n{part}\r\n"
        for n, part in enumerate(parts)
    )
    answer = agent.http.post(
        "/batch/gmail/v1",
        content=(body + f"--{boundary}--\r\n").encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f'multipart/mixed; boundary="{boundary}"',
        },
    )
    assert answer.status_code == 200, answer.text
    envelope = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {answer.headers['content-type']}\r\n\r\n".encode() + answer.content
    )
    results = []
    for part in envelope.iter_parts():
        head, _, payload = part.get_payload(decode=True).decode().partition("\r\n\r\n")
        results.append((part["Content-ID"], int(head.split()[1]), payload))
    return results


def test_batch_runs_each_part_with_the_outer_or_own_credentials(agent: Agent, token: str) -> None:
    first, second = _all_ids(agent, token)[:2]
    results = _batch(
        agent,
        token,
        [
            f"GET /gmail/v1/users/me/messages/{first}?format=minimal",
            f"GET https://gmail.googleapis.com/gmail/v1/users/me/messages/{second}?format=minimal",
            "GET /gmail/v1/users/me/profile\r\nAuthorization: Bearer wrong",
            "GET /gmail/v1/users/me/messages/ffffffffffffffff",
        ],
    )
    assert [(cid, status) for cid, status, _ in results] == [
        ("<response-p0>", 200),
        ("<response-p1>", 200),
        ("<response-p2>", 401),
        ("<response-p3>", 404),
    ]
    assert json.loads(results[0][2])["id"] == first
    assert json.loads(results[1][2])["id"] == second


def test_batch_needs_a_multipart_body(agent: Agent, token: str) -> None:
    answer = agent.http.post(
        "/batch/gmail/v1", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
