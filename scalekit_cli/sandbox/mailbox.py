"""A deterministic Gmail mailbox per account, and Gmail's `q` search over it.

Pure Python: the Gmail routes and the Gmail tools both read mailboxes from here. A mailbox is a
function of the account's identifier and creation time, so nothing about it is stored: two
processes sharing one state file see the same messages.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

UNREAD = "UNREAD"
INBOX = "INBOX"

# (display name, address, UTC offset in hours) of the people who write to the mailbox.
_SENDERS: list[tuple[str, str, int]] = [
    ("Amélie Durand", "amelie.durand@example.fr", 1),
    ("José Álvarez", "jose.alvarez@example.es", 1),
    ("田中 太郎", "taro.tanaka@example.jp", 9),
    ("Björn Ødegaard", "bjorn.odegaard@example.no", 1),
    ("Priya Natarajan", "priya.natarajan@example.in", 5),
    ("GitHub", "noreply@github.example", 0),
    ("Acme Billing", "billing@acme.example", -5),
    ("Zoë Chen", "zoe.chen@example.com", -8),
    ("Łukasz Kowalski", "lukasz.kowalski@example.pl", 1),
    ("Travel Desk", "travel@corp.example", 0),
    ("李 小龙", "xiaolong.li@example.cn", 8),
    ("Olivia Brown", "olivia.brown@example.co.uk", 0),
]

# (subject, body) templates; `{n}` is filled with a number, `{name}` with the recipient's name.
_TEMPLATES: list[tuple[str, str]] = [
    (
        "Quarterly report — Q{n} 📊",
        "Hi {name}, the numbers for Q{n} are in. Revenue is up 12% "
        "and churn is down. Full deck attached; comments welcome before Friday.",
    ),
    (
        "会議の議事録 ({n})",
        "お疲れ様です。本日の会議の議事録を共有します。次回は来週の火曜日です。"
        " Action items are at the end.",
    ),
    (
        "Dîner vendredi ?",
        "Salut {name} ! On se retrouve au café à 19h ? Dis-moi si ça te va. Bises, Amélie",
    ),
    (
        "Your invoice #{n} is ready",
        "Dear customer, invoice #{n} for this month is now available. "
        "Amount due: €{n}.00. Payment is due within 30 days.",
    ),
    (
        "🎉 Team offsite photos",
        "The photos from the offsite are up! Thanks everyone for a great "
        "trip — special thanks to the organisers.",
    ),
    (
        "[repo] Pull request #{n} merged",
        'Your pull request #{n} "Fix pagination when the page '
        'token is empty" was merged into main.',
    ),
    (
        "Café meetup next week",
        "Hey {name}, a few of us are meeting at Café Zoë on Tuesday. Join us if you can!",
    ),
    (
        "Security alert for your account",
        "We noticed a new sign-in to your account from a new "
        "device. If this was you, you can ignore this message.",
    ),
    (
        "Re: Budget 2025",
        "Thanks {name}, I've updated the spreadsheet with the new figures. "
        "Can you double-check the travel line?",
    ),
    (
        "Flight confirmation ✈️ {n}",
        "Your flight is confirmed. Booking reference: ZX{n}. "
        "Check-in opens 24 hours before departure.",
    ),
    (
        "Naïve Bayes reading group",
        "This week we're reading chapter {n}. Bring questions — and snacks 🍪.",
    ),
    ("Lunch?", "Are you free for lunch tomorrow around 12:30? The new ramen place 🍜 opened."),
    (
        "Weekly digest: {n} new comments",
        "You have {n} new comments on documents shared with you. Open the app to catch up.",
    ),
    (
        "Straße closed on Monday",
        "Heads-up: the street in front of the office is closed on "
        "Monday for works. Please use the side entrance.",
    ),
]

_OPERATORS = {"from", "to", "subject", "is", "in", "label", "newer_than", "older_than"}
_TOKEN = re.compile(r'-?(?:[A-Za-z_]+:)?(?:"[^"]*"?|\S+)')


def mailbox_address(identifier: str) -> str:
    """The mailbox's own address: the identifier when it looks like one, else a made-up one."""
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", identifier):
        return identifier
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:10]
    return f"user-{digest}@sandbox.example"


