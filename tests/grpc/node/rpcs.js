// The official Node SDK, unmodified, against the sandbox named by SCALEKIT_ENV_URL: its
// app-connections call, and the connected-account RPCs its 2.11 release generates a client
// for but wraps in no method (get by id, disconnect), called through the SDK's own transport
// and `connectExec` (its token, retries and error mapping). Prints one JSON line per event.
// 2.11 ships no MCP or provider service, so those are the Python SDK's test.
"use strict";
const { ScalekitClient } = require("@scalekit-sdk/node");
const {
  ConnectedAccountService,
  ConnectorStatus,
} = require("@scalekit-sdk/node/lib/pkg/grpc/scalekit/v1/connected_accounts/connected_accounts_pb");

const env = process.env;
const user = env.FLOW_USER;
const emit = (event, fields) => console.log(JSON.stringify({ event, ...fields }));

async function failure(call) {
  try {
    await call();
  } catch (error) {
    return { class: error.constructor.name, errorCode: error.errorCode };
  }
  return { class: null };
}

async function main() {
  const sdk = new ScalekitClient(env.SCALEKIT_ENV_URL, env.SCALEKIT_CLIENT_ID, env.SCALEKIT_CLIENT_SECRET);
  const listed = await sdk.connection.listAppConnections();
  const slack = await sdk.connection.listAppConnections({ provider: "SLACK" });
  emit("connections", {
    names: listed.connections.map((c) => c.keyId),
    providers: listed.connections.map((c) => c.providerKey),
    totalSize: listed.totalSize,
    slack: slack.connections.map((c) => c.keyId),
  });

  const account = (await sdk.connectedAccounts.getConnectedAccountByIdentifier({ connector: "gmail", identifier: user }))
    .connectedAccount;
  const accounts = sdk.grpcConnect.createClient(ConnectedAccountService);
  const exec = (method, request) => sdk.coreClient.connectExec(method, request);
  const byId = (await exec(accounts.getConnectedAccount, { id: account.id })).connectedAccount;
  const gone = (await exec(accounts.disconnectConnectedAccount, { id: account.id })).connectedAccount;
  const after = (await exec(accounts.getConnectedAccount, { id: account.id })).connectedAccount;
  emit("accounts", {
    id: account.id,
    byId: { id: byId.id, identifier: byId.identifier, status: ConnectorStatus[byId.status] },
    disconnected: ConnectorStatus[gone.status],
    after: ConnectorStatus[after.status],
    missing: await failure(() => exec(accounts.getConnectedAccount, { id: "ca_1" })),
    fieldRule: await failure(() => exec(accounts.getConnectedAccount, { id: "x".repeat(40) })),
  });
}

main().then(
  () => process.exit(0),
  (error) => {
    emit("crashed", { class: error.constructor.name, message: String(error.message) });
    process.exit(1);
  },
);
