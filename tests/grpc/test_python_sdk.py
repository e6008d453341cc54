"""The official Python SDK (scalekit-sdk-python, pinned in the dev extras), unmodified, runs the
seeds' AgentKit flow against `sk sandbox serve --tls`: REST for its machine token, gRPC over
HTTP/2 + TLS for everything else, on one port. Each answer is held against what the REST face
and `sk` report for the same account.

The SDK trusts the sandbox's CA only through the variables `serve --tls` prints.
"""

from __future__ import annotations

import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from scalekit import ScalekitClient
from scalekit.common.exceptions import (
    ScalekitBadRequestException,
    ScalekitConflictException,
    ScalekitNotFoundException,
    ScalekitServiceUnavailableException,
    ScalekitUnauthorizedException,
)
from scalekit.v1.errdetails.errdetails_pb2 import ErrorInfo

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.grpc.served import (
    SDK_CLIENT_SECRET,
    SK,
    TRUST_VARIABLES,
    ServedSandbox,
    sdk_client,
    served_with_trust,
)

ACCOUNTS = "scalekit.v1.connected_accounts.ConnectedAccountService"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    with served_with_trust(tmp_path_factory.mktemp("served-tls")) as live:
        yield live


@pytest.fixture(scope="module")
def sdk(served: ServedSandbox) -> ScalekitClient:
    return sdk_client(served)


def test_tls_exports_and_private_files(served: ServedSandbox) -> None:
    exports = served.exports
    assert exports["SCALEKIT_ENV_URL"].startswith("https://localhost:")
    for name in (*TRUST_VARIABLES, "NODE_EXTRA_CA_CERTS"):
        path = Path(exports[name])
        assert path.parent == served.home / "sandbox-data"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    private = [p for p in (served.home / "sandbox-data").iterdir() if "tls" in p.name]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private)
    # The CA signs the server certificate and its key is gone: only the server's key is kept.
    keys = [p.name for p in private if b"PRIVATE KEY" in p.read_bytes()]
    assert keys == ["sandbox-tls-key.pem"]
    # HTTP/1.1 and HTTP/2 on the one port: ALPN picks, the hosted page answers both.
    import httpx

    for http2 in (False, True):
        with httpx.Client(verify=served.verify(), http2=http2) if http2 else served.http() as c:
            answer = c.get(f"{served.url}/magic/unknown")
            assert answer.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            assert answer.status_code == 404