@dataclass(frozen=True)
class MailMessage:
    id: str
    thread_id: str
    label_ids: tuple[str, ...]
    from_header: str
    to_header: str
    subject: str
    sent_at: datetime  # aware, in the sender's time zone
    body: str
    history_id: int

    @property
    def internal_date_ms(self) -> int:
        return int(self.sent_at.timestamp() * 1000)

    @property
    def date_header(self) -> str:
        return format_datetime(self.sent_at)

    @property
    def snippet(self) -> str:
        text = " ".join(self.body.split())
        return text if len(text) <= 100 else text[:100].rstrip()

    @property
    def is_unread(self) -> bool:
        return UNREAD in self.label_ids

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("MIME-Version", "1.0"),
            ("Date", self.date_header),
            ("Message-ID", f"<{self.id}@mail.sandbox.example>"),
            ("Subject", self.subject),
            ("From", self.from_header),
            ("To", self.to_header),
            ("Content-Type", 'text/plain; charset="UTF-8"'),
        ]

    def rfc2822(self) -> bytes:
        # Header values are sent as raw UTF-8 (RFC 6532) rather than RFC 2047 words: simpler, and
        # what Gmail itself returns for many modern senders.
        head = "".join(f"{name}: {value}\r\n" for name, value in self.headers())
        return (head + "\r\n" + self.body + "\r\n").encode("utf-8")

    @property
    def size_estimate(self) -> int:
        return len(self.rfc2822())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class Mailbox:
    def __init__(self, address: str, messages: Sequence[MailMessage]) -> None:
        self.address = address
        self.messages = list(messages)  # newest first
        self._by_id = {message.id: message for message in self.messages}

    @property
    def history_id(self) -> int:
        return max((m.history_id for m in self.messages), default=1000) + 1

    @property
    def threads_total(self) -> int:
        return len({message.thread_id for message in self.messages})

    def get(self, message_id: str) -> MailMessage | None:
        return self._by_id.get(message_id)

    def search(
        self, query: str = "", label_ids: Iterable[str] = (), now: datetime | None = None
    ) -> list[MailMessage]:
        wanted_labels = {label.upper() for label in label_ids}
        terms = parse_query(query)
        return [
            message
            for message in self.messages
            if wanted_labels.issubset(message.label_ids)
            and all(term.matches(message, now) for term in terms)
        ]

    @classmethod
    def generate(cls, identifier: str, anchor_epoch: float) -> Mailbox:
        """The mailbox of `identifier`, its messages dated in the two weeks before `anchor`."""
        seed = int.from_bytes(hashlib.sha256(identifier.encode()).digest()[:8], "big")
        rng = random.Random(seed)
        address = mailbox_address(identifier)
        local = address.split("@", 1)[0]
        recipient_name = local.split(".")[0].split("+")[0].capitalize() or "there"
        count = rng.randint(24, 32)
        unread_count = rng.randint(12, 16)
        unread_positions = set(rng.sample(range(count), unread_count))
        anchor = datetime.fromtimestamp(anchor_epoch, tz=UTC)
        # Ages in seconds, smallest first, so index 0 is the newest message.
        ages = sorted(rng.uniform(600, 14 * 86400) for _ in range(count))
        messages: list[MailMessage] = []
        thread_of_previous: str | None = None
        for index, age in enumerate(ages):
            digest = hashlib.sha256(f"{identifier}\x00{index}".encode()).hexdigest()
            message_id = format(int(digest[:15], 16) | (1 << 60), "x")  # 16 hex digits
            name, sender, utc_offset = rng.choice(_SENDERS)
            subject_template, body_template = rng.choice(_TEMPLATES)
            number = rng.randint(2, 9999)
            sent_at = (
                (anchor - timedelta(seconds=age))
                .astimezone(timezone(timedelta(hours=utc_offset)))
                .replace(microsecond=0)
            )
            labels = [UNREAD] if index in unread_positions else []
            if rng.random() < 0.15:
                labels.append("STARRED")
            labels += ["CATEGORY_PERSONAL", INBOX]
            # About one message in four continues the thread of the next newer one.
            joins_thread = thread_of_previous is not None and rng.random() < 0.25
            thread_id = thread_of_previous if joins_thread and thread_of_previous else message_id
            messages.append(
                MailMessage(
                    id=message_id,
                    thread_id=thread_id,
                    label_ids=tuple(labels),
                    from_header=f"{name} <{sender}>",
                    to_header=address,
                    subject=subject_template.format(n=number, name=recipient_name),
                    sent_at=sent_at,
                    body=body_template.format(n=number, name=recipient_name),
                    history_id=100000 + count - index,
                )
            )
            thread_of_previous = thread_id
        # Gmail names a thread after its first (oldest) message.
        oldest_in_thread: dict[str, str] = {}
        for message in reversed(messages):
            oldest_in_thread.setdefault(message.thread_id, message.id)
        messages = [
            MailMessage(**{**message.__dict__, "thread_id": oldest_in_thread[message.thread_id]})
            for message in messages
        ]
        return cls(address, messages)


@dataclass(frozen=True)
class QueryTerm:
    operator: str | None  # None: a bare word or phrase
    value: str
    negated: bool = False

    def matches(self, message: MailMessage, now: datetime | None) -> bool:
        return self._test(message, now) != self.negated

    def _test(self, message: MailMessage, now: datetime | None) -> bool:
        value = self.value.casefold()
        if self.operator == "from":
            return value in message.from_header.casefold()
        if self.operator == "to":
            return value in message.to_header.casefold()
        if self.operator == "subject":
            return value in message.subject.casefold()
        if self.operator == "is":
            if value == "read":
                return not message.is_unread
            return _label_name(value) in message.label_ids
        if self.operator in ("in", "label"):
            return _label_name(value) in message.label_ids
        if self.operator in ("newer_than", "older_than"):
            age_limit = _parse_age(value)
            if age_limit is None or now is None:
                return False
            newer = message.sent_at > now - age_limit
            return newer if self.operator == "newer_than" else not newer
        haystack = " ".join(
            (message.subject, message.from_header, message.to_header, message.body)
        ).casefold()
        return value in haystack


def _label_name(value: str) -> str:
    return value.upper().replace("-", "_")


def _parse_age(value: str) -> timedelta | None:
    match = re.fullmatch(r"(\d+)([dmy])", value)
    if not match:
        return None
    days_per_unit = {"d": 1, "m": 30, "y": 365}[match.group(2)]
    return timedelta(days=int(match.group(1)) * days_per_unit)


def parse_query(query: str) -> list[QueryTerm]:
    """Gmail's search syntax, the subset the sandbox knows: every term must match (AND)."""
    terms: list[QueryTerm] = []
    for raw in _TOKEN.findall(query or ""):
        negated = raw.startswith("-") and len(raw) > 1
        token = raw[1:] if negated else raw
        operator: str | None = None
        if ":" in token and not token.startswith('"'):
            head, tail = token.split(":", 1)
            if head.lower() in _OPERATORS:
                operator, token = head.lower(), tail
        value = token.strip('"')
        if not value or (operator is None and value in ("AND",)):
            continue
        terms.append(QueryTerm(operator, value, negated))
    return terms
