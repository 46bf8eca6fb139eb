/**
 * What a beat says, against real sockets (no signer processes): a port nobody listens
 * on is "gone" (down at once), a server that does not answer in time is only "missed".
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { probe } from "../../../src/signers/local/cluster/health.js";
import { freePort } from "../../helpers/process.js";

test("nothing listening: the probe says gone", async () => {
  const port = await freePort();
  assert.equal(await probe(`http://127.0.0.1:${port}`, 2000), "gone");
});

test("a server too busy to answer within the timeout: the probe says missed, not gone", async () => {
  const server = createServer(() => {}); // accepts, never answers
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  try {
    assert.equal(await probe(`http://127.0.0.1:${port}`, 300), "missed");
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("a server that answers late but within the timeout: answered", async () => {
  const server = createServer((_req, res) => setTimeout(() => res.end("{}"), 400));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  try {
    assert.equal(await probe(`http://127.0.0.1:${port}`, 3000), "answered");
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
