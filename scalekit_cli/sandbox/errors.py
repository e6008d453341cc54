"""Error values of the sandbox and the two wire shapes they travel in.

The AgentKit gateway answers `{"code", "message", "details"}` with the HTTP status that
grpc-gateway derives from the gRPC code; Google's APIs answer `{"error": {...}}`.
Pure data: no Starlette here, so the engine can raise these without importing a web stack.
"""

from __future__ import annotations

from typing import Any

# gRPC code -> HTTP status, as grpc-gateway maps them (CONTRACT.md lists the ones used).
GRPC_TO_HTTP = {
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    12: 501,
    13: 500,
    14: 503,
    16: 401,
}

# The reverse, for faults that name an HTTP status and need a plausible gateway body.
HTTP_TO_GRPC = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    409: 6,
    429: 8,
    500: 13,
    501: 12,
    502: 14,
    503: 14,
    504: 14,  # DEADLINE_EXCEEDED (4) would be exact, but CONTRACT.md lists 14 as the gateway's
}

GRPC_NAMES = {
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}

ERROR_INFO_TYPE = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"

INVALID_ARGUMENT = 3
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
FAILED_PRECONDITION = 9
INTERNAL = 13
UNAUTHENTICATED = 16


class ApiError(Exception):
    """A failure of an AgentKit call, carried to the gateway error body."""

    def __init__(self, code: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.error_code = error_code or GRPC_NAMES.get(code, "UNKNOWN")
        # Broken field rules (protos.FieldViolation: field, rule_id, message), for the details.
        self.field_violations: list[Any] = []

    @property
    def http_status(self) -> int:
        return GRPC_TO_HTTP.get(self.code, 500)

    def body(self) -> dict[str, Any]:
        body = gateway_error_body(self.code, self.message, self.error_code)
        if self.field_violations:
            # ErrorInfo.validation_error_info (scalekit/v1/errdetails): one entry per rule.
            body["details"][0]["validation_error_info"] = {
                "field_violations": [
                    {"field": v.field, "description": v.message, "constraint": v.rule_id}
                    for v in self.field_violations
                ]
            }
        return body


class OAuthError(Exception):
    """A failure of `/oauth/token`, carried in an RFC 6749 error body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def gateway_error_body(code: int, message: str, error_code: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "details": [
            {"@type": ERROR_INFO_TYPE, "error_code": error_code or GRPC_NAMES.get(code, "UNKNOWN")}
        ],
    }


# Google's canonical status names and the `reason` its APIs put in `errors[]`.
_GOOGLE_STATUS = {
    400: ("INVALID_ARGUMENT", "invalidArgument"),
    401: ("UNAUTHENTICATED", "authError"),
    403: ("PERMISSION_DENIED", "forbidden"),
    404: ("NOT_FOUND", "notFound"),
    429: ("RESOURCE_EXHAUSTED", "rateLimitExceeded"),
    500: ("INTERNAL", "backendError"),
    502: ("UNAVAILABLE", "backendError"),
    503: ("UNAVAILABLE", "backendError"),
    504: ("DEADLINE_EXCEEDED", "backendError"),
}


# Google's 401 messages (Gmail's, Calendar's): no credential, and one it does not accept.
GOOGLE_MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access "
    "token, login cookie or other valid authentication credential."
)
GOOGLE_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential."
)
GOOGLE_WWW_AUTHENTICATE = 'Bearer realm="https://accounts.google.com/"'  # beside a 401


def google_error_body(status: int, message: str) -> dict[str, Any]:
    status_name, reason = _GOOGLE_STATUS.get(status, ("UNKNOWN", "backendError"))
    error: dict[str, Any] = {"message": message, "domain": "global", "reason": reason}
    if status == 401:
        # Google names where the credential was looked for.
        error["location"] = "Authorization"
        error["locationType"] = "header"
    return {"error": {"code": status, "message": message, "errors": [error], "status": status_name}}


class GmailError(Exception):
    """A failure of an emulated Gmail call, carried in Google's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return google_error_body(self.status, self.message)


class ToolInputError(ValueError):
    """Params a tool cannot take: outside its input schema, or naming what its app lacks (a
    channel the workspace has no such). The engine answers INVALID_ARGUMENT with the text."""
