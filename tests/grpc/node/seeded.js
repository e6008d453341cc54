// The official Node SDK, unmodified, over h2c against `sk sandbox serve --seed
// examples/seed.toml` (the README's example): agent code that names the dashboard's
// connections runs as written. Prints one JSON line for test_node_seed_sdk.py to assert on.
"use strict";
const { ScalekitClient } = require("@scalekit-sdk/node");
const {
  ConnectorStatus,
} = require("@scalekit-sdk/node/lib/pkg/grpc/scalekit/v1/connected_accounts/connected_accounts_pb");

const env = process.env;

async function main() {
  const sdk = new ScalekitClient(env.SCALEKIT_ENV_URL, env.SCALEKIT_CLIENT_ID, env.SCALEKIT_CLIENT_SECRET);
  const actions = sdk.actions;
  const gmail = (await actions.getConnectedAccount({ connectionName: "GMAIL", identifier: "default" }))
    .connectedAccount;
  const byId = (await actions.getConnectedAccount({ connectedAccountId: "ca_0123456789" })).connectedAccount;
  const pending = (await actions.listConnectedAccounts({ identifier: "user_42" })).connectedAccounts;
  const connections = (await actions.listConnections()).connections;
  const docs = await actions.executeTool({
    toolName: "c-myapp_fetch-docs",
    toolInput: { query: "otters" },
    identifier: "default",
    connector: "myapp",
  });
  const mails = await actions.executeTool({
    toolName: "gmail_fetch_mails",
    toolInput: { max_results: 2 },
    connectedAccountId: "ca_0123456789",
  });
  const tools = (await sdk.tools.listTools({ filter: { identifier: "default" } })).tools;
  const results = {
    gmail: { id: gmail.id, status: ConnectorStatus[gmail.status], connector: gmail.connector },
    byId: { identifier: byId.identifier, connector: byId.connector },
    pending: pending.map((a) => [a.connector, ConnectorStatus[a.status]]),
    connections: connections.map((c) => [c.connectionName, c.provider, c.type]),
    docs: docs.data,
    mails: mails.data.messages.length,
    tools: tools.map((tool) => tool.definition.name).sort(),
  };
  console.log(JSON.stringify({ event: "results", ...results }));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.log(JSON.stringify({ event: "crashed", class: error.constructor.name, message: String(error.message) }));
    process.exit(1);
  },
);
