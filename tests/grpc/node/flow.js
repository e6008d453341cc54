// The seeds' AgentKit flow with the official Node SDK, unmodified, against the sandbox named
// by SCALEKIT_ENV_URL. Prints one JSON line per event on stdout; after the "link" event it
// waits for a line on stdin (the test pressing Allow on the hosted page).
"use strict";
const readline = require("node:readline");
const { ScalekitClient } = require("@scalekit-sdk/node");
const {
  ConnectorStatus,
} = require("@scalekit-sdk/node/lib/pkg/grpc/scalekit/v1/connected_accounts/connected_accounts_pb");

const env = process.env;
const user = env.FLOW_USER;
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const emit = (event, fields) => console.log(JSON.stringify({ event, ...fields }));
const statusName = (account) => ConnectorStatus[account.status];

async function failure(call) {
  try {
    await call();
  } catch (error) {
    return {
      class: error.constructor.name,
      message: error.message,
      errorCode: error.errorCode,
      httpStatus: error.response ? error.response.status : undefined,
    };
  }
  return { class: null };
}

async function main() {
  const sdk = new ScalekitClient(env.SCALEKIT_ENV_URL, env.SCALEKIT_CLIENT_ID, env.SCALEKIT_CLIENT_SECRET);
  const actions = sdk.actions;
  const gmail = { connectionName: "gmail", identifier: user };

  const created = (await actions.getOrCreateConnectedAccount(gmail)).connectedAccount;
  const existing = (await actions.getOrCreateConnectedAccount(gmail)).connectedAccount;
  emit("created", { id: created.id, status: statusName(created), existingId: existing.id });

  const { link } = await actions.getAuthorizationLink(gmail);
  emit("link", { link });
  await lines.next(); // the test pressed Allow

  const active = (await actions.getConnectedAccount(gmail)).connectedAccount;
  const oauth = active.authorizationDetails.details;
  const executed = await actions.executeTool({
    toolName: "gmail_fetch_mails",
    toolInput: { max_results: 2 },
    identifier: user,
    connector: "gmail",
  });
  const tools = await sdk.tools.listTools({});
  emit("active", {
    id: active.id,
    status: statusName(active),
    credential: oauth.case,
    accessToken: oauth.value.accessToken,
    messageIds: executed.data.messages.map((message) => message.id),
    executionId: executed.executionId,
    toolNames: tools.tools.map((tool) => tool.definition.name).sort(),
  });

  const errors = {
    missing: await failure(() => actions.getConnectedAccount({ connectionName: "gmail", identifier: "nobody" })),
    fieldRule: await failure(() => actions.getConnectedAccount({ connectionName: "gmail", identifier: "x".repeat(101) })),
    unavailable: await failure(() => actions.listConnectedAccounts({ connectionName: "gmail" })),
    badCredentials: await failure(() =>
      new ScalekitClient(env.SCALEKIT_ENV_URL, env.SCALEKIT_CLIENT_ID, "not-the-secret").actions.getConnectedAccount(gmail),
    ),
  };
  await actions.deleteConnectedAccount(gmail);
  errors.deleted = await failure(() => actions.getConnectedAccount(gmail));
  emit("errors", errors);
}

main().then(
  () => process.exit(0),
  (error) => {
    emit("crashed", { class: error.constructor.name, message: String(error.message) });
    process.exit(1);
  },
);
