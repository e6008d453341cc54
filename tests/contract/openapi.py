"""Strict validation against Scalekit's AgentKit OpenAPI document.

The vendor's schemas never say `additionalProperties: false`, so a stand-in that invents a
field (or renames one) would still pass a plain validation. Every object schema that lists
`properties` is therefore tightened in a copy of the document, and answers are validated
against that copy. Requests are validated against a second copy in which, in addition,
`readOnly` properties are removed: a client never sends those.

Error answers whose schema the document leaves empty (`{}`) are checked against the gateway
error body and the gRPC code to HTTP status mapping stated in CONTRACT.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Iterable, Mapping
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# The copies the project ships (`make contract` refreshes them from ../shared).
from scalekit_cli.sandbox.contract import OPENAPI_PATH

from .formats import strict_format_checker

STRICT_RESPONSE_URI = "urn:scalekit:agentkit:strict-response"
STRICT_REQUEST_URI = "urn:scalekit:agentkit:strict-request"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# CONTRACT.md, "Wire conventions": HTTP status follows the gRPC code.
GRPC_TO_HTTP: dict[int, int] = {
    3: 400, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 13: 500, 14: 503, 16: 401,
}  # fmt: skip
ERROR_INFO_TYPE = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"

GATEWAY_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "details"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "integer", "enum": sorted(GRPC_TO_HTTP)},
        "message": {"type": "string", "minLength": 1},
        "details": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["@type", "error_code"],
                "additionalProperties": False,
                "properties": {
                    "@type": {"const": ERROR_INFO_TYPE},
                    "error_code": {"type": "string", "minLength": 1},
                    # ErrorInfo.validation_error_info (scalekit/v1/errdetails): broken rules.
                    "validation_error_info": {
                        "type": "object",
                        "required": ["field_violations"],
                        "additionalProperties": False,
                        "properties": {
                            "field_violations": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["field", "description", "constraint"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "field": {"type": "string"},
                                        "description": {"type": "string", "minLength": 1},
                                        "constraint": {"type": "string", "minLength": 1},
                                    },
                                },
                            }
                        },
                    },
                },
            },
        },
    },
}

# CONTRACT.md, "Authentication": the answer of POST /oauth/token (not in the OpenAPI paths).
TOKEN_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "additionalProperties": False,
    "properties": {
        "access_token": {"type": "string", "minLength": 1},
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer", "minimum": 1},
        "scope": {"type": "string"},
    },
}

# RFC 6749 section 5.2, which CONTRACT.md names for /oauth/token failures.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
            ]
        },
        "error_description": {"type": "string"},
        "error_uri": {"type": "string"},
    },
}

# Keywords whose value is a schema, a list of schemas, or a map of name to schema.
_SUBSCHEMA_KEYS = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_SUBSCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAP_KEYS = ("properties", "patternProperties", "$defs", "dependentSchemas")


@cache
def load_document() -> dict[str, Any]:
    """The vendor's document, as the project ships it."""
    if not OPENAPI_PATH.is_file():
        pytest.fail(
            f"the AgentKit OpenAPI document is missing: expected {OPENAPI_PATH} "
            "(the contract tests validate every answer against it; run `make contract`)",
            pytrace=False,
        )
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


def tighten(schema: Any, *, for_request: bool) -> None:
    """In place: forbid properties the schema does not name, in every nested object schema."""
    if not isinstance(schema, dict):
        return
    for key in _SUBSCHEMA_KEYS:
        if isinstance(schema.get(key), dict):
            tighten(schema[key], for_request=for_request)
    for key in _SUBSCHEMA_LIST_KEYS:
        for sub in schema.get(key, []):
            tighten(sub, for_request=for_request)
    for key in _SUBSCHEMA_MAP_KEYS:
        if isinstance(schema.get(key), dict):
            for sub in schema[key].values():
                tighten(sub, for_request=for_request)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        if for_request:
            # A read-only property is the server's to set; a request carrying one is wrong.
            read_only = [
                n for n, p in properties.items() if isinstance(p, dict) and p.get("readOnly")
            ]
            for name in read_only:
                del properties[name]
        schema.setdefault("additionalProperties", False)


