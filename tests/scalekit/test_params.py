"""The tool-parameter checker (on jsonschema) that exec-tool, the MCP server and the sandbox
share: right verdicts, the first error as one line naming the field, jsonschema loaded only
when a check runs, and nothing rejected when the schema itself is not one to apply."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scalekit_cli.scalekit.params import first_error, json_type

# Schemas shaped like the catalogue's, closed to unknown names (as tools that act are).
FETCH = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "max_results": {"type": "integer", "minimum": 1, "maximum": 500},
        "page_token": {"type": "string"},
        "label_ids": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
SLACK = {
    "type": "object",
    "properties": {
        "channel": {"type": "string", "minLength": 1},
        "text": {"type": "string", "minLength": 1},
    },
    "required": ["channel", "text"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"max_results": "5"}, "params.max_results: expected integer, got string"),
        ({"max_results": True}, "params.max_results: expected integer, got boolean"),
        ({"max_results": 2.5}, "params.max_results: expected integer, got number"),
        ({"max_results": 0}, "params.max_results: must be at least 1, got 0"),
        ({"max_results": 501}, "params.max_results: must be at most 500, got 501"),
        ({"query": None}, "params.query: expected string, got null"),
        ({"label_ids": "INBOX"}, "params.label_ids: expected array, got string"),
        ({"label_ids": ["INBOX", 7]}, "params.label_ids[1]: expected string, got integer"),
        (
            {"max_result": 5},
            "params.max_result: not a parameter of this tool; did you mean max_results?",
        ),
    ],
)
def test_the_first_error_names_the_field(params, error):
    assert first_error(FETCH, params) == error


def test_fitting_params_pass():
    assert first_error(FETCH, {}) is None
    assert first_error(FETCH, {"query": "is:unread", "max_results": 5, "label_ids": []}) is None
    assert first_error(FETCH, {"max_results": 5.0}) is None  # an integer, in JSON Schema's eyes
    assert first_error(SLACK, {"channel": "#general", "text": "hi"}) is None


def test_required_and_length():
    assert first_error(SLACK, {"text": "hi"}) == "params.channel: required, but missing"
    assert first_error(SLACK, {"channel": "", "text": "hi"}) == "params.channel: must not be empty"


def test_unknown_names_are_listed_when_nothing_is_close():
    error = first_error(FETCH, {"zzz": 1})
    assert error == (
        "params.zzz: not a parameter of this tool; "
        "it takes: label_ids, max_results, page_token, query"
    )
    empty = {"type": "object", "properties": {}, "additionalProperties": False}
    assert first_error(empty, {"x": 1}) == "params.x: not a parameter of this tool; it takes none"


def test_enum_const_type_lists_and_exclusive_bounds():
    schema = {
        "type": "object",
        "properties": {
            "order": {"enum": ["asc", "desc"]},
            "version": {"const": 2},
            "limit": {"type": ["integer", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 10},
            "tags": {"type": "array", "minItems": 1, "maxItems": 2},
            "name": {"type": "string", "maxLength": 3},
        },
    }
    assert first_error(schema, {"order": "up"}) == (
        'params.order: expected one of "asc", "desc", got "up"'
    )
    assert first_error(schema, {"version": 3}) == "params.version: expected 2, got 3"
    assert first_error(schema, {"limit": None}) is None
    assert first_error(schema, {"limit": "1"}) == (
        "params.limit: expected integer or null, got string"
    )
    assert first_error(schema, {"limit": 0}) == "params.limit: must be greater than 0, got 0"
    assert first_error(schema, {"limit": 10}) == "params.limit: must be less than 10, got 10"
    assert first_error(schema, {"tags": []}) == "params.tags: needs at least 1 item, got 0"
    assert first_error(schema, {"tags": [1, 2, 3]}) == "params.tags: takes at most 2 items, got 3"
    assert first_error(schema, {"name": "abcd"}) == "params.name: takes at most 3 characters, got 4"
    # No additionalProperties: anything else is allowed.
    assert first_error(schema, {"other": object()}) is None


def test_nested_objects_and_additional_property_schemas():
    schema = {
        "type": "object",
        "properties": {
            "filter": {
                "type": "object",
                "properties": {"from": {"type": "string"}},
                "required": ["from"],
                "additionalProperties": {"type": "integer"},
            }
        },
    }
    assert first_error(schema, {"filter": {}}) == "params.filter.from: required, but missing"
    assert first_error(schema, {"filter": {"from": "a", "n": 1}}) is None
    assert first_error(schema, {"filter": {"from": "a", "n": "1"}}) == (
        "params.filter.n: expected integer, got string"
    )


def test_a_schema_jsonschema_cannot_apply_lets_everything_through():
    # Only ever reject what the server would reject: a broken schema is the server's business.
    assert first_error({"$ref": "#/definitions/x"}, 5) is None
    assert first_error({"type": "custom"}, 5) is None
    assert first_error({"type": "object", "properties": []}, {"x": 1}) is None
    assert first_error("not a schema", {"x": 1}) is None
    assert first_error({"type": "integer", "minimum": "1"}, 0) is None


def test_the_whole_of_json_schema_is_checked():
    # Keywords the hand-written subset let through are jsonschema's to judge now.
    assert first_error({"type": "string", "pattern": "^a$"}, "b") == (
        'params: must match "^a$", got "b"'
    )
    either = {"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}]}}}
    assert first_error(either, {"x": 1}) == "params.x: expected string, got integer"
    defs = {
        "$defs": {"n": {"type": "integer"}},
        "type": "object",
        "properties": {"n": {"$ref": "#/$defs/n"}},
    }
    assert first_error(defs, {"n": "1"}) == "params.n: expected integer, got string"
    assert first_error(defs, {"n": 1}) is None


def test_formats_are_checked_only_where_well_defined():
    schema = {
        "type": "object",
        "properties": {
            "day": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "at": {"type": "string", "format": "date-time"},
        },
    }
    assert first_error(schema, {"day": "2025-02-30"}) == (
        'params.day: expected a date, got "2025-02-30"'
    )
    assert first_error(schema, {"id": "nope"}) == 'params.id: expected a uuid, got "nope"'
    assert (
        first_error(schema, {"day": "2025-02-28", "id": str(__import__("uuid").UUID(int=1))})
        is None
    )
    # date-time depends on optional packages in jsonschema: left to the server.
    assert first_error(schema, {"at": "soon"}) is None


def test_the_draft_a_schema_declares_is_used():
    # Draft 4's exclusiveMaximum is a boolean beside maximum; 2020-12 would reject the schema.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "integer",
        "maximum": 10,
        "exclusiveMaximum": True,
    }
    assert first_error(draft4, 10) == "params: must be less than 10, got 10"
    assert first_error(draft4, 9) is None


def test_unknown_names_close_only_when_asked():
    open_schema = {"type": "object", "properties": {"channel": {"type": "string"}}}
    assert first_error(open_schema, {"chanel": "x"}) is None
    assert first_error(open_schema, {"chanel": "x"}, unknown_properties=True) == (
        "params.chanel: not a parameter of this tool; did you mean channel?"
    )
    invited = {**open_schema, "additionalProperties": True}
    assert first_error(invited, {"chanel": "x"}, unknown_properties=True) is None


def test_a_typo_is_told_before_the_missing_field_it_stands_for():
    assert first_error(SLACK, {"chanel": "#g", "text": "hi"}) == (
        "params.chanel: not a parameter of this tool; did you mean channel?"
    )


def test_odd_field_names_stay_on_one_short_line():
    error = first_error(FETCH, {"a\nb" + "x" * 500: 1})
    assert error is not None and "\n" not in error and len(error) < 200, error


def test_importing_the_checker_does_not_load_jsonschema():
    code = (
        "import sys, scalekit_cli.scalekit.params as p; "
        "assert 'jsonschema' not in sys.modules; "
        "p.first_error({'type': 'string'}, 1); "
        "assert 'jsonschema' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_json_type_names():
    assert [json_type(v) for v in (None, True, 1, 1.5, "s", [], {})] == [
        "null",
        "boolean",
        "integer",
        "number",
        "string",
        "array",
        "object",
    ]


SECRET_CANARY = "ghp_SECRETSECRET123"


@pytest.mark.parametrize(
    ("schema", "params", "error"),
    [
        # A secret-looking name: a pattern, an enum, a const, a bound, a jsonschema-worded rule.
        (
            {"properties": {"api_token": {"type": "string", "pattern": "^sk_"}}},
            {"api_token": SECRET_CANARY},
            'params.api_token: must match "^sk_", got a string of length 19 (not shown: it '
            "looks secret)",
        ),
        (
            {"properties": {"clientSecret": {"enum": ["a", "b"]}}},
            {"clientSecret": SECRET_CANARY},
            'params.clientSecret: expected one of "a", "b", got a string of length 19 (not '
            "shown: it looks secret)",
        ),
        (
            {"properties": {"auth": {"properties": {"value": {"const": "x"}}}}},
            {"auth": {"value": SECRET_CANARY}},
            'params.auth.value: expected "x", got a string of length 19 (not shown: it looks '
            "secret)",
        ),
        (
            {"properties": {"password": {"not": {"pattern": "^ghp_"}}}},
            {"password": SECRET_CANARY},
            "params.password: breaks the schema's 'not' rule, got a string of length 19 (not "
            "shown: it looks secret)",
        ),
        (
            {"properties": {"pin_password": {"type": "integer", "maximum": 3}}},
            {"pin_password": 123456789},
            "params.pin_password: must be at most 3, got an integer (not shown: it looks secret)",
        ),
        # The schema says so, whatever the name.
        (
            {"properties": {"value": {"type": "string", "writeOnly": True, "pattern": "^x"}}},
            {"value": SECRET_CANARY},
            'params.value: must match "^x", got a string of length 19 (not shown: it looks secret)',
        ),
        (
            {"properties": {"value": {"type": "string", "format": "password", "enum": ["x"]}}},
            {"value": SECRET_CANARY},
            'params.value: expected one of "x", got a string of length 19 (not shown: it looks '
            "secret)",
        ),
        # Type and length were never the secret: told as before.
        (
            {"properties": {"api_key": {"type": "integer"}}},
            {"api_key": SECRET_CANARY},
            "params.api_key: expected integer, got string",
        ),
        (
            {"properties": {"api_key": {"type": "string", "maxLength": 4}}},
            {"api_key": SECRET_CANARY},
            "params.api_key: takes at most 4 characters, got 19",
        ),
    ],
)
def test_a_secret_value_is_described_by_type_and_length_only(schema, params, error):
    assert first_error(schema, params) == error


def test_an_ordinary_value_is_still_quoted():
    """`max_tokens`, `keyword` and a page token (a cursor) are not secret names: their
    values help the user."""
    schema = {"properties": {"keyword": {"pattern": "^a"}, "max_tokens": {"enum": ["1"]}}}
    assert first_error(schema, {"keyword": "bcd"}) == 'params.keyword: must match "^a", got "bcd"'
    assert first_error(schema, {"max_tokens": "2"}) == (
        'params.max_tokens: expected one of "1", got "2"'
    )
    cursor = {"properties": {"nextPageToken": {"pattern": "^a"}}}
    assert first_error(cursor, {"nextPageToken": "b"}) == (
        'params.nextPageToken: must match "^a", got "b"'
    )
