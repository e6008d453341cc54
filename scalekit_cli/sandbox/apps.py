"""Google Calendar, Slack and Notion as the sandbox's tools see them: a deterministic world per
connected account (events, channels, messages, pages that follow from the account's
identifier and creation time, like its mailbox), plus what the account's own tool calls
added (`AppRecords`, persisted with the rest of the state), which later calls read back.

Pure Python. The shapes are the providers' own (Calendar's Events resource, Slack's
`conversations.*` and `chat.postMessage` answers, Notion's search results), trimmed to the
fields an agent uses.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .clock import rfc3339
from .errors import ToolInputError
from .mailbox import mailbox_address

if TYPE_CHECKING:
    from .tools import ToolContext

CALENDAR_EVENT = "calendar_event"
SLACK_MESSAGE = "slack_message"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()


def offset_token(raw: Any, where: str) -> int:
    if raw in (None, ""):
        return 0
    if not isinstance(raw, str) or not re.fullmatch(r"\d{1,9}", raw):
        raise ToolInputError(f"{where} is not a token this tool returned")
    return int(raw)


def parse_time(value: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ToolInputError(
            f"{where} must be an RFC 3339 date-time such as 2026-12-02T15:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ToolInputError(f"{where} must carry a time zone (Z or an offset such as +01:00)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # an offset that moves year 1 or 9999 out of range
        raise ToolInputError(f"{where} is out of range in UTC") from None


def _day_start(epoch: float) -> datetime:
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


# --- Google Calendar ---------------------------------------------------------------------

# (days after the account was connected, hour UTC, minutes, summary, description, location)
_CALENDAR_SEEDS: list[tuple[int, int, int, str, str, str]] = [
    (1, 9, 30, "Weekly sync", "Status round and blockers.", "Google Meet"),
    (
        1,
        14,
        60,
        "Quarterly planning",
        "Draft the Q1 goals; bring last quarter's numbers.",
        "Room Ada",
    ),
    (2, 11, 30, "1:1 with Priya", "Career check-in.", ""),
    (4, 12, 60, "Team lunch 🍜", "Celebrating the launch.", "Café Zoë"),
    (8, 9, 30, "Weekly sync", "Status round and blockers.", "Google Meet"),
    (
        9,
        16,
        45,
        "Design review: onboarding flow",
        "Walk through the new sign-up screens.",
        "Room Turing",
    ),
]


def _calendar_time(moment: datetime) -> dict[str, str]:
    # isoformat, not strftime: `%Y` leaves year 1 as `1`, which no parser reads back.
    text = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    return {"dateTime": text, "timeZone": "UTC"}


def _event_id(*parts: object) -> str:
    # Calendar event ids use the base32hex alphabet (a-v, 0-9); hex digits are a subset.
    return _digest(*parts).hex()[:26]


def _event(
    event_id: str,
    owner: str,
    summary: str,
    start: datetime,
    end: datetime,
    created: float,
    *,
    description: str = "",
    location: str = "",
    attendees: list[str] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "kind": "calendar#event",
        "id": event_id,
        "status": "confirmed",
        "created": rfc3339(created),
        "updated": rfc3339(created),
        "summary": summary,
    }
    if description:
        event["description"] = description
    if location:
        event["location"] = location
    event |= {
        "creator": {"email": owner, "self": True},
        "organizer": {"email": owner, "self": True},
        "start": _calendar_time(start),
        "end": _calendar_time(end),
        "iCalUID": f"{event_id}@google.com",
        "eventType": "default",
    }
    if attendees:
        event["attendees"] = [
            {"email": owner, "organizer": True, "self": True, "responseStatus": "accepted"},
            *({"email": email, "responseStatus": "needsAction"} for email in attendees),
        ]
    return event


def _seed_events(context: ToolContext) -> list[dict[str, Any]]:
    account = context.account
    owner = mailbox_address(account.identifier)
    if context.app_data is not None and "events" in context.app_data:
        return [
            _event(
                event["id"],
                owner,
                event["summary"],
                datetime.fromisoformat(event["start"]),
                datetime.fromisoformat(event["end"]),
                account.created_at,
                description=event["description"],
                location=event["location"],
            )
            for event in context.app_data["events"]
        ]
    first_day = _day_start(account.created_at)
    events = []
    for index, (days, hour, minutes, summary, description, location) in enumerate(_CALENDAR_SEEDS):
        shift = _digest(account.identifier, account.created_at, index)[0] % 3
        start = first_day + timedelta(days=days, hours=hour + shift)
        events.append(
            _event(
                _event_id(account.identifier, account.created_at, "seed", index),
                owner,
                summary,
                start,
                start + timedelta(minutes=minutes),
                account.created_at,
                description=description,
                location=location,
            )
        )
    return events


def _event_bounds(event: dict[str, Any]) -> tuple[datetime, datetime]:
    return (
        datetime.fromisoformat(event["start"]["dateTime"]),
        datetime.fromisoformat(event["end"]["dateTime"]),
    )


def calendar_events(
    context: ToolContext, lower: datetime | None, upper: datetime | None, query: str = ""
) -> list[dict[str, Any]]:
    """The account's events (seeded and created) that have not ended by `lower` and start
    before `upper`, matching the free text `query`; soonest first. The tool and the proxy's
    `events.list` both read them here."""
    events = _seed_events(context) + context.records.list(CALENDAR_EVENT)
    folded = query.casefold()
    matching = []
    for event in events:
        start, end = _event_bounds(event)
        if (lower is not None and end <= lower) or (upper is not None and start >= upper):
            continue
        text = " ".join(event.get(f, "") for f in ("summary", "description", "location"))
        if folded and folded not in text.casefold():
            continue
        matching.append((start, event["id"], event))
    matching.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in matching]


def calendar_page(
    context: ToolContext, events: list[dict[str, Any]], offset: int, limit: int
) -> dict[str, Any]:
    """An Events resource list: one page of `events` and the token of the next."""
    data: dict[str, Any] = {
        "kind": "calendar#events",
        "summary": mailbox_address(context.account.identifier),
        "timeZone": "UTC",
        "items": events[offset : offset + limit],
    }
    if offset + limit < len(events):
        data["nextPageToken"] = str(offset + limit)
    return data


def calendar_event(context: ToolContext, event_id: str) -> dict[str, Any] | None:
    for event in _seed_events(context) + context.records.list(CALENDAR_EVENT):
        if event["id"] == event_id:
            return event
    return None


def calendar_add_event(
    context: ToolContext,
    summary: str,
    start: datetime,
    end: datetime,
    *,
    description: str = "",
    location: str = "",
    attendees: list[str] | None = None,
) -> dict[str, Any]:
    """Store a new event of the account (in `AppRecords`) and return it."""
    owner = mailbox_address(context.account.identifier)
    created = context.now.timestamp()

    def build(existing: list[dict[str, Any]]) -> dict[str, Any]:
        return _event(
            _event_id(context.account.id, "created", len(existing)),
            owner,
            summary,
            start,
            end,
            created,
            description=description,
            location=location,
            attendees=attendees,
        )

    return context.records.append(CALENDAR_EVENT, build)


def calendar_list_events(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    lower = parse_time(params["time_min"], "params.time_min") if "time_min" in params else None
    upper = parse_time(params["time_max"], "params.time_max") if "time_max" in params else None
    events = calendar_events(context, lower or context.now, upper, params.get("query", ""))
    offset = offset_token(params.get("page_token"), "params.page_token")
    return calendar_page(context, events, offset, params.get("max_results", 10))


def calendar_create_event(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    start = parse_time(params["start_time"], "params.start_time")
    end = parse_time(params["end_time"], "params.end_time")
    if end <= start:
        raise ToolInputError("params.end_time must be after params.start_time")
    return calendar_add_event(
        context,
        params["summary"],
        start,
        end,
        description=params.get("description", ""),
        location=params.get("location", ""),
        attendees=params.get("attendees"),
    )


# --- Slack -------------------------------------------------------------------------------

# (name, topic, purpose, (seed message, seed message))
_SLACK_CHANNELS: list[tuple[str, str, str, tuple[str, str]]] = [
    (
        "general",
        "Company-wide announcements",
        "This channel is for workspace-wide communication and announcements.",
        ("Welcome to the workspace! 👋", "All-hands moved to Thursday 16:00 UTC."),
    ),
    (
        "random",
        "Non-work banter",
        "A place for non-work-related flimflam.",
        ("Anyone up for coffee at Café Zoë?", "Photo of the day: the office plant survived ☘️"),
    ),
    (
        "engineering",
        "Builds, deploys and code review",
        "Where engineers talk shop.",
        ("Deploy of v2.3.1 finished.", "Reminder: code freeze starts Friday."),
    ),
    (
        "support",
        "Customer questions that need an engineer",
        "Escalations from the support team.",
        ("Acme reports slow exports since Monday.", "Fixed by the index added yesterday."),
    ),
]


def _slack_id(prefix: str, *parts: object) -> str:
    return prefix + base64.b32encode(_digest(*parts)).decode()[:10]


@dataclass(frozen=True)
class Workspace:
    team: str
    user: str  # the connected user
    channels: list[dict[str, Any]]

    def find(self, wanted: str) -> dict[str, Any] | None:
        """The channel named by its id or its name (`general` or `#general`)."""
        name = wanted[1:] if wanted.startswith("#") else wanted
        for channel in self.channels:
            if wanted == channel["id"] or name == channel["name"]:
                return channel
        return None

    def channel(self, wanted: str) -> dict[str, Any]:
        channel = self.find(wanted)
        if channel is None:
            raise ToolInputError(
                f"params.channel: no channel {wanted!r} in this workspace; "
                "slack_list_channels lists them (use the id or the name)"
            )
        return channel


def _declared_channels(context: ToolContext) -> list[dict[str, Any]] | None:
    data = context.app_data
    return data["channels"] if data is not None and "channels" in data else None


def slack_workspace(context: ToolContext) -> Workspace:
    account = context.account
    key = (account.identifier, account.created_at)
    team = _slack_id("T", *key, "team")
    user = _slack_id("U", *key, "me")
    declared = _declared_channels(context)
    seeds = (
        _SLACK_CHANNELS if declared is None else [(c["name"], c["topic"], "", ()) for c in declared]
    )
    channels = []
    for index, (name, topic, purpose, _) in enumerate(seeds):
        creator = _slack_id("U", *key, "member", index % 3)
        created = int(account.created_at) - 86400 * (400 - 30 * index)
        channels.append(
            {
                "id": _slack_id("C", *key, name),
                "name": name,
                "is_channel": True,
                "is_private": False,
                "is_archived": False,
                "is_general": name == "general",
                "is_member": True,
                "created": created,
                "creator": creator,
                "topic": {"value": topic, "creator": creator, "last_set": created},
                "purpose": {"value": purpose, "creator": creator, "last_set": created},
                "num_members": 5 + _digest(*key, name)[0] % 40,
            }
        )
    return Workspace(team, user, channels)


def _seed_messages(context: ToolContext, channel: dict[str, Any]) -> list[dict[str, Any]]:
    account = context.account
    declared = _declared_channels(context)
    if declared is not None:
        found = next(c for c in declared if c["name"] == channel["name"])
        return [{"type": "message", **message} for message in found["messages"]]
    index = next(i for i, seed in enumerate(_SLACK_CHANNELS) if seed[0] == channel["name"])
    texts = _SLACK_CHANNELS[index][3]
    key = (account.identifier, account.created_at)
    return [
        {
            "type": "message",
            "user": _slack_id("U", *key, "member", (index + number) % 3),
            "text": text,
            "ts": f"{account.created_at - 3600 * (len(texts) - number):.6f}",
        }
        for number, text in enumerate(texts)
    ]


def slack_history(context: ToolContext, channel: dict[str, Any]) -> list[dict[str, Any]]:
    """The channel's messages (seeded and posted), newest first: what the tool and the
    proxy's `conversations.history` both answer from."""
    posted = [
        {key: value for key, value in record.items() if key != "channel"}
        for record in context.records.list(SLACK_MESSAGE)
        if record["channel"] == channel["id"]
    ]
    messages = _seed_messages(context, channel) + posted
    return sorted(messages, key=lambda m: float(m["ts"]), reverse=True)