def _schema_locations(document: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Every schema object of the document: components, bodies and parameters."""
    yield from document.get("components", {}).get("schemas", {}).values()
    for item in document.get("paths", {}).values():
        for method in HTTP_METHODS:
            op = item.get(method)
            if not op:
                continue
            for parameter in op.get("parameters", []):
                if "schema" in parameter:
                    yield parameter["schema"]
            for media in op.get("requestBody", {}).get("content", {}).values():
                if "schema" in media:
                    yield media["schema"]
            for response in op.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if "schema" in media:
                        yield media["schema"]


@cache
def strict_document(for_request: bool) -> dict[str, Any]:
    document = copy.deepcopy(load_document())
    for schema in _schema_locations(document):
        tighten(schema, for_request=for_request)
    return document


@cache
def _registry() -> Registry:
    resources = [
        (STRICT_RESPONSE_URI, strict_document(False)),
        (STRICT_REQUEST_URI, strict_document(True)),
    ]
    return Registry().with_resources(
        (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
        for uri, doc in resources
    )


def _pointer(*segments: str) -> str:
    return "/" + "/".join(s.replace("~", "~0").replace("/", "~1") for s in segments)


def _validate(schema_uri: str, pointer: str, instance: Any, what: str) -> None:
    validator = Draft202012Validator(
        {"$ref": f"{schema_uri}#{pointer}"},
        registry=_registry(),
        format_checker=strict_format_checker(),
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:12]]
        pytest.fail(
            f"{what} does not conform to the AgentKit OpenAPI document (strict):\n"
            + "\n".join(lines)
            + f"\n  body: {json.dumps(instance, ensure_ascii=False)[:1500]}",
            pytrace=False,
        )


def validate_with(schema: Mapping[str, Any], instance: Any, what: str) -> None:
    """Validate against a standalone schema (the CONTRACT.md shapes), formats included."""
    validator = Draft202012Validator(schema, format_checker=strict_format_checker())
    errors = list(validator.iter_errors(instance))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:12]]
        pytest.fail(
            f"{what} has the wrong shape:\n"
            + "\n".join(lines)
            + f"\n  body: {json.dumps(instance, ensure_ascii=False)[:1500]}",
            pytrace=False,
        )


def operation(method: str, path_template: str) -> dict[str, Any]:
    paths = load_document()["paths"]
    if path_template not in paths or method.lower() not in paths[path_template]:
        pytest.fail(f"{method.upper()} {path_template} is not an operation of the document")
    return paths[path_template][method.lower()]


def validate_gateway_error(status: int, body: Any, what: str = "error answer") -> None:
    """CONTRACT.md: {code, message, details: [ErrorInfo]}, and the status follows the code."""
    validate_with(GATEWAY_ERROR_SCHEMA, body, f"{what} (gateway error body)")
    expected = GRPC_TO_HTTP[body["code"]]
    assert status == expected, (
        f"{what}: gRPC code {body['code']} must travel as HTTP {expected}, got {status}"
    )


def validate_response(
    method: str,
    path_template: str,
    status: int,
    body: Any,
    *,
    undocumented_ok: Collection[int] = (),
) -> None:
    """The status must be one the operation documents, and the body must match its schema.

    `undocumented_ok` names error statuses a test expects although the operation does not
    list them (each use says why); such answers must still be gateway errors.
    """
    op = operation(method, path_template)
    what = f"{method.upper()} {path_template} -> {status}"
    responses = op.get("responses", {})
    if str(status) not in responses and status in undocumented_ok and status >= 400:
        validate_gateway_error(status, body, what)
        return
    if str(status) not in responses:
        pytest.fail(
            f"{what}: the document lists only {sorted(responses)} for this operation",
            pytrace=False,
        )
    media = responses[str(status)].get("content", {}).get("application/json")
    schema = media.get("schema") if media else None
    if not schema:
        if status >= 400:
            validate_gateway_error(status, body, what)
        # A success answer with the free schema `{}` (e.g. :delete) has nothing to check here.
        return
    pointer = _pointer(
        "paths", path_template, method.lower(), "responses", str(status),
        "content", "application/json", "schema",
    )  # fmt: skip
    _validate(STRICT_RESPONSE_URI, pointer, body, what)


def validate_request(method: str, path_template: str, body: Any) -> None:
    """What the tests send must use only the fields the request schema names."""
    op = operation(method, path_template)
    what = f"request body of {method.upper()} {path_template}"
    media = op.get("requestBody", {}).get("content", {}).get("application/json")
    if media is None:
        assert body is None, f"{what}: the operation takes no JSON body"
        return
    pointer = _pointer(
        "paths", path_template, method.lower(), "requestBody", "content", "application/json",
        "schema",
    )  # fmt: skip
    _validate(STRICT_REQUEST_URI, pointer, body, what)


def validate_query(
    method: str, path_template: str, params: Iterable[tuple[str, str]] | None
) -> None:
    """Query parameters must be named by the operation, typed as it says."""
    op = operation(method, path_template)
    declared = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
    seen: set[str] = set()
    for name, value in params or ():
        assert name in declared, (
            f"{method.upper()} {path_template} has no query parameter {name!r}; "
            f"it names {sorted(declared)}"
        )
        schema = declared[name].get("schema", {})
        if name in seen:
            assert schema.get("type") == "array", f"{name!r} is not a repeatable parameter"
        seen.add(name)
        kind = schema.get("type")
        if kind == "integer":
            assert str(value).lstrip("-").isdigit(), f"{name!r} must be an integer: {value!r}"
        elif kind == "boolean":
            assert str(value) in ("true", "false"), f"{name!r} must be a boolean: {value!r}"


def validate_token_response(body: Any) -> None:
    validate_with(TOKEN_RESPONSE_SCHEMA, body, "POST /oauth/token answer")


def validate_oauth_error(status: int, body: Any) -> None:
    assert status in (400, 401), f"/oauth/token failures are 400 or 401, got {status}"
    validate_with(OAUTH_ERROR_SCHEMA, body, "POST /oauth/token error")


def grpc_code(body: Any) -> int:
    assert isinstance(body, dict) and isinstance(body.get("code"), int), body
    return body["code"]
