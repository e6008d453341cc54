// The official Node SDK's own AgentKit flows, unmodified, against the sandbox named by
// SCALEKIT_ENV_URL (served in custom user-verification mode). Runs every step, then prints
// one JSON line of what the sandbox answered for test_node_sdk_flows.py to assert on.
"use strict";
const { ScalekitClient } = require("@scalekit-sdk/node");
const {
  ConnectorStatus,
  ConnectorType,
} = require("@scalekit-sdk/node/lib/pkg/grpc/scalekit/v1/connected_accounts/connected_accounts_pb");

const env = process.env;
const user = env.FLOW_USER;
const oauth = (accessToken, refreshToken, scopes) => ({
  details: { case: "oauthToken", value: { accessToken, refreshToken, scopes } },
});
const staticAuth = (apiKey) => ({ details: { case: "staticAuth", value: { details: { api_key: apiKey } } } });

const pick = (message, ...names) => Object.fromEntries(names.map((name) => [name, message[name]]));

// Only plain fields: the SDK's messages hold bigints JSON cannot print.
function account(message) {
  const auth = message.authorizationDetails ? message.authorizationDetails.details : { case: undefined };
  return {
    id: message.id,
    identifier: message.identifier,
    connector: message.connector,
    provider: message.provider,
    status: ConnectorStatus[message.status],
    authorizationType: ConnectorType[message.authorizationType],
    credential: auth.case || null,
    oauth: auth.case === "oauthToken" ? pick(auth.value, "accessToken", "refreshToken", "scopes") : null,
    staticAuth: auth.case === "staticAuth" ? auth.value.details : null,
  };
}

async function failure(call) {
  try {
    await call();
  } catch (error) {
    return { class: error.constructor.name, errorCode: error.errorCode, message: error.message };
  }
  return { class: null };
}

const toolNames = (tools) => tools.map((tool) => tool.definition.name).sort();

// The user's browser on the hosted page: Allow, without following the redirect to the app.
async function allow(link) {
  const answer = await fetch(link, {
    method: "POST",
    body: new URLSearchParams({ decision: "allow" }),
    redirect: "manual",
  });
  return { status: answer.status, location: answer.headers.get("location") };
}

async function accounts(actions) {
  const gmail = { connectionName: "gmail", identifier: user };
  const exa = { connectionName: "exa", identifier: user };
  const created = {
    oauth: account(
      (await actions.createConnectedAccount({ ...gmail, authorizationDetails: oauth(env.FLOW_ACCESS, "rt-1", ["a"]) }))
        .connectedAccount,
    ),
    static: account(
      (await actions.createConnectedAccount({ ...exa, authorizationDetails: staticAuth(env.FLOW_API_KEY) }))
        .connectedAccount,
    ),
  };
  const updated = {
    oauth: account(
      (await actions.updateConnectedAccount({ ...gmail, authorizationDetails: oauth("at-2", "rt-2", ["a", "b"]) }))
        .connectedAccount,
    ),
    static: account(
      (
        await actions.updateConnectedAccount({
          connectedAccountId: created.static.id,
          authorizationDetails: staticAuth("exa-rotated"),
        })
      ).connectedAccount,
    ),
  };
  const fetched = {
    byKey: account((await actions.getConnectedAccount(gmail)).connectedAccount),
    byId: account((await actions.getConnectedAccount({ connectedAccountId: created.static.id })).connectedAccount),
  };
  const listed = async (filters) =>
    (await actions.listConnectedAccounts(filters)).connectedAccounts.map((a) => [
      a.connector,
      a.identifier,
      ConnectorStatus[a.status],
    ]);
  const lists = {
    identifier: await listed({ identifier: user }),
    connection: await listed({ identifier: user, connectionName: "exa" }),
    provider: await listed({ identifier: user, provider: "GOOGLE" }),
    connectionNames: await listed({ identifier: user, connectionNames: ["gmail", "exa"] }),
  };
  await actions.deleteConnectedAccount({ connectedAccountId: created.static.id });
  await actions.deleteConnectedAccount(gmail);
  return {
    created,
    updated,
    fetched,
    lists,
    deleted: {
      byId: await failure(() => actions.getConnectedAccount({ connectedAccountId: created.static.id })),
      byKey: await failure(() => actions.getConnectedAccount(gmail)),
      listed: await listed({ identifier: user }),
    },
  };
}

