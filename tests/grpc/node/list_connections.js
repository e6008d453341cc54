// The official Node SDK's `actions.listConnections()`, unmodified, against the sandbox named by
// SCALEKIT_ENV_URL: every page (LIST_PAGE_SIZE at a time) and a provider filter. Prints one
// JSON line with what the SDK answered.
"use strict";
const { ScalekitClient } = require("@scalekit-sdk/node");

const env = process.env;
const pageSize = Number(env.LIST_PAGE_SIZE);
// The SDK's normalized fields (createdAt, a protobuf Timestamp, is left out: not JSON).
const shown = (c) => ({
  id: c.id,
  connectionName: c.connectionName,
  provider: c.provider,
  type: c.type,
  status: c.status,
  enabled: c.enabled,
});

async function main() {
  const sdk = new ScalekitClient(env.SCALEKIT_ENV_URL, env.SCALEKIT_CLIENT_ID, env.SCALEKIT_CLIENT_SECRET);
  const pages = [];
  let pageToken;
  let totalSize;
  do {
    const page = await sdk.actions.listConnections({ pageSize, pageToken });
    pages.push(page.connections.map(shown));
    totalSize = page.totalSize;
    pageToken = page.nextPageToken || undefined;
  } while (pageToken);
  const filtered = await sdk.actions.listConnections({ provider: env.LIST_PROVIDER });
  console.log(JSON.stringify({ pages, totalSize, filtered: filtered.connections.map(shown) }));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.log(JSON.stringify({ crashed: error.constructor.name, message: String(error.message) }));
    process.exit(1);
  },
);
