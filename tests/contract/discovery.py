"""Strict validation against Google's Gmail discovery document.

Discovery schemas are not JSON Schema: `$ref` names another schema by its id, `type: any`
means anything, and 64-bit integers travel as strings with a `format`. They are converted
here into one JSON Schema document with `$defs`, tightened like the OpenAPI schemas (an
object schema with `properties` gets `additionalProperties: false`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from scalekit_cli.sandbox.contract import GMAIL_DISCOVERY_PATH as DISCOVERY_PATH

from .formats import strict_format_checker

# Google's JSON error envelope (AIP-193 / the v1 error format) for 4xx answers.
GOOGLE_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string", "minLength": 1},
                "status": {"type": "string", "pattern": "^[A-Z_]+$"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["message", "domain", "reason"],
                        "additionalProperties": False,
                        "properties": {
                            "message": {"type": "string"},
                            "domain": {"type": "string"},
                            "reason": {"type": "string"},
                            "location": {"type": "string"},
                            "locationType": {"type": "string"},
                        },
                    },
                },
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
# google.rpc.Code names for the statuses the Gmail API answers with.
GOOGLE_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                       404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}  # fmt: skip


@cache
def load_discovery() -> dict[str, Any]:
    if not DISCOVERY_PATH.is_file():
        pytest.fail(
            f"the Gmail discovery document is missing: expected {DISCOVERY_PATH} "
            "(run `make contract`)",
            pytrace=False,
        )
    return json.loads(DISCOVERY_PATH.read_text(encoding="utf-8"))


def convert(schema: dict[str, Any]) -> dict[str, Any]:
    """One discovery schema as strict JSON Schema (refs point at `#/$defs/<id>`)."""
    if "$ref" in schema:
        return {"$ref": f"#/$defs/{schema['$ref']}"}
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if kind and kind != "any":
        out["type"] = kind
    if "format" in schema:
        out["format"] = schema["format"]
    if "enum" in schema:
        out["enum"] = list(schema["enum"])
    if "items" in schema:
        out["items"] = convert(schema["items"])
    if "properties" in schema:
        out["properties"] = {name: convert(sub) for name, sub in schema["properties"].items()}
        out["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        # A map type: values follow the schema, keys are free.
        out["additionalProperties"] = convert(schema["additionalProperties"])
    return out


@cache
def json_schema_defs() -> dict[str, Any]:
    return {name: convert(schema) for name, schema in load_discovery()["schemas"].items()}


def validate_gmail(schema_name: str, body: Any, what: str = "") -> None:
    """Validate a Gmail answer against a discovery schema (e.g. `Message`), strictly."""
    defs = json_schema_defs()
    assert schema_name in defs, f"no schema {schema_name!r} in the discovery document"
    root = {"$defs": defs, "$ref": f"#/$defs/{schema_name}"}
    validator = Draft202012Validator(root, format_checker=strict_format_checker())
    errors = list(validator.iter_errors(body))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:12]]
        pytest.fail(
            f"{what or schema_name} does not conform to the Gmail discovery schema "
            f"{schema_name} (strict):\n"
            + "\n".join(lines)
            + f"\n  body: {json.dumps(body, ensure_ascii=False)[:1500]}",
            pytrace=False,
        )


def validate_google_error(status: int, body: Any, what: str = "Gmail error") -> None:
    validator = Draft202012Validator(GOOGLE_ERROR_SCHEMA)
    errors = list(validator.iter_errors(body))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
        pytest.fail(
            f"{what} is not Google's error shape:\n" + "\n".join(lines) + f"\n  body: {body}",
            pytrace=False,
        )
    assert body["error"]["code"] == status, (
        f"{what}: error.code {body['error']['code']} != {status}"
    )
    if status in GOOGLE_STATUS_NAMES:
        assert body["error"]["status"] == GOOGLE_STATUS_NAMES[status], (
            f"{what}: error.status should be {GOOGLE_STATUS_NAMES[status]}, "
            f"got {body['error']['status']}"
        )


def method(resource_path: str, name: str) -> dict[str, Any]:
    """A discovery method, e.g. method("users.messages", "list")."""
    node: dict[str, Any] = load_discovery()
    for part in resource_path.split("."):
        node = node["resources"][part]
    return node["methods"][name]


def validate_gmail_query(resource_path: str, name: str, params: list[tuple[str, str]]) -> None:
    """The tests send only parameters the discovery method (or the API's globals) names."""
    declared = dict(load_discovery().get("parameters", {}))
    declared.update(method(resource_path, name).get("parameters", {}))
    seen: set[str] = set()
    for key, value in params:
        assert key in declared and declared[key].get("location") == "query", (
            f"{resource_path}.{name} has no query parameter {key!r}"
        )
        if key in seen:
            assert declared[key].get("repeated"), f"{key!r} is not repeatable"
        seen.add(key)
        if "enum" in declared[key]:
            assert value in declared[key]["enum"], f"{key}={value!r} is not one of its enum"