def test_seed_flow_matches_rest_and_sk(served: ServedSandbox, sdk: ScalekitClient) -> None:
    actions = sdk.actions
    user = "seed-user@example.com"

    created = actions.get_or_create_connected_account(connection_name="gmail", identifier=user)
    account = created.connected_account
    assert account.status == "PENDING_AUTH"
    rest = served.rest_account("gmail", user).json()["connected_account"]
    assert (rest["id"], rest["status"]) == (account.id, "PENDING_AUTH")
    status = served.sk("status", "gmail", "--user", user, "--json")
    assert status.returncode == 3  # not ACTIVE yet
    assert '"PENDING_AUTH"' in status.stdout

    again = actions.get_or_create_connected_account(connection_name="gmail", identifier=user)
    assert again.connected_account.id == account.id  # existing: no second account

    link = actions.get_authorization_link(connection_name="gmail", identifier=user).link
    assert link.startswith(f"{served.url}/magic/")  # the same hosted page, on the same port
    assert "Connected" in approve_as_browser(link)

    fetched = actions.get_connected_account(connection_name="gmail", identifier=user)
    active = fetched.connected_account
    access_token = active.authorization_details["oauth_token"]["access_token"]
    rest = served.rest_account("gmail", user).json()["connected_account"]
    assert rest["status"] == active.status == "ACTIVE"
    assert rest["authorization_details"]["oauth_token"]["access_token"] == access_token
    sk_account = served.sk_json("status", "gmail", "--user", user)
    assert (sk_account["id"], sk_account["status"]) == (account.id, "ACTIVE")
    revealed = served.sk_json("token", "gmail", "--user", user, "--debug")
    assert revealed["access_token"] == access_token

    result = actions.execute_tool(
        tool_input={"max_results": 2},
        tool_name="gmail_fetch_mails",
        identifier=user,
        connection_name="gmail",
    )
    rest_result = served.rest(
        "POST",
        "/api/v1/execute_tool",
        json={"tool_name": "gmail_fetch_mails", "identifier": user, "params": {"max_results": 2}},
    ).json()
    sk_result = served.sk_json(
        "exec-tool", "gmail_fetch_mails", "--user", user, "-p", "max_results=2"
    )
    ids = [message["id"] for message in result.data["messages"]]
    assert len(ids) == 2
    assert ids == [message["id"] for message in rest_result["data"]["messages"]]
    assert ids == [message["id"] for message in sk_result["data"]["messages"]]
    assert result.execution_id

    tools = actions.list_tools()
    rest_tools = served.rest("GET", "/api/v1/tools").json()
    sk_tools = served.sk_json("tools", "list")
    names = sorted(tool.definition["name"] for tool in tools.tools)
    assert "gmail_fetch_mails" in names
    assert names == sorted(tool["definition"]["name"] for tool in rest_tools["tools"])
    assert names == sorted(tool["name"] for tool in sk_tools)

    details = actions.get_connected_account_details(connection_name="gmail", identifier=user)
    assert details.connected_account.id == account.id
    assert details.connected_account.authorization_details is None  # details hold no secret
    rest_details = served.rest_account("gmail", user, "details").json()["connected_account"]
    assert "authorization_details" not in rest_details
    assert rest_details["status"] == details.connected_account.status == "ACTIVE"

    actions.delete_connected_account(connection_name="gmail", identifier=user)
    assert served.rest_account("gmail", user).status_code == 404
    assert served.sk("status", "gmail", "--user", user).returncode == 3
    with pytest.raises(ScalekitNotFoundException):
        actions.get_connected_account(connection_name="gmail", identifier=user)


def test_custom_user_verification(served: ServedSandbox, sdk: ScalekitClient) -> None:
    import httpx

    served.admin("POST", "/_sandbox/settings", json={"user_verification": "custom"})
    try:
        user = "verified-user"
        actions = sdk.actions
        actions.get_or_create_connected_account(connection_name="gmail", identifier=user)
        verify_url = "https://app.example/verify"
        link = actions.get_authorization_link(
            connection_name="gmail", identifier=user, user_verify_url=verify_url
        ).link
        with httpx.Client(verify=served.verify(), follow_redirects=False) as browser:
            page = browser.get(link)
            assert page.status_code == 200
            answer = browser.post(link, data={"decision": "allow"})
        assert answer.status_code in (302, 303)
        redirect = answer.headers["location"]
        assert redirect.startswith(verify_url)
        auth_request_id = parse_qs(urlsplit(redirect).query)["auth_request_id"][0]
        pending = served.rest_account("gmail", user).json()["connected_account"]
        assert pending["status"] != "ACTIVE"

        verified = actions.verify_connected_account_user(
            auth_request_id=auth_request_id, identifier=user
        )
        assert verified.post_user_verify_redirect_url.startswith(served.url)
        rest = served.rest_account("gmail", user).json()["connected_account"]
        assert rest["status"] == "ACTIVE"
        assert served.sk_json("status", "gmail", "--user", user)["status"] == "ACTIVE"
        with pytest.raises(ScalekitNotFoundException):  # an auth request is used once
            actions.verify_connected_account_user(auth_request_id=auth_request_id, identifier=user)
    finally:
        served.admin("POST", "/_sandbox/settings", json={"user_verification": "dashboard"})


