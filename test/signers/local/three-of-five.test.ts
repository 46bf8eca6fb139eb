/**
 * A 3-of-5 cluster of five node processes: one DKG across all five, signatures by
 * any three, still signing with two nodes killed, no quorum with three killed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Policy } from "../../../src/policy/types.js";
import { QuorumUnavailable } from "../../../src/signers/local/cluster.js";
import { startTestCluster, type TestCluster } from "../../helpers/cluster.js";
import { agentState, CHAIN_ID, createAgent, killNode, signNextThroughCluster } from "./by-hand.js";

const policy: Policy = {
  chains: [CHAIN_ID],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } },
};
const agentId = "five";

let tc: TestCluster;
let address = "";
before(async () => {
  tc = await startTestCluster(3, 5);
});
after(async () => tc?.stop());

const signNext = (seq: number) => signNextThroughCluster(tc, agentId, address, seq);

let firstSigners: number[] = [];
const killed: number[] = [];

test("a 3-of-5 DKG across five processes yields one key; three nodes sign", async () => {
  address = await createAgent(tc, agentId, policy);
  for (let i = 0; i < 5; i++) {
    assert.equal((await agentState(tc, i, agentId)).address, address, `node ${i} holds a share`);
  }
  firstSigners = (await signNext(1)).signers;
  assert.equal(firstSigners.length, 3);
});

test("with two of five nodes killed, the remaining three still sign", async () => {
  // Two of the quorum the cluster prefers, so it has to route around them.
  for (const i of firstSigners.slice(0, 2)) {
    await killNode(tc, i);
    killed.push(i);
  }
  const sig = await signNext(2);
  assert.deepEqual(
    sig.signers,
    [0, 1, 2, 3, 4].filter((i) => !killed.includes(i)),
  );
});

test("with three of five nodes killed, there is no quorum", async () => {
  const dead = [0, 1, 2, 3, 4].find((i) => !killed.includes(i)) as number;
  await killNode(tc, dead);
  killed.push(dead);
  await assert.rejects(signNext(3), (err: unknown) => {
    assert.ok(err instanceof QuorumUnavailable, `expected QuorumUnavailable, got ${String(err)}`);
    for (const k of killed) assert.match(err.message, new RegExp(`node-${k}\\b`));
    return true;
  });
  for (const i of [0, 1, 2, 3, 4].filter((x) => !killed.includes(x))) {
    assert.equal((await agentState(tc, i, agentId)).lastSeq, 2, `node ${i} recorded nothing`);
  }
});
