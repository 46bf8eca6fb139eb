/**
 * A node busy with key generation still answers its health check: DKG and presignature
 * rounds run in the node's engine thread (src/node/engine-host.ts), not on the event
 * loop that serves /healthz and the online signing step. Three DKGs run back to back
 * (as agent creation does) while every node is polled with the vault's own check
 * (NodeClient.healthy, 1 s timeout) and an existing agent keeps signing.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { getBytes, hashMessage, hexlify, recoverAddress } from "ethers";
import { authorize } from "../../src/auth/admin-authority.js";
import { startTestCluster, TEST_ADMIN_KEY, type TestCluster } from "../helpers/cluster.js";
import { createAgent } from "../signers/local/by-hand.js";

let tc: TestCluster;
let address = "";
before(async () => {
  tc = await startTestCluster(2, 3);
  address = await createAgent(tc, "steady", {
    chains: [8453],
    assets: {},
    allowMessageSigning: true,
  });
});
after(async () => tc?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("during DKGs every node passes the vault's 1 s health check, and an agent keeps signing", async (t) => {
  let busy = true;
  const failed: number[] = [];
  const latencies: number[] = [];
  const polls = [0, 1, 2].map(async (i) => {
    while (busy) {
      const start = performance.now();
      if (!(await tc.cluster.client(i).healthy())) failed.push(i);
      latencies.push(performance.now() - start);
      await sleep(50);
    }
  });
  const dkgs = (async () => {
    for (let k = 0; k < 3; k++) {
      const agentId = `busy-${k}`;
      const auth = authorize(TEST_ADMIN_KEY, {
        op: "agent.create",
        agentId,
        policyVersion: 0,
        policy: null,
      });
      await tc.cluster.generateKey(agentId, auth, undefined);
    }
  })().finally(() => {
    busy = false;
  });
  let seq = 0;
  while (busy) {
    const message = hexlify(new TextEncoder().encode(`during dkg ${++seq}`));
    const digest = hashMessage(getBytes(message));
    const intent = { kind: "message" as const, message };
    const sig = await tc.cluster.signDigest({ agentId: "steady", seq, intent, digest, address });
    assert.equal(recoverAddress(digest, sig.signature), address);
  }
  await dkgs;
  await Promise.all(polls);
  latencies.sort((a, b) => a - b);
  t.diagnostic(
    `/healthz during DKG: ${latencies.length} polls, p50 ${latencies[latencies.length >> 1]?.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms; ${seq} signatures`,
  );
  assert.deepEqual(failed, [], "nodes that missed a health check while busy");
  assert.ok(seq >= 1, "the agent signed while the DKGs ran");
});