def slack_channels_page(context: ToolContext, offset: int, limit: int) -> dict[str, Any]:
    channels = slack_workspace(context).channels
    following = str(offset + limit) if offset + limit < len(channels) else ""
    return {
        "ok": True,
        "channels": channels[offset : offset + limit],
        "response_metadata": {"next_cursor": following},
    }


def slack_post(
    context: ToolContext, workspace: Workspace, channel: dict[str, Any], text: str
) -> dict[str, Any]:
    """Post `text` to `channel` as the connected user; `chat.postMessage`'s answer."""

    def build(existing: list[dict[str, Any]]) -> dict[str, Any]:
        # `ts` identifies a message in its channel: strictly increasing, even within one
        # microsecond of the sandbox clock (the seeded ones all predate the account).
        posted = [float(m["ts"]) for m in existing if m["channel"] == channel["id"]]
        ts = max([context.now.timestamp(), *(earlier + 0.000001 for earlier in posted)])
        return {
            "channel": channel["id"],
            "type": "message",
            "user": workspace.user,
            "text": text,
            "ts": f"{ts:.6f}",
        }

    record = context.records.append(SLACK_MESSAGE, build)
    message = {key: value for key, value in record.items() if key != "channel"}
    return {
        "ok": True,
        "channel": channel["id"],
        "ts": record["ts"],
        "message": {**message, "team": workspace.team},
    }