def test_error_paths_through_the_sdk(served: ServedSandbox, sdk: ScalekitClient) -> None:
    actions = sdk.actions
    # Missing account: the not-found exception, with the REST body's message and error code.
    with pytest.raises(ScalekitNotFoundException) as missing:
        actions.get_connected_account(connection_name="gmail", identifier="nobody")
    rest = served.rest_account("gmail", "nobody")
    assert rest.status_code == 404
    assert missing.value.message == rest.json()["message"]
    assert missing.value.error_code == rest.json()["details"][0]["error_code"]

    # A field rule: the invalid-argument exception names the field, as the REST face does.
    too_long = "x" * 101
    with pytest.raises(ScalekitBadRequestException) as breach:
        actions.get_connected_account(connection_name="gmail", identifier=too_long)
    assert "identifier" in breach.value.message
    rest_breach = served.rest_account("gmail", too_long).json()
    assert breach.value.message == rest_breach["message"]
    [detail] = breach.value.err_details  # the REST body's ErrorInfo, as the status detail
    info = ErrorInfo()
    assert detail.Unpack(info)
    violations = rest_breach["details"][0]["validation_error_info"]["field_violations"]
    assert [(v.field, v.constraint) for v in info.validation_error_info.field_violations] == [
        (v["field"], v["constraint"]) for v in violations
    ]
    assert violations[0]["field"] == "identifier"

    # The same account twice: the conflict exception, as REST's 409.
    actions.create_connected_account(connection_name="gmail", identifier="twice")
    with pytest.raises(ScalekitConflictException):
        actions.create_connected_account(connection_name="gmail", identifier="twice")
    again = served.rest(
        "POST",
        "/api/v1/connected_accounts",
        json={"connector": "gmail", "identifier": "twice", "connected_account": {}},
    )
    assert again.status_code == 409

    # Bad credentials: the SDK's own token call fails with its authentication exception.
    with pytest.raises(ScalekitUnauthorizedException):
        ScalekitClient(served.url, served.exports["SCALEKIT_CLIENT_ID"], "not-the-secret")

    # An injected 503 on a gRPC method path: UNAVAILABLE, retried by the SDK, then raised.
    rpc = f"/{ACCOUNTS}/GetConnectedAccountAuth"
    fault = served.admin(
        "POST", "/_sandbox/faults", json={"path": rpc, "kind": "status", "status": 503, "times": 3}
    )
    try:
        with pytest.raises(ScalekitServiceUnavailableException):
            actions.get_connected_account(connection_name="gmail", identifier="nobody")
        hits = {f["id"]: f["hits"] for f in served.admin("GET", "/_sandbox/faults")["faults"]}
        assert hits[fault["id"]] == 3  # the first try and the SDK's two retries
    finally:
        served.admin("DELETE", "/_sandbox/faults")


