/**
 * A DKLs23 presignature bound to two digests exposes the key, so a node consumes
 * one durably (deleted in the same transaction that records the spend) before it
 * binds it to a digest, and never offers it again: not for another digest, not for
 * the same one, not after a kill -9, and never on a node outside its quorum.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Policy } from "../../../src/policy/types.js";
import { startTestCluster, type TestCluster } from "../../helpers/cluster.js";
import {
  agentState,
  CHAIN_ID,
  contribute,
  createAgent,
  ethTransfer,
  killNode,
  newSessionId,
  presign,
  refused,
  signByHand,
} from "./by-hand.js";

const policy: Policy = {
  chains: [CHAIN_ID],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } },
};
const agentId = "once";

let tc: TestCluster;
let address = "";
before(async () => {
  tc = await startTestCluster(2, 3);
  address = await createAgent(tc, agentId, policy);
});
after(async () => tc?.stop());

test("a presignature is never used twice", async () => {
  const p = await presign(tc, agentId, [0, 1]);
  const r1 = await signByHand(tc, {
    agentId,
    address,
    quorum: [0, 1],
    seq: 1,
    intent: ethTransfer("0.001", 0),
    presigId: p,
  });
  tc.records.set(agentId, [r1]);

  for (const i of [0, 1]) {
    await assert.rejects(
      contribute(tc, i, newSessionId(), {
        agentId,
        seq: 2,
        intent: ethTransfer("0.002", 1),
        presigId: p,
      }),
      refused("UNKNOWN_PRESIG"),
      `node ${i}: P again, for a new seq and digest`,
    );
    await assert.rejects(
      contribute(tc, i, newSessionId(), { agentId, seq: 1, intent: r1.intent, presigId: p }),
      refused("UNKNOWN_PRESIG"),
      `node ${i}: P again, for the very digest it signed`,
    );
    const state = await agentState(tc, i, agentId);
    assert.equal(state.lastSeq, 1, `node ${i}: the refused seq 2 was not recorded`);
    assert.ok(!state.presigs.includes(p));
  }
});

test("a consumed presignature stays consumed across a kill -9 and restart", async () => {
  const q = await presign(tc, agentId, [0, 1]);
  const spare = await presign(tc, agentId, [0, 1]);
  const tx2 = ethTransfer("0.002", 1);
  // Node 0 contributes with Q (its record of seq 2 and Q's deletion commit together),
  // then dies before any combine.
  await contribute(tc, 0, newSessionId(), { agentId, seq: 2, intent: tx2, presigId: q });
  await killNode(tc, 0);
  await tc.supervisor.respawn(0); // same port, so the same NodeClient URL

  const state = await agentState(tc, 0, agentId);
  assert.equal(state.lastSeq, 2, "node 0 kept its record of seq 2");
  assert.ok(state.presigs.includes(spare), "an unused presignature survives the restart");
  assert.ok(!state.presigs.includes(q), "the consumed one is gone from the store");
  await assert.rejects(
    contribute(tc, 0, newSessionId(), { agentId, seq: 2, intent: tx2, presigId: q }),
    refused("UNKNOWN_PRESIG"),
    "Q is refused after the restart",
  );
  await assert.rejects(
    contribute(tc, 0, newSessionId(), {
      agentId,
      seq: 3,
      intent: ethTransfer("0.003", 2),
      presigId: q,
    }),
    refused("UNKNOWN_PRESIG"),
    "Q is refused for a later seq too",
  );
  // Seq 2 completes on a fresh presignature; node 0 counts its retry once.
  const r2 = await signByHand(tc, {
    agentId,
    address,
    quorum: [0, 1],
    seq: 2,
    intent: tx2,
    presigId: spare,
  });
  tc.records.set(agentId, [...(tc.records.get(agentId) ?? []), r2]);
  assert.equal((await agentState(tc, 0, agentId)).lastSeq, 2);
});

test("a presignature made for quorum {0,1} is refused by node 2", async () => {
  const p01 = await presign(tc, agentId, [0, 1]);
  // Node 2 has seen nothing: shown the true records it would contribute, if it held P.
  await assert.rejects(
    contribute(tc, 2, newSessionId(), {
      agentId,
      seq: 3,
      intent: ethTransfer("0.003", 2),
      presigId: p01,
      catchUp: tc.records.get(agentId) ?? [],
    }),
    refused("UNKNOWN_PRESIG"),
  );
  const state = await agentState(tc, 2, agentId);
  assert.equal(state.lastSeq, 0, "the refused contribution (and its catch-up) left no record");
  for (const i of [0, 1]) {
    assert.ok((await agentState(tc, i, agentId)).presigs.includes(p01), `node ${i} still holds P`);
  }
});
