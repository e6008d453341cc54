"""The gRPC face: the sandbox's operations as the services the official SDKs call.

A face translates, it never decides: each RPC's request message becomes the operations
layer's proto-JSON dict, its answer dict becomes the response message, and an `ApiError`
becomes the gRPC status (code, message, and the `ErrorInfo` detail the REST body carries).
The messages come from the shipped descriptor set, so the official SDK need not be installed.
connectrpc speaks the protocol (gRPC, and gRPC-Web and Connect on the same paths); hypercorn
carries HTTP/2 (see `server.py`). Both, protobuf and cryptography are the `[grpc]` extra.
"""

from __future__ import annotations

import contextvars
import importlib
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from . import operations
from .errors import GRPC_NAMES, INTERNAL, ApiError

if TYPE_CHECKING:
    from connectrpc.request import RequestContext
    from google.protobuf.descriptor_pool import DescriptorPool
    from google.protobuf.message import Message
    from starlette.routing import BaseRoute

    from .engine import SandboxEngine

# What the face imports, and the distribution each comes from (for the install hint).
GRPC_MODULES = {
    "connectrpc": "connectrpc",
    "google.protobuf": "protobuf",
    "cryptography": "cryptography",
}
GRPC_EXTRA_HINT = "pip install 'scalekit-cli[grpc]'"
ERROR_INFO = "scalekit.v1.errdetails.ErrorInfo"

# The base URL of the call being served (links in answers point back to where it came from).
_request_base_url: contextvars.ContextVar[str] = contextvars.ContextVar("request_base_url")


def missing_grpc_module() -> str | None:
    """The first module of the `[grpc]` extra that does not import, or None."""
    for module in GRPC_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None


@cache
def descriptor_pool() -> DescriptorPool:
    from google.protobuf import descriptor_pb2
    from google.protobuf import descriptor_pool as pools

    from .contract import descriptor_set_bytes

    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set_bytes())
    pool = pools.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return pool


def _message_class(full_name: str) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor_pool().FindMessageTypeByName(full_name))


def _connect_error(error: ApiError) -> Exception:
    """The status of a failed call: the REST body's code and message, and its `ErrorInfo`
    (error_code, and the broken field rules) as the status detail."""
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError
    from google.protobuf import json_format
    from protobuf.wkt import Any as AnyMessage

    code = Code[GRPC_NAMES.get(error.code, "UNKNOWN")]
    detail_json = {k: v for k, v in error.body()["details"][0].items() if k != "@type"}
    info = json_format.ParseDict(detail_json, _message_class(ERROR_INFO)())
    detail = AnyMessage(
        type_url=f"type.googleapis.com/{ERROR_INFO}", value=info.SerializeToString()
    )
    return ConnectError(code, error.message, details=[detail])


def _json_numbers(value: Any) -> Any:
    """A `Struct` carries every number as a double; the JSON the REST face reads spells 2 as
    2. Integral doubles become ints, as Go's protojson (the gateway's) writes them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_numbers(item) for item in value]
    return value


Handler = Callable[[Any, "RequestContext"], Awaitable[Any]]


def _handler(engine: SandboxEngine, rpc: str, response_class: type[Message]) -> Handler:
    from google.protobuf import json_format

    from .web import check_machine_token

    async def handle(request: Message, context: RequestContext) -> Message:
        try:
            token = check_machine_token(engine, context.request_headers.get("authorization"))
            payload = _json_numbers(
                json_format.MessageToDict(request, preserving_proto_field_name=True)
            )
            answer = operations.run(
                engine,
                rpc,
                payload,
                operations.CallContext(base_url=_request_base_url.get(), machine_token=token),
            )
            return json_format.ParseDict(answer, response_class())
        except ApiError as error:
            raise _connect_error(error) from None
        except Exception:
            # Like the REST face's 500: no exception text reaches the client.
            raise _connect_error(ApiError(INTERNAL, "internal error in the sandbox")) from None

    return handle


class GrpcFace:
    """One ASGI app for every RPC of the operations layer (mounted per path by `grpc_routes`)."""

    def __init__(self, engine: SandboxEngine) -> None:
        from connectrpc.compat import google_protobuf_codecs
        from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
        from connectrpc.server import ConnectASGIApplication, Endpoint

        endpoints: dict[str, Any] = {}
        for rpc, operation in operations.OPERATIONS.items():
            service_name, method_name = rpc.split("/")
            request_class = _message_class(operation.request)
            response_class = _message_class(operation.response)
            info = MethodInfo(
                name=method_name,
                service_name=service_name,
                input=request_class,
                output=response_class,
                idempotency_level=IdempotencyLevel.UNKNOWN,
                stream_type=StreamType.UNARY,
            )
            endpoints[f"/{rpc}"] = Endpoint.unary(
                method=info, function=_handler(engine, rpc, response_class)
            )
        self.paths = list(endpoints)

        class _Application(ConnectASGIApplication[None]):
            @property
            def path(self) -> str:
                return "/"

        self._app = _Application(
            service=None, endpoints=lambda _: endpoints, codecs=google_protobuf_codecs()
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request

        from .web import base_url

        token = _request_base_url.set(base_url(Request(scope)))
        try:
            await self._app(scope, receive, send)
        finally:
            _request_base_url.reset(token)


def grpc_routes(engine: SandboxEngine) -> list[BaseRoute]:
    from starlette.routing import Route

    face = GrpcFace(engine)
    return [Route(path, face, methods=["POST"]) for path in face.paths]
