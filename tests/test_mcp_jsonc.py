"""The minimal JSON / JSONC edits behind `sk mcp install`: layouts the fixture files do not
show (one-line objects, trailing commas, comments next to members, escapes), and a property:
on any document holding the servers object, installing then uninstalling gives back the
original bytes, and the installed document reads as the original plus the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalekit_cli.mcp import install
from scalekit_cli.mcp.jsonc import JsoncError, parse

ENTRY = {"command": "/opt/sk", "args": ["--sandbox", "mcp", "serve", "--user", "u"]}


def _config(text: str | None) -> install.ConfigFile:
    return install.ConfigFile(install.ConfigLocation(Path("/nowhere/mcp.json"), Path("/")), text)


def _round_trip(client_name: str, text: str) -> str:
    client = install.CLIENTS[client_name]
    installed = install.plan_install(_config(text), client, "scalekit", ENTRY).new_text
    assert installed is not None
    removed = install.plan_uninstall(_config(installed), client, "scalekit").new_text
    assert removed == text
    return installed


@pytest.mark.parametrize(
    ("client", "text", "installed"),
    [
        (
            "cursor",
            '{"mcpServers": {"a": {"command": "x"}}}',
            '{"mcpServers": {"a": {"command": "x"}, "scalekit": {"command": "/opt/sk", "args": '
            '["--sandbox", "mcp", "serve", "--user", "u"]}}}',
        ),
        (
            "vscode",
            '{\n  "inputs": [], // keep me here\n  "servers": {\n    "a": {"command": "x"}, // a\n'
            "  },\n}\n",
            '{\n  "inputs": [], // keep me here\n  "servers": {\n    "a": {"command": "x"}, // a\n'
            '    "scalekit": {\n      "command": "/opt/sk",\n      "args": [\n'
            '        "--sandbox",\n'
            '        "mcp",\n        "serve",\n        "--user",\n        "u"\n      ]\n    },\n'
            "  },\n}\n",
        ),
        (
            "cursor",
            '{\n  "mcpServers": {\n    "caf\\u00e9 \\"q\\"": {"command": "x"}\n  }\n}\n',
            '{\n  "mcpServers": {\n    "caf\\u00e9 \\"q\\"": {"command": "x"},\n    "scalekit": {\n'
            '      "command": "/opt/sk",\n      "args": [\n        "--sandbox",\n        "mcp",\n'
            '        "serve",\n        "--user",\n        "u"\n      ]\n    }\n  }\n}\n',
        ),
    ],
)
def test_layouts(client: str, text: str, installed: str) -> None:
    assert _round_trip(client, text) == installed


def test_a_root_with_only_a_comment_gets_the_servers_object() -> None:
    client = install.CLIENTS["vscode"]
    text = "{ /* nothing yet */ }\n"
    new = install.plan_install(_config(text), client, "scalekit", ENTRY).new_text
    assert new is not None and "/* nothing yet */" in new
    assert parse(new, comments=True).value == {"servers": {"scalekit": {**ENTRY}}}


def test_an_existing_entry_is_replaced_and_nothing_else_moves() -> None:
    client = install.CLIENTS["cursor"]
    text = '{\n  "mcpServers": {\n    "scalekit": {"command": "old"},\n    "b": {}\n  }\n}\n'
    new = install.plan_install(_config(text), client, "scalekit", ENTRY).new_text
    assert new is not None
    assert new.startswith('{\n  "mcpServers": {\n    "scalekit": {\n      "command": "/opt/sk",')
    assert new.endswith('    },\n    "b": {}\n  }\n}\n')


@pytest.mark.parametrize(
    ("text", "comments"),
    [
        ("{", False),
        ('{"a": 1,}', False),
        ('{"a": 1} x', False),
        ("// c\n{}", False),
        ('{"a": "\u0001"}', False),
        ('{"a": NaN}', True),
        ("{/* open", True),
        ('{"a" 1}', True),
    ],
)
def test_what_is_not_a_document_is_refused(text: str, comments: bool) -> None:
    with pytest.raises(JsoncError):
        parse(text, comments=comments)


_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.dictionaries(_names.filter(lambda n: n != "scalekit"), _values, max_size=4),
    others=st.dictionaries(_names.filter(lambda n: n != "mcpServers"), _values, max_size=3),
    indent=st.sampled_from([None, 2, 4, "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    servers_first=st.booleans(),
)
def test_install_then_uninstall_gives_back_any_document(
    servers: dict, others: dict, indent, newline: str, servers_first: bool
) -> None:
    document = (
        {"mcpServers": servers, **others} if servers_first else {**others, "mcpServers": servers}
    )
    text = json.dumps(document, indent=indent, ensure_ascii=False).replace("\n", newline)
    installed = _round_trip("cursor", text)
    assert json.loads(installed) == {**document, "mcpServers": {**servers, "scalekit": ENTRY}}


def test_string_values_are_found_with_their_place() -> None:
    text = '{"a": {"b": ["x", /* c */ "y"]}, "k": "v", "n": 1}'
    parsed = parse(text, comments=True)
    assert [(s.path, s.value) for s in parsed.strings] == [
        (("a", "b", 0), "x"),
        (("a", "b", 1), "y"),
        (("k",), "v"),
    ]
    assert all(text[s.start : s.end] == f'"{s.value}"' for s in parsed.strings)