async function verification(actions) {
  const slack = { connectionName: "slack", identifier: user };
  const pending = account((await actions.getOrCreateConnectedAccount(slack)).connectedAccount);
  const magic = await actions.getAuthorizationLink({ ...slack, state: "node-state", userVerifyUrl: env.FLOW_VERIFY_URL });
  const browser = await allow(magic.link);
  const authRequestId = new URL(browser.location).searchParams.get("auth_request_id");
  const waiting = account((await actions.getConnectedAccount(slack)).connectedAccount);
  const mismatch = await failure(() => actions.verifyConnectedAccountUser({ authRequestId, identifier: "eve" }));
  const verified = await actions.verifyConnectedAccountUser({ authRequestId, identifier: user });
  return {
    pending,
    link: magic.link,
    expirySeconds: Number(magic.expiry.seconds),
    browser,
    waiting,
    mismatch,
    redirect: verified.postUserVerifyRedirectUrl,
    active: account((await actions.getConnectedAccount({ connectedAccountId: pending.id })).connectedAccount),
    reused: await failure(() => actions.verifyConnectedAccountUser({ authRequestId, identifier: user })),
  };
}

async function tools(sdk, actions) {
  const gmail = (
    await actions.createConnectedAccount({
      connectionName: "gmail",
      identifier: user,
      authorizationDetails: oauth(env.FLOW_ACCESS, "rt-1", []),
    })
  ).connectedAccount;
  const exa = (
    await actions.createConnectedAccount({
      connectionName: "exa",
      identifier: user,
      authorizationDetails: staticAuth(env.FLOW_API_KEY),
    })
  ).connectedAccount;
  const input = { max_results: 3 };
  const byName = await actions.executeTool({ toolName: "gmail_fetch_mails", toolInput: input, identifier: user, connector: "gmail" });
  const byId = await actions.executeTool({ toolName: "gmail_fetch_mails", toolInput: input, connectedAccountId: gmail.id });
  const search = await actions.executeTool({
    toolName: "exa_search",
    toolInput: { query: "otters", num_results: 2 },
    connectedAccountId: exa.id,
  });
  const listed = async (filter) => toolNames((await sdk.tools.listTools({ filter })).tools);
  const scoped = await sdk.tools.listScopedTools(user, { filter: {} });
  const scopedExa = await sdk.tools.listScopedTools(user, { filter: { providers: ["EXA"] } });
  const available = await sdk.tools.listAvailableTools(user);
  return {
    accounts: { gmail: gmail.id, exa: exa.id },
    executed: {
      byName: byName.data.messages.map((m) => m.id),
      byId: byId.data.messages.map((m) => m.id),
      executionIds: [byName.executionId, byId.executionId],
      search: search.data.results.map((r) => r.title),
    },
    listed: {
      all: await listed(undefined),
      provider: await listed({ provider: "GOOGLE" }),
      toolNames: await listed({ toolName: ["exa_search", "slack_send_message"] }),
      identifier: await listed({ identifier: user }),
      query: await listed({ query: "gmail fetch" }),
      summary: (await sdk.tools.listTools({ filter: { provider: "EXA", summary: true } })).toolNames,
    },
    shortQuery: await failure(() => sdk.tools.listTools({ filter: { query: "ab" } })),
    scoped: scoped.tools.map((s) => [s.tool.definition.name, s.identifier, s.connectedAccountId]),
    scopedTotal: scoped.totalSize,
    scopedExa: scopedExa.tools.map((s) => s.tool.definition.name),
    available: toolNames(available.tools),
  };
}

async function main() {
  const sdk = new ScalekitClient(env.SCALEKIT_ENV_URL, env.SCALEKIT_CLIENT_ID, env.SCALEKIT_CLIENT_SECRET);
  const actions = sdk.actions;
  const results = { accounts: await accounts(actions) };
  results.verification = await verification(actions);
  results.tools = await tools(sdk, actions);
  const connections = async (params) => {
    const answer = await actions.listConnections(params);
    return { ...answer, connections: answer.connections.map(({ createdAt, ...plain }) => plain) };
  };
  results.connections = { all: await connections(), google: await connections({ provider: "GOOGLE" }) };
  console.log(JSON.stringify({ event: "results", ...results }));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.log(JSON.stringify({ event: "crashed", class: error.constructor.name, message: String(error.message) }));
    process.exit(1);
  },
);
