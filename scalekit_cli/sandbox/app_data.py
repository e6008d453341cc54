"""A seed's `accounts[].app_data`: the data an account's app serves in place of the
deterministic one (the Gmail mailbox's messages, Calendar events, Slack channels, Notion
pages).

`check_app_data` checks the seed's table (every problem named by key path) and returns it with
the defaults the account needs filled in (ids, times), so the state keeps and `sk sandbox
export` writes back exactly what the faces serve. The apps (apps.py, the mailbox) read the
result through `ToolContext.app_data`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .mailbox import INBOX, Mailbox, MailMessage

if TYPE_CHECKING:
    from .seed import _Checker


# The keys of each kind of entry, and the one key of each app's table.
_MESSAGE_KEYS = {"from", "to", "subject", "body", "date", "labels", "id"}
_EVENT_KEYS = {"summary", "start", "end", "description", "location", "id"}
_CHANNEL_KEYS = {"name", "topic", "messages"}
_SLACK_MESSAGE_KEYS = {"user", "text", "ts"}
_PAGE_KEYS = {"title", "id", "last_edited_time"}
APP_KEYS = {"gmail": "messages", "googlecalendar": "events", "slack": "channels", "notion": "pages"}
# Gmail message ids are hex; Calendar event ids base32hex (RFC 2938: a-v, 0-9, 5 to 1024);
# Slack channel names lower case without spaces, at most 80; a Slack `ts` seconds.micros.
_GMAIL_ID = re.compile(r"[0-9a-f]{1,16}")
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_TS = re.compile(r"\d{1,10}\.\d{6}")
_LABEL = re.compile(r"[A-Za-z0-9_/ -]{1,225}")
TIME_HINT = "must be an RFC 3339 time with a zone from 1970 to 9999, e.g. 2026-12-01T09:00:00Z"


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def utc_moment(value: Any) -> datetime | None:
    """An RFC 3339 time with a zone (a string or TOML's own date-time) in UTC; None for
    anything else, or a moment outside 1970 to 9999 in UTC, which no answer's epoch
    milliseconds or four-digit year could spell."""
    moment = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # a zone offset past year 1 or 9999
        return None
    return moment if 1970 <= moment.year <= 9999 else None


def _time(check: _Checker, entry: dict[str, Any], key: str, where: str) -> str | None:
    """The RFC 3339 time at `key`, normalised to UTC (`…Z`)."""
    value = entry.get(key)
    if value is None:
        return None
    moment = utc_moment(value)
    if moment is None:
        check.problem(f"{where}.{key}", TIME_HINT)
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pattern(
    check: _Checker,
    entry: dict[str, Any],
    key: str,
    where: str,
    pattern: re.Pattern[str],
    what: str,
) -> str | None:
    value = check.string(entry, key, where)
    if value is not None and not pattern.fullmatch(value):
        check.problem(f"{where}.{key}", f"{json.dumps(value[:40])} is not {what}")
        return None
    return value


def _unique(check: _Checker, seen: set[str], value: str | None, where: str) -> None:
    if value is not None:
        if value in seen:
            check.problem(where, f"{json.dumps(value)} is declared twice")
        seen.add(value)


def _messages(check: _Checker, items: list[Any], where: str, key: tuple[str, ...]) -> list:
    messages, ids = [], set()
    for index, entry in enumerate(items):
        at = f"{where}[{index}]"
        if not check.table(entry, at, _MESSAGE_KEYS, ("from", "subject", "date")):
            continue
        message = {
            "from": check.string(entry, "from", at),
            "to": check.string(entry, "to", at),
            "subject": check.string(entry, "subject", at, empty=True),
            "body": check.string(entry, "body", at, empty=True) or "",
            "date": _time(check, entry, "date", at),
            "labels": check.strings(entry, "labels", at) or [INBOX],
            "id": _pattern(check, entry, "id", at, _GMAIL_ID, "a Gmail id (hex digits, ≤16)")
            or _digest(*key, "message", index)[:16],
        }
        for label in message["labels"]:
            if not _LABEL.fullmatch(label):
                check.problem(f"{at}.labels", f"{json.dumps(label[:40])} is not a label name")
        _unique(check, ids, message["id"], f"{at}.id")
        if message["to"] is None:
            del message["to"]  # the mailbox's own address
        messages.append(message)
    return messages


def _events(check: _Checker, items: list[Any], where: str, key: tuple[str, ...]) -> list:
    events, ids = [], set()
    for index, entry in enumerate(items):
        at = f"{where}[{index}]"
        if not check.table(entry, at, _EVENT_KEYS, ("summary", "start", "end")):
            continue
        event = {
            "summary": check.string(entry, "summary", at, empty=True),
            "start": _time(check, entry, "start", at),
            "end": _time(check, entry, "end", at),
            "description": check.string(entry, "description", at, empty=True) or "",
            "location": check.string(entry, "location", at, empty=True) or "",
            "id": _pattern(check, entry, "id", at, _EVENT_ID, "an event id (a-v, 0-9, ≥5)")
            or _digest(*key, "event", index)[:26],
        }
        if event["start"] and event["end"] and event["end"] <= event["start"]:
            check.problem(f"{at}.end", "must be after start")
        _unique(check, ids, event["id"], f"{at}.id")
        events.append(event)
    return events


def _channels(
    check: _Checker, items: list[Any], where: str, key: tuple[str, ...], now: float
) -> list:
    channels, names = [], set()
    for index, entry in enumerate(items):
        at = f"{where}[{index}]"
        if not check.table(entry, at, _CHANNEL_KEYS, ("name",)):
            continue
        name = _pattern(check, entry, "name", at, _CHANNEL_NAME, "a channel name (a-z 0-9 _ -)")
        _unique(check, names, name, f"{at}.name")
        raw = check.array(entry, "messages", at)
        messages, stamps = [], set()
        for number, item in enumerate(raw):
            there = f"{at}.messages[{number}]"
            if not check.table(item, there, _SLACK_MESSAGE_KEYS, ("text",)):
                continue
            ts = _pattern(check, item, "ts", there, _TS, "a Slack ts (seconds.micros)")
            message = {
                "user": _pattern(check, item, "user", there, _SLACK_USER, "a Slack user id")
                or "U" + _digest(*key, "member", number % 3)[:10].upper(),
                "text": check.string(item, "text", there),
                # Undated messages predate the seeding by an hour each, in order.
                "ts": ts or f"{int(now) - 3600 * (len(raw) - number):d}.000000",
            }
            _unique(check, stamps, message["ts"], f"{there}.ts")
            messages.append(message)
        topic = check.string(entry, "topic", at, empty=True) or ""
        channels.append({"name": name, "topic": topic, "messages": messages})
    return channels


def _pages(check: _Checker, items: list[Any], where: str, key: tuple[str, ...], now: float) -> list:
    pages, ids = [], set()
    for index, entry in enumerate(items):
        at = f"{where}[{index}]"
        if not check.table(entry, at, _PAGE_KEYS, ("title",)):
            continue
        page_id = check.string(entry, "id", at)
        if page_id is not None:
            try:
                page_id = str(uuid.UUID(page_id))
            except ValueError:
                check.problem(f"{at}.id", f"{json.dumps(page_id[:40])} is not a UUID")
        edited = _time(check, entry, "last_edited_time", at)
        default_edited = datetime.fromtimestamp(int(now) - 86400 * (index + 1), tz=UTC)
        page = {
            "title": check.string(entry, "title", at, empty=True),
            "id": page_id or str(uuid.UUID(_digest(*key, "page", index)[:32], version=4)),
            "last_edited_time": edited or default_edited.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        _unique(check, ids, page["id"], f"{at}.id")
        pages.append(page)
    return pages


def check_app_data(
    check: _Checker, value: Any, where: str, app: str | None, key: tuple[str, ...], now: float
) -> dict[str, Any] | None:
    """The account's app data with its defaults filled in, or None (problems noted on
    `check`). `app` is the app behind the account's connection; `key` makes the default ids
    (the connection and the identifier, so that they do not change with the seeding time)."""
    if app not in APP_KEYS:
        check.problem(
            where,
            f"the connection is backed by {'no app' if app is None else f'the {app} app'}; "
            f"app_data is for the {', '.join(APP_KEYS)} apps",
        )
        return None
    name = APP_KEYS[app]
    if not check.table(value, where, {name}, (name,)):
        return None
    items = check.array(value, name, where)
    at = f"{where}.{name}"
    if app == "gmail":
        return {name: _messages(check, items, at, key)}
    if app == "googlecalendar":
        return {name: _events(check, items, at, key)}
    if app == "slack":
        return {name: _channels(check, items, at, key, now)}
    return {name: _pages(check, items, at, key, now)}


def mailbox(data: dict[str, Any], address: str) -> Mailbox:
    """The mailbox of the declared messages, newest first."""
    messages = []
    for index, entry in enumerate(data["messages"]):
        messages.append(
            MailMessage(
                id=entry["id"],
                thread_id=entry["id"],
                label_ids=tuple(entry["labels"]),
                from_header=entry["from"],
                to_header=entry.get("to", address),
                subject=entry["subject"],
                sent_at=datetime.fromisoformat(entry["date"]),
                body=entry["body"],
                history_id=100000 + index,
            )
        )
    messages.sort(key=lambda message: (message.sent_at, message.id), reverse=True)
    return Mailbox(address, messages)