def test_machine_token_is_required_and_revocation_is_seen(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    from scalekit.v1.connected_accounts import connected_accounts_pb2, connected_accounts_pb2_grpc

    # No token in the metadata: UNAUTHENTICATED, before anything is looked up.
    bundle = Path(served.exports["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]).read_bytes()
    host = served.url.removeprefix("https://")
    with grpc.secure_channel(host, grpc.ssl_channel_credentials(bundle)) as channel:
        stub = connected_accounts_pb2_grpc.ConnectedAccountServiceStub(channel)
        request = connected_accounts_pb2.GetConnectedAccountByIdentifierRequest(
            connector="gmail", identifier="nobody"
        )
        for metadata in ((), (("authorization", "Bearer sbx_mt_forged"),)):
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetConnectedAccountAuth(request, metadata=metadata, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    # Revoked through the admin surface: the SDK sees UNAUTHENTICATED, fetches a new token
    # over REST and its call goes through.
    served.admin("DELETE", "/_sandbox/requests")
    served.admin("POST", "/_sandbox/machine_tokens/revoke")
    with pytest.raises(ScalekitNotFoundException):
        sdk.actions.get_connected_account(connection_name="gmail", identifier="nobody")
    paths = [entry["path"] for entry in served.admin("GET", "/_sandbox/requests")["requests"]]
    rpc = f"/{ACCOUNTS}/GetConnectedAccountAuth"
    assert paths == [rpc, "/oauth/token", rpc]
    served._token = None  # the REST helper's token was revoked too


def _wait_for_account(sdk: ScalekitClient, user: str) -> object:
    """The account `sk connect` creates, as the SDK sees it."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return sdk.actions.get_connected_account(
                connection_name="gmail", identifier=user
            ).connected_account
        except ScalekitNotFoundException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_sk_and_the_sdk_share_one_state_at_once(served: ServedSandbox, sdk: ScalekitClient) -> None:
    user = "shared-user"
    # `sk connect` waits for ACTIVE while the SDK, in this process, finds the account sk
    # created, gets a link for it and presses Allow: one served sandbox, one state.
    waiting = subprocess.Popen(
        [
            str(SK),
            "connect",
            "gmail",
            "--user",
            user,
            "--interval",
            "0.2",
            "--timeout",
            "30",
            "--json",
        ],
        env=served.sk_env(),
        cwd=served.home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        account = _wait_for_account(sdk, user)
        assert account.status == "PENDING_AUTH"
        link = sdk.actions.get_authorization_link(connection_name="gmail", identifier=user).link
        approve_as_browser(link)
        stdout, stderr = waiting.communicate(timeout=40)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, stderr
    assert '"ACTIVE"' in stdout
    assert account.id in stdout
    active = sdk.actions.get_connected_account(connection_name="gmail", identifier=user)
    assert active.connected_account.status == "ACTIVE"
    for stream in (stdout, stderr):
        assert SDK_CLIENT_SECRET not in stream


def test_every_operation_is_served_over_grpc(served: ServedSandbox) -> None:
    from scalekit_cli.sandbox.operations import OPERATIONS

    bundle = Path(served.exports["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]).read_bytes()
    host = served.url.removeprefix("https://")
    with grpc.secure_channel(host, grpc.ssl_channel_credentials(bundle)) as channel:
        for rpc in OPERATIONS:
            call = channel.unary_unary(f"/{rpc}")  # raw bytes: an empty request message
            with pytest.raises(grpc.RpcError) as refused:
                call(b"", timeout=10)
            # Mounted (an unknown path would be UNIMPLEMENTED) and guarded by the token check.
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, rpc
        with pytest.raises(grpc.RpcError) as unknown:
            channel.unary_unary(f"/{ACCOUNTS}/NoSuchMethod")(b"", timeout=10)
        assert unknown.value.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND)


def test_mcp_configurations_through_the_sdk(served: ServedSandbox, sdk: ScalekitClient) -> None:
    from scalekit.actions.models.mcp_config import McpConfigConnectionToolMapping

    mcp = sdk.actions.mcp
    mapping = McpConfigConnectionToolMapping(connection_name="gmail", tools=["gmail_fetch_mails"])
    created = mcp.create_config(
        name="mail-agent", description="reads mail", connection_tool_mappings=[mapping]
    ).config
    rest = served.rest("GET", f"/api/v1/mcp/configs/{created.id}")
    assert rest.status_code == 200, rest.text
    assert rest.json()["config"]["name"] == created.name == "mail-agent"
    listed = mcp.list_configs(filter_name="mail-agent")
    assert [config.id for config in listed.configs] == [created.id]
    mcp.delete_config(created.id)
    assert served.rest("GET", f"/api/v1/mcp/configs/{created.id}").status_code == 404


def test_a_refresh_is_one_state_for_every_face(served: ServedSandbox, sdk: ScalekitClient) -> None:
    actions = sdk.actions
    user = "refresh-user"
    actions.get_or_create_connected_account(connection_name="gmail", identifier=user)
    approve_as_browser(
        actions.get_authorization_link(connection_name="gmail", identifier=user).link
    )

    def token() -> str:
        account = actions.get_connected_account(connection_name="gmail", identifier=user)
        return account.connected_account.authorization_details["oauth_token"]["access_token"]

    first = token()
    served.admin("POST", "/_sandbox/clock", json={"advance_seconds": 3700})  # past its 1 h
    refreshed = token()  # read over gRPC: the sandbox refreshes, as the service does
    assert refreshed != first
    rest = served.rest_account("gmail", user).json()["connected_account"]
    assert rest["authorization_details"]["oauth_token"]["access_token"] == refreshed
    assert served.sk_json("token", "gmail", "--user", user, "--debug")["access_token"] == refreshed


def test_app_connections_and_tool_search_through_the_sdk(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    """`list_app_connections` (Node's `listConnections()`) and `search_tools` get answers
    over gRPC, the same as the REST face's and `sk`'s."""
    from scalekit.v1.tools.tools_pb2 import ToolReadinessState

    listed, _call = sdk.connection.list_app_connections()
    names = [connection.key_id for connection in listed.connections]
    assert names == ["gmail", "googlecalendar", "slack", "notion", "github", "exa"]
    assert listed.total_size == len(names)
    by_name = {connection.key_id: connection for connection in listed.connections}
    assert by_name["exa"].provider_key == "EXA"
    assert by_name["gmail"].provider_key == "GOOGLE"
    rest = served.rest("GET", "/api/v1/connections/app", params={"provider": "SLACK"}).json()
    assert [c["key_id"] for c in rest["connections"]] == ["slack"]
    sk_names = [c["name"] for c in served.sk_json("connections", "list")]
    assert sk_names == names

    user = "search-user@example.com"
    link = sdk.actions.get_authorization_link(connection_name="slack", identifier=user).link
    assert "Connected" in approve_as_browser(link)
    found, _call = sdk.tools.search_tools("send a slack message", identifier=user, top_k=2)
    assert [tool.name for tool in found.tools][:1] == ["slack_send_message"]
    assert len(found.tools) == 2
    assert found.tools[0].score >= found.tools[1].score > 0
    (readiness,) = found.tools[0].connections
    assert readiness.connection_name == "slack"
    assert readiness.readiness_state == ToolReadinessState.TOOL_READINESS_STATE_READY
    with pytest.raises(ScalekitBadRequestException):
        sdk.tools.search_tools("")  # query: required


# --- the RPCs served beyond the seeds' flow: providers, MCP instances and definitions, an
# account by id and disconnect (through the SDK's own generated stubs where no SDK method
# calls them yet).
def test_list_providers_through_the_sdk(served: ServedSandbox, sdk: ScalekitClient) -> None:
    from scalekit.actions.models.requests.list_providers_request import ListProvidersRequest
    from scalekit.v1.providers.providers_pb2 import ProviderType

    providers = sdk.actions.providers
    built_in = providers.list_providers(ListProvidersRequest())
    assert [p.identifier for p in built_in.providers] == [
        "GOOGLE",
        "SLACK",
        "NOTION",
        "GITHUB",
        "EXA",
    ]
    assert built_in.total_size == 5
    created = served.rest(
        "POST",
        "/api/v1/custom-providers",
        json={
            "display_name": "Docs MCP",
            "proxy_url": "https://docs.example.com/mcp",
            "auth_patterns": [{"type": "BEARER"}],
        },
    )
    assert created.status_code == 201, created.text
    identifier = created.json()["provider"]["identifier"]
    try:
        custom = providers.list_providers(ListProvidersRequest(provider_type=ProviderType.CUSTOM))
        assert [(p.identifier, p.display_name) for p in custom.providers] == [
            (identifier, "Docs MCP")
        ]
        every = providers.list_providers(
            ListProvidersRequest(provider_type=ProviderType.ALL, page_size=5)
        )
        assert every.total_size == 6 and len(every.providers) == 5 and every.next_page_token
        one = providers.list_providers(ListProvidersRequest(identifier="EXA"))
        assert [p.identifier for p in one.providers] == ["EXA"]
        with pytest.raises(ScalekitBadRequestException):
            providers.list_providers(ListProvidersRequest(identifier="not allowed!"))
    finally:
        served.rest("DELETE", f"/api/v1/custom-providers/{identifier}")


def test_mcp_configs_and_instances_lifecycle_through_the_sdk(
    served: ServedSandbox,
    sdk: ScalekitClient,
) -> None:
    from scalekit.actions.models.mcp_config import McpConfigConnectionToolMapping

    mcp = sdk.actions.mcp
    user = "instance-user@example.com"
    mappings = [
        McpConfigConnectionToolMapping(connection_name="gmail", tools=["gmail_fetch_mails"]),
        McpConfigConnectionToolMapping(connection_name="slack", tools=[]),
    ]
    config = mcp.create_config(
        name="inbox-agent", description="mail and chat", connection_tool_mappings=mappings
    ).config
    chat = mcp.create_config(
        name="chat-agent",
        connection_tool_mappings=[McpConfigConnectionToolMapping(connection_name="slack")],
    ).config
    # an update replaces description and mappings both (proto3 fields without presence)
    updated = mcp.update_config(
        config_id=config.id, description="mail, chat", connection_tool_mappings=mappings
    ).config
    assert updated.description == "mail, chat"
    assert [m.connection_name for m in updated.connection_tool_mappings] == ["gmail", "slack"]
    assert [c.name for c in mcp.list_configs(search="inbox").configs] == ["inbox-agent"]

    instance = mcp.ensure_instance(config_name="inbox-agent", user_identifier=user).instance
    assert instance.id.startswith("inst_")
    assert (instance.name, instance.user_identifier) == ("inbox-agent", user)
    assert instance.config.id == config.id
    again = mcp.ensure_instance(config_name="inbox-agent", user_identifier=user).instance
    assert again.id == instance.id  # ensure is get-or-create
    rest = served.rest("GET", f"/api/v1/mcp/instances/{instance.id}").json()["instance"]
    assert rest["user_identifier"] == user

    # its auth state follows the user's accounts
    state = mcp.get_instance_auth_state(instance_id=instance.id).connections
    assert [(c.connection_name, c.connected_account_status) for c in state] == [
        ("gmail", None),  # no account yet
        ("slack", None),
    ]
    with_links = mcp.get_instance_auth_state(instance_id=instance.id, include_auth_links=True)
    gmail_link = with_links.connections[0].authentication_link
    assert gmail_link.startswith(f"{served.url}/magic/")
    assert "Connected" in approve_as_browser(gmail_link)
    state = {
        c.connection_name: c
        for c in mcp.get_instance_auth_state(instance_id=instance.id).connections
    }
    assert state["gmail"].connected_account_status == "ACTIVE"
    assert state["slack"].connected_account_status == "PENDING_AUTH"
    got = mcp.get_instance(instance_id=instance.id).instance
    gmail = got.config.connection_tool_mappings[0]
    assert (gmail.connection_name, gmail.connected_account_status) == ("gmail", "ACTIVE")
    assert gmail.connected_account_id == state["gmail"].connected_account_id

    listed = mcp.list_instances(filter_user_identifier=user)
    assert [i.id for i in listed.instances] == [instance.id]
    assert mcp.list_instances(filter_config_name="chat-agent").instances == []

    moved = mcp.update_instance(
        instance_id=instance.id, name="chat-only", config_name="chat-agent"
    ).instance
    assert (moved.name, moved.config.id) == ("chat-only", chat.id)
    assert [m.connection_name for m in moved.config.connection_tool_mappings] == ["slack"]

    mcp.delete_instance(instance_id=instance.id)
    with pytest.raises(ScalekitNotFoundException):
        mcp.get_instance(instance_id=instance.id)
    with pytest.raises(ScalekitNotFoundException):
        mcp.ensure_instance(config_name="no-such-config", user_identifier=user)
    with pytest.raises(ScalekitBadRequestException):  # the field rule (the action layer
        # refuses an empty name itself: its MCP client sends it)
        sdk.mcp.ensure_instance(name=None, config_name="", user_identifier=user)

    mcp.delete_config(config.id)
    mcp.delete_config(chat.id)
    assert mcp.list_configs(search="inbox").configs == []


def test_account_by_id_disconnect_and_mcp_definitions_over_grpc(
    served: ServedSandbox,
    sdk: ScalekitClient,
) -> None:
    """No SDK method calls these yet: the SDK's generated stubs on its own channel do."""
    from scalekit.v1.connected_accounts import connected_accounts_pb2 as accounts
    from scalekit.v1.connected_accounts.connected_accounts_pb2_grpc import (
        ConnectedAccountServiceStub,
    )
    from scalekit.v1.mcp import mcp_pb2
    from scalekit.v1.mcp.mcp_pb2_grpc import McpServiceStub

    core = sdk.core_client
    user = "byid-user@example.com"
    link = sdk.actions.get_authorization_link(connection_name="gmail", identifier=user).link
    assert "Connected" in approve_as_browser(link)
    account_id = sdk.actions.get_connected_account(
        connection_name="gmail", identifier=user
    ).connected_account.id

    stub = ConnectedAccountServiceStub(core.grpc_secure_channel)
    got, _ = core.grpc_exec(
        stub.GetConnectedAccount.with_call, accounts.GetConnectedAccountRequest(id=account_id)
    )
    assert (got.connected_account.id, got.connected_account.identifier) == (account_id, user)
    assert got.connected_account.status == accounts.ACTIVE
    gone, _ = core.grpc_exec(
        stub.DisconnectConnectedAccount.with_call,
        accounts.DisconnectConnectedAccountRequest(id=account_id),
    )
    assert gone.connected_account.status == accounts.DISCONNECTED
    rest = served.rest_account("gmail", user).json()["connected_account"]
    assert rest["status"] == "DISCONNECTED" and "authorization_details" not in rest
    with pytest.raises(ScalekitNotFoundException):
        core.grpc_exec(
            stub.GetConnectedAccount.with_call, accounts.GetConnectedAccountRequest(id="ca_1")
        )

    mcp_stub = McpServiceStub(core.grpc_secure_channel)
    request = mcp_pb2.CreateMcpRequest(
        mcp=mcp_pb2.Mcp(
            tool_mappings=[
                mcp_pb2.ToolMapping(connection_name="gmail", tool_names=["gmail_fetch_mails"])
            ],
            connected_account_identifier=user,
        )
    )
    created, _ = core.grpc_exec(mcp_stub.CreateMcp.with_call, request)
    assert created.mcp.id.startswith("res_")
    assert created.mcp.tool_mappings[0].status == "DISCONNECTED"  # follows the account
    listed, _ = core.grpc_exec(
        mcp_stub.ListMcp.with_call,
        mcp_pb2.ListMcpRequest(
            filter=mcp_pb2.ListMcpRequest.Filter(connected_account_identifier=user)
        ),
    )
    assert [m.id for m in listed.mcps] == [created.mcp.id]
    fetched, _ = core.grpc_exec(
        mcp_stub.GetMcp.with_call, mcp_pb2.GetMcpRequest(mcp_id=created.mcp.id)
    )
    assert fetched.mcp.connected_account_identifier == user
    core.grpc_exec(mcp_stub.DeleteMcp.with_call, mcp_pb2.DeleteMcpRequest(mcp_id=created.mcp.id))
    with pytest.raises(ScalekitNotFoundException):
        core.grpc_exec(mcp_stub.GetMcp.with_call, mcp_pb2.GetMcpRequest(mcp_id=created.mcp.id))
    with pytest.raises(ScalekitBadRequestException):  # tool_mappings: at least one
        core.grpc_exec(
            mcp_stub.CreateMcp.with_call,
            mcp_pb2.CreateMcpRequest(mcp=mcp_pb2.Mcp(connected_account_identifier=user)),
        )
