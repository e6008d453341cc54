"""Errors of the Scalekit client library. Messages never carry secrets."""

from __future__ import annotations


class ScalekitError(Exception):
    """Base of every error this library raises."""


class ConfigurationError(ScalekitError):
    """Missing or unusable settings (environment URL, credentials)."""


class CredentialsRejected(ScalekitError):
    """The environment refused the client credentials at /oauth/token."""

    def __init__(self, message: str, *, oauth_error: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.oauth_error = oauth_error
        self.status = status


class NetworkError(ScalekitError):
    """The request never got an HTTP answer: refused, reset, timed out, TLS failure."""

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host


class InvalidResponse(ScalekitError):
    """The server answered, but not with the JSON the contract promises."""

    def __init__(self, message: str, *, status: int, host: str) -> None:
        super().__init__(message)
        self.status = status
        self.host = host


class ApiError(ScalekitError):
    """An error answer in the gateway shape: `{code, message, details: [{error_code}]}`."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        error_code: str = "",
        method: str = "",
        path: str = "",
        field_violations: int = 0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.error_code = error_code
        self.method = method
        self.path = path
        # How many of the service's field rules the request broke (ErrorInfo's
        # validation_error_info): the message names them.
        self.field_violations = field_violations


class NotFound(ApiError):
    """404 / gRPC 5: no such account, tool or connection."""


def is_unsupported(error: ApiError) -> bool:
    """An environment that predates the RPC answers 404 (no such route) or 501/UNIMPLEMENTED."""
    return isinstance(error, NotFound) or error.status == 501 or error.code == 12


class AlreadyExists(ApiError):
    """409 / gRPC 6."""


class FailedPrecondition(ApiError):
    """400 with gRPC 9: e.g. the account is not ACTIVE."""


class PermissionDenied(ApiError):
    """403 / gRPC 7."""


class Unauthenticated(ApiError):
    """401 / gRPC 16 that survived one machine-token renewal."""


class ProviderError(ScalekitError):
    """An error from a provider API reached directly (Gmail)."""

    def __init__(self, message: str, *, status: int, host: str) -> None:
        super().__init__(message)
        self.status = status
        self.host = host
