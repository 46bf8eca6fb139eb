/**
 * Liveness of a 2-of-3 cluster of real node processes: a SIGKILLed node is routed
 * around, two leave no quorum (and the error names them), and a respawned node comes
 * back and signs, catching up from the vault's signed records. The nodes killed are
 * ones the cluster would pick, so it has to find out they are dead.
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
const agentId = "survivor";

let tc: TestCluster;
let address = "";
let firstSigners: number[] = [];
const killed: number[] = [];
before(async () => {
  tc = await startTestCluster(2, 3);
  address = await createAgent(tc, agentId, policy);
  // All alive: the signers are the quorum the cluster prefers for this agent.
  firstSigners = (await signNext(1)).signers;
});
after(async () => tc?.stop());

const signNext = (seq: number) => signNextThroughCluster(tc, agentId, address, seq);

test("with one of three nodes killed, the other two still sign", async () => {
  const dead = firstSigners[0] as number;
  await killNode(tc, dead);
  killed.push(dead);
  const sig = await signNext(2);
  assert.ok(!sig.signers.includes(dead), `the signers ${sig.signers} exclude node ${dead}`);
  assert.equal(sig.signers.length, 2);
  for (const s of tc.cluster.nodes()) {
    if (s.index === dead) {
      assert.equal(s.up, false, `node ${dead} is marked down`);
      assert.match(s.lastError ?? "", new RegExp(`node-${dead}`), "with a reason");
    } else {
      assert.equal(s.up, true, `node ${s.index} is up`);
    }
  }
});

test("with two of three nodes killed, signing fails with QuorumUnavailable naming them", async () => {
  const [survivor, dead] = [0, 1, 2].filter((i) => !killed.includes(i)) as [number, number];
  await killNode(tc, dead);
  killed.push(dead);
  await assert.rejects(signNext(3), (err: unknown) => {
    assert.ok(err instanceof QuorumUnavailable, `expected QuorumUnavailable, got ${String(err)}`);
    for (const k of killed) assert.match(err.message, new RegExp(`node-${k}\\b`));
    assert.doesNotMatch(err.message, new RegExp(`node-${survivor}\\b`));
    return true;
  });
  for (const s of tc.cluster.nodes()) assert.equal(s.up, s.index === survivor);
  assert.equal((await agentState(tc, survivor, agentId)).lastSeq, 2, "nothing recorded alone");
});

test("a respawned node is up again after a health check and signs, caught up from the records", async () => {
  for (const k of killed) await tc.supervisor.respawn(k);
  await tc.cluster.checkHealth();
  assert.ok(
    tc.cluster.nodes().every((s) => s.up && s.lastError === undefined),
    "all three are up",
  );
  const first = killed[0] as number;
  assert.equal((await agentState(tc, first, agentId)).lastSeq, 1, `node ${first} missed seq 2`);
  const sig = await signNext(3);
  const back = sig.signers.filter((i) => killed.includes(i));
  assert.ok(back.length > 0, `a respawned node took part (signers ${sig.signers})`);
  for (const i of back) {
    assert.equal((await agentState(tc, i, agentId)).lastSeq, 3, `node ${i} caught up and signed`);
  }
});
