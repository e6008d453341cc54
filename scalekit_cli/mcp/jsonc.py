"""Minimal textual edits of JSON (and JSON with comments) documents.

An MCP client's configuration file is the user's: other servers, key order, indentation,
comments (VS Code's `mcp.json` is JSONC) must survive an install. So the file is not loaded
and dumped again: it is scanned once, recording where each object member's key and value
lie, and only the bytes of one member are inserted, replaced or removed. The caller parses
the result again and compares it with what it meant to write (`apply_member`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 200
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class JsoncError(ValueError):
    """The text is not a document of the expected format; says where."""


@dataclass
class Member:
    key: str
    key_start: int  # offset of the key's opening quote
    value_start: int
    value_end: int  # exclusive
    comma: int | None = None  # offset of the comma after the value, if any


@dataclass
class ObjectSpan:
    start: int  # offset of `{`
    end: int  # offset just after `}`
    members: list[Member] = field(default_factory=list)

    def member(self, key: str) -> Member | None:
        found = [member for member in self.members if member.key == key]
        return found[-1] if found else None  # the last one wins, as in every JSON reader


@dataclass(frozen=True)
class StringValue:
    """A string value (not a member name) and where it sits: its span in the text and the
    keys and indexes leading to it, so a reader can mask it by what it is."""

    start: int  # offset of the opening quote
    end: int  # exclusive
    path: tuple[str | int, ...]
    value: str


@dataclass
class Parsed:
    value: Any
    objects: dict[int, ObjectSpan]  # every object of the document, by its `{` offset
    strings: list[StringValue] = field(default_factory=list)  # in document order

    @property
    def root(self) -> ObjectSpan | None:
        return self.objects.get(min(self.objects)) if self.objects else None


class _Scanner:
    def __init__(self, text: str, comments: bool) -> None:
        self.text = text
        self.comments = comments
        self.objects: dict[int, ObjectSpan] = {}
        self.strings: list[StringValue] = []

    def fail(self, position: int, what: str) -> JsoncError:
        line = self.text.count("\n", 0, position) + 1
        column = position - (self.text.rfind("\n", 0, position) + 1) + 1
        return JsoncError(f"{what} at line {line}, column {column}")

    def skip(self, position: int) -> int:
        text = self.text
        while position < len(text):
            char = text[position]
            if char in " \t\n\r":
                position += 1
            elif char == "/" and self.comments and text.startswith("//", position):
                newline = text.find("\n", position)
                position = len(text) if newline < 0 else newline
            elif char == "/" and self.comments and text.startswith("/*", position):
                close = text.find("*/", position + 2)
                if close < 0:
                    raise self.fail(position, "unterminated comment")
                position = close + 2
            else:
                break
        return position

    def value(self, position: int, depth: int, path: tuple[str | int, ...] = ()) -> tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise self.fail(position, "nesting too deep")
        text = self.text
        if position >= len(text):
            raise self.fail(position, "unexpected end of the document")
        char = text[position]
        if char == "{":
            return self.object(position, depth, path)
        if char == "[":
            return self.array(position, depth, path)
        if char == '"':
            found, end = self.string(position)
            self.strings.append(StringValue(position, end, path, found))
            return found, end
        for literal, value in _LITERALS.items():
            if text.startswith(literal, position):
                return value, position + len(literal)
        match = _NUMBER.match(text, position)
        if match:
            return json.loads(match.group(0)), match.end()
        raise self.fail(position, f"unexpected {char!r}")

    def string(self, position: int) -> tuple[str, int]:
        text = self.text
        cursor = position + 1
        while cursor < len(text):
            char = text[cursor]
            if char == '"':
                try:
                    return json.loads(text[position : cursor + 1]), cursor + 1
                except ValueError:
                    raise self.fail(position, "invalid string") from None
            if char == "\\":
                cursor += 2
                continue
            if char < " ":
                raise self.fail(cursor, "control character in a string")
            cursor += 1
        raise self.fail(position, "unterminated string")

    def _after_item(self, position: int, close: str) -> tuple[int | None, int, bool]:
        """After an item: (comma offset or None, next position, whether the container ends)."""
        position = self.skip(position)
        if position < len(self.text) and self.text[position] == ",":
            comma = position
            position = self.skip(position + 1)
            if position < len(self.text) and self.text[position] == close:
                if not self.comments:
                    raise self.fail(comma, "trailing comma")
                return comma, position + 1, True
            return comma, position, False
        if position < len(self.text) and self.text[position] == close:
            return None, position + 1, True
        raise self.fail(position, f"expected ',' or {close!r}")

    def object(
        self, start: int, depth: int, path: tuple[str | int, ...]
    ) -> tuple[dict[str, Any], int]:
        span = ObjectSpan(start, start)
        self.objects[start] = span
        value: dict[str, Any] = {}
        position = self.skip(start + 1)
        if position < len(self.text) and self.text[position] == "}":
            span.end = position + 1
            return value, span.end
        while True:
            if position >= len(self.text) or self.text[position] != '"':
                raise self.fail(position, "expected a member name")
            key, after_key = self.string(position)
            colon = self.skip(after_key)
            if colon >= len(self.text) or self.text[colon] != ":":
                raise self.fail(colon, "expected ':'")
            value_start = self.skip(colon + 1)
            item, value_end = self.value(value_start, depth + 1, (*path, key))
            value[key] = item
            member = Member(key, position, value_start, value_end)
            span.members.append(member)
            member.comma, position, done = self._after_item(value_end, "}")
            if done:
                span.end = position
                return value, position

    def array(self, start: int, depth: int, path: tuple[str | int, ...]) -> tuple[list[Any], int]:
        items: list[Any] = []
        position = self.skip(start + 1)
        if position < len(self.text) and self.text[position] == "]":
            return items, position + 1
        while True:
            item, end = self.value(position, depth + 1, (*path, len(items)))
            items.append(item)
            _, position, done = self._after_item(end, "]")
            if done:
                return items, position


def parse(text: str, *, comments: bool) -> Parsed:
    """Scan a whole document; `comments` allows `//` and `/* */` comments and trailing commas
    (JSONC, as VS Code reads it)."""
    scanner = _Scanner(text, comments)
    start = scanner.skip(0)
    value, end = scanner.value(start, 0)
    if scanner.skip(end) != len(text):
        raise scanner.fail(scanner.skip(end), "unexpected text after the document")
    return Parsed(value, scanner.objects, scanner.strings)


# --- layout --------------------------------------------------------------------------------


def _line_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


def _indent_of_line(text: str, position: int) -> str:
    start = _line_start(text, position)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _starts_its_line(text: str, position: int) -> bool:
    return text[_line_start(text, position) : position].strip(" \t") == ""


def _rest_of_line_is_blank(text: str, position: int, comments: bool) -> int | None:
    """Where the line ends (the offset of its newline) when only blanks or a line comment
    follow `position` on it; else None."""
    newline = text.find("\n", position)
    end = len(text) if newline < 0 else newline
    rest = text[position:end].strip(" \t\r")
    if rest == "" or (comments and rest.startswith("//")):
        return end
    return None


@dataclass
class Layout:
    """How the document is laid out: its indentation unit and line ending."""

    unit: str = "  "
    newline: str = "\n"

    @classmethod
    def of(cls, text: str, parsed: Parsed | None) -> Layout:
        layout = cls(newline="\r\n" if "\r\n" in text else "\n")
        root = parsed.root if parsed is not None else None
        if root is not None and root.members and not _starts_on_line_of(text, root):
            indent = _indent_of_line(text, root.members[0].key_start)
            if indent:
                layout.unit = indent
        return layout

    def render(self, value: Any, indent: str) -> str:
        unit: str | int = self.unit
        text = json.dumps(value, indent=unit, ensure_ascii=False)
        return text.replace("\n", self.newline + indent)


def _starts_on_line_of(text: str, span: ObjectSpan) -> bool:
    first = span.members[0].key_start
    return "\n" not in text[span.start : first]


def _member_indent(text: str, span: ObjectSpan, layout: Layout) -> str:
    if span.members and _starts_its_line(text, span.members[0].key_start):
        return _indent_of_line(text, span.members[0].key_start)
    return _indent_of_line(text, span.start) + layout.unit


# --- edits ---------------------------------------------------------------------------------


def set_member(
    text: str, span: ObjectSpan, key: str, value: Any, layout: Layout, *, comments: bool
) -> str:
    """`text` with member `key` of the object at `span` set to `value`: its value replaced
    if present, else a new last member; nothing else moves."""
    indent = _member_indent(text, span, layout)
    existing = span.member(key)
    if existing is not None:
        rendered = layout.render(value, _indent_of_line(text, existing.key_start))
        return text[: existing.value_start] + rendered + text[existing.value_end :]
    member = f"{json.dumps(key, ensure_ascii=False)}: {layout.render(value, indent)}"
    if not span.members:
        inside = text[span.start + 1 : span.end - 1]
        closing = _indent_of_line(text, span.start)
        if inside.strip(" \t\r\n") == "":
            body = f"{layout.newline}{indent}{member}{layout.newline}{closing}"
            return text[: span.start + 1] + body + text[span.end - 1 :]
        return text[: span.start + 1] + f"{layout.newline}{indent}{member}" + text[span.start + 1 :]
    last = span.members[-1]
    if last.comma is not None:
        # A trailing comma (JSONC): keep the style, the new member gets one too.
        anchor, before, after = last.comma + 1, "", ","
    else:
        anchor, before, after = last.value_end, ",", ""
    line_end = _rest_of_line_is_blank(text, anchor, comments)
    if line_end is not None and _starts_its_line(text, last.key_start):
        if line_end > 0 and text[line_end - 1] == "\r":
            line_end -= 1
        inserted = f"{layout.newline}{indent}{member}{after}"
        return text[:anchor] + before + text[anchor:line_end] + inserted + text[line_end:]
    # A one-line object stays on one line.
    compact = f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}"
    return text[:anchor] + f"{before} {compact}{after}" + text[anchor:]


def remove_member(text: str, span: ObjectSpan, key: str) -> str:
    """`text` without member `key` of the object at `span` (and the comma that separated it)."""
    member = span.member(key)
    if member is None:
        return text
    index = span.members.index(member)
    if len(span.members) == 1 and member.comma is None:
        inside = text[span.start + 1 : member.key_start] + text[member.value_end : span.end - 1]
        if inside.strip(" \t\r\n") == "":
            return text[: span.start + 1] + text[span.end - 1 :]
    if member.comma is not None:
        start = member.key_start
        end = member.comma + 1
        if _starts_its_line(text, member.key_start):
            line_end = _rest_of_line_is_blank(text, end, False)
            if line_end is not None:
                start = _line_start(text, member.key_start)
                end = min(line_end + 1, len(text))
        else:
            while end < len(text) and text[end] in " \t":
                end += 1
        return text[:start] + text[end:]
    previous = span.members[index - 1]
    assert previous.comma is not None
    return text[: previous.comma] + text[member.value_end :]
