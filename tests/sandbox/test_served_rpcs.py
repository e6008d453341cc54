"""Every AgentKit RPC of the shipped descriptors is either served (OPERATIONS, on both faces)
or left out with a reason (NOT_SERVED), and the shipped CONTRACT.md says which, as generated."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from scalekit_cli.sandbox import api, grpc_face, operations, protos
from scalekit_cli.sandbox.engine import SandboxEngine
from scalekit_cli.sandbox.settings import SandboxSettings
from tests.sandbox.test_field_rules import _contract_script

REPO = Path(__file__).resolve().parents[2]


def test_every_rpc_is_served_or_has_a_reason_and_never_both() -> None:
    rpcs = set(protos.route_table())
    served, left_out = set(operations.OPERATIONS), set(operations.NOT_SERVED)
    assert not served & left_out, "both served and given a reason to be left out"
    assert rpcs == served | left_out, f"no verdict: {sorted(rpcs - served - left_out)}"
    assert all(reason.strip() for reason in operations.NOT_SERVED.values())


def test_every_served_rpc_has_a_rest_route_and_a_grpc_path() -> None:
    engine = SandboxEngine(SandboxSettings())
    try:
        grpc_paths = set(grpc_face.GrpcFace(engine).paths)
        rest_paths = {r.path for r in api._gateway_routes(engine) if isinstance(r, Route)}
    finally:
        engine.close()
    table = protos.route_table()
    for rpc in operations.OPERATIONS:
        assert f"/{rpc}" in grpc_paths, rpc
        assert {b["path"] for b in table[rpc]["http"]} & rest_paths, rpc


def test_shipped_contract_lists_what_the_sandbox_serves() -> None:
    script = _contract_script()
    shipped = (REPO / "scalekit_cli/sandbox/contract/CONTRACT.md").read_text(encoding="utf-8")
    assert script.with_served_section(shipped) == shipped, "run `make contract`: stale section"
    section = shipped[shipped.index(script.SERVED_BEGIN) :]
    for rpc in protos.route_table():
        short = rpc.removeprefix("scalekit.v1.")
        if rpc in operations.OPERATIONS:
            assert f"| `{short}` | served (REST, gRPC) |" in section
        else:
            assert f"| `{short}` | not served: {operations.NOT_SERVED[rpc]} |" in section