def slack_list_channels(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    offset = offset_token(params.get("cursor"), "params.cursor")
    return slack_channels_page(context, offset, params.get("limit", 100))


def slack_send_message(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    workspace = slack_workspace(context)
    return slack_post(context, workspace, workspace.channel(params["channel"]), params["text"])


def slack_conversation_history(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    channel = slack_workspace(context).channel(params["channel"])
    newest_first = slack_history(context, channel)
    limit = params.get("limit", 20)
    return {
        "ok": True,
        "messages": newest_first[:limit],
        "has_more": len(newest_first) > limit,
    }


# --- Notion ------------------------------------------------------------------------------

# (title, emoji, days before the account was connected it was last edited)
_NOTION_PAGES: list[tuple[str, str, int]] = [
    ("Product roadmap 2026", "🗺️", 1),
    ("Meeting notes — Weekly sync", "📝", 2),
    ("Onboarding checklist", "✅", 5),
    ("Engineering handbook", "📘", 9),
    ("Q4 OKRs", "🎯", 14),
    ("Customer interview: Acme Corp", "🎙️", 21),
    ("Launch plan: mobile app", "🚀", 30),
    ("Reading list", "📚", 60),
]


def _notion_time(epoch: float) -> str:
    moment = datetime.fromtimestamp(int(epoch) // 60 * 60, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:00.000Z")


def notion_pages(context: ToolContext) -> list[dict[str, Any]]:
    account = context.account
    key = (account.identifier, account.created_at)
    author = {"object": "user", "id": str(uuid.UUID(bytes=_digest(*key, "author")[:16], version=4))}
    data = context.app_data
    if data is not None and "pages" in data:
        seeds = [
            (p["title"], None, p["id"], datetime.fromisoformat(p["last_edited_time"]).timestamp())
            for p in data["pages"]
        ]
    else:
        seeds = [
            (
                title,
                emoji,
                str(uuid.UUID(bytes=_digest(*key, "page", title)[:16], version=4)),
                account.created_at - 86400 * days,
            )
            for title, emoji, days in _NOTION_PAGES
        ]
    pages = []
    for title, emoji, page_id, edited in seeds:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
        text = {
            "type": "text",
            "text": {"content": title, "link": None},
            "annotations": {
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "code": False,
                "color": "default",
            },
            "plain_text": title,
            "href": None,
        }
        pages.append(
            {
                "object": "page",
                "id": page_id,
                "created_time": _notion_time(edited - 86400 * 30),
                "last_edited_time": _notion_time(edited),
                "created_by": author,
                "last_edited_by": author,
                "cover": None,
                "icon": {"type": "emoji", "emoji": emoji} if emoji else None,
                "parent": {"type": "workspace", "workspace": True},
                "archived": False,
                "in_trash": False,
                "properties": {"title": {"id": "title", "type": "title", "title": [text]}},
                "url": f"https://www.notion.so/{slug}-{page_id.replace('-', '')}",
                "public_url": None,
            }
        )
    return pages


def notion_search(
    context: ToolContext, query: str, start_cursor: str | None, page_size: int
) -> dict[str, Any] | None:
    """Notion's search list of the pages whose title holds `query`; None when `start_cursor`
    is not a `next_cursor` of this search."""
    folded = query.casefold()
    pages = [
        page
        for page in notion_pages(context)
        if folded in page["properties"]["title"]["title"][0]["plain_text"].casefold()
    ]
    start = 0
    if start_cursor:
        ids = [page["id"] for page in pages]
        if start_cursor not in ids:
            return None
        start = ids.index(start_cursor)
    page = pages[start : start + page_size]
    following = pages[start + page_size]["id"] if start + page_size < len(pages) else None
    return {
        "object": "list",
        "results": page,
        "next_cursor": following,
        "has_more": following is not None,
        "type": "page_or_database",
        "page_or_database": {},
    }


def notion_search_pages(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    answer = notion_search(
        context,
        params.get("query", ""),
        params.get("start_cursor"),
        params.get("page_size", 10),
    )
    if answer is None:
        raise ToolInputError("params.start_cursor is not a next_cursor this tool returned")
    return answer
