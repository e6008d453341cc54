"""The small JSON-Schema checker exec-tool runs before sending: right verdicts, first error,
field paths, and nothing rejected that it does not understand."""

from __future__ import annotations

import pytest

from scalekit_cli.schema_check import first_error, json_type

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


def test_what_it_does_not_understand_it_lets_through():
    # Only ever reject what the server would reject: unknown keywords and types are ignored.
    assert first_error({"anyOf": [{"type": "string"}]}, {"x": 1}) is None
    assert first_error({"$ref": "#/definitions/x"}, 5) is None
    assert first_error({"type": "custom"}, 5) is None
    assert first_error({"type": "string", "pattern": "^a$"}, "b") is None
    assert first_error({"type": "object", "properties": []}, {"x": 1}) is None
    assert first_error("not a schema", {"x": 1}) is None
    assert first_error({"type": "integer", "minimum": "1"}, 0) is None


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
