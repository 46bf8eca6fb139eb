/**
 * The cap holds across quorums: every node checks the policy against its own,
 * complete record, and any two 2-of-3 quorums share a node. The vault is played by
 * hand (presignatures on chosen quorums, chosen catch-up records), as a compromised
 * vault would play it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Wallet } from "ethers";
import type { Policy } from "../../../src/policy/types.js";
import type { CatchUpRecord } from "../../../src/protocol/node/wire.js";
import { NodeRefused } from "../../../src/signers/local/node-client.js";
import { startTestCluster, type TestCluster } from "../../helpers/cluster.js";
import {
  agentState,
  CHAIN_ID,
  contribute,
  createAgent,
  digestOf,
  ethTransfer,
  newSessionId,
  presign,
  refused,
  signByHand,
} from "./by-hand.js";

const policy: Policy = {
  chains: [CHAIN_ID],
  assets: { ETH: { maxPerTx: "0.03", maxPer24h: "0.05" } },
};

let tc: TestCluster;
before(async () => {
  tc = await startTestCluster(2, 3);
});
after(async () => tc?.stop());

test("rotating quorums cannot spend past the 24 h cap", async () => {
  const agentId = "rotating";
  const address = await createAgent(tc, agentId, policy);

  // seq 1: 0.03 ETH through {0, 1}.
  const tx1 = ethTransfer("0.03", 0);
  const r1 = await signByHand(tc, { agentId, address, quorum: [0, 1], seq: 1, intent: tx1 });
  tc.records.set(agentId, [r1]);

  // seq 2: 0.02 ETH through {1, 2}. Node 2 has seen nothing yet.
  const tx2 = ethTransfer("0.02", 1);
  const p2 = await presign(tc, agentId, [1, 2]);
  const body2 = { agentId, seq: 2, intent: tx2, presigId: p2 };
  await assert.rejects(
    contribute(tc, 2, newSessionId(), body2),
    refused("NODE_BEHIND", { lastSeq: 0 }),
    "node 2 must not sign seq 2 without knowing seq 1",
  );
  const stranger = Wallet.createRandom().signingKey.sign(digestOf(tx1)).serialized;
  await assert.rejects(
    contribute(tc, 2, newSessionId(), {
      ...body2,
      catchUp: [{ ...r1, signature: stranger }],
    }),
    refused("BAD_CATCH_UP"),
    "a catch-up record signed by another key is refused",
  );
  await assert.rejects(
    contribute(tc, 2, newSessionId(), {
      ...body2,
      catchUp: [{ ...r1, intent: ethTransfer("0.001", 0) }],
    }),
    refused("BAD_CATCH_UP"),
    "seq 1's signature attached to a smaller spend is refused",
  );
  assert.equal((await agentState(tc, 2, agentId)).lastSeq, 0, "refusals left node 2's record");
  const r2 = await signByHand(tc, {
    agentId,
    address,
    quorum: [1, 2],
    seq: 2,
    intent: tx2,
    presigId: p2, // the refusals did not consume it
    catchUp: { 2: [r1] },
  });
  tc.records.set(agentId, [r1, r2]);
  assert.equal((await agentState(tc, 2, agentId)).lastSeq, 2);

  // seq 3: 0.01 ETH (under maxPerTx) through {0, 2}; node 0 has not seen seq 2.
  const tx3 = ethTransfer("0.01", 2);
  const p3 = await presign(tc, agentId, [0, 2]);
  const body3 = { agentId, seq: 3, intent: tx3, presigId: p3 };
  await assert.rejects(
    contribute(tc, 0, newSessionId(), body3),
    refused("NODE_BEHIND", { lastSeq: 1 }),
    "a vault that hides seq 2 from node 0 gets no contribution",
  );
  await assert.rejects(
    contribute(tc, 0, newSessionId(), { ...body3, catchUp: [r2] }),
    refused("POLICY_DENIED", { rule: "maxPer24h" }),
    "node 0, shown seq 2, counts 0.03 + 0.02 + 0.01 > 0.05",
  );
  await assert.rejects(
    contribute(tc, 2, newSessionId(), body3),
    refused("POLICY_DENIED", { rule: "maxPer24h" }),
    "node 2 alone refuses too",
  );
  // Node 1 refuses on policy before it even looks for the presignature: so no
  // quorum of the three ({0,1}, {0,2}, {1,2}) can sign seq 3.
  await assert.rejects(
    contribute(tc, 1, newSessionId(), body3),
    refused("POLICY_DENIED", { rule: "maxPer24h" }),
    "node 1 refuses too",
  );
  for (const i of [0, 2]) {
    const state = await agentState(tc, i, agentId);
    assert.ok(state.presigs.includes(p3), `node ${i}: a refusal does not consume the presignature`);
  }
  assert.equal(
    (await agentState(tc, 0, agentId)).lastSeq,
    1,
    "a refused contribution records nothing",
  );
});

/** What the relabelling test leaves behind: node 0 holds seq 1 only, nodes 1 and 2 hold 1–4. */
const relabelled: { address: string; d2?: CatchUpRecord; z3?: CatchUpRecord; z4?: CatchUpRecord } =
  { address: "" };

test("relabelled catch-up records cannot erase a spend from a node's record", async () => {
  // A vault holds every signature it ever obtained. A signature is over the digest of
  // an intent only; nothing in it says at which sequence number it was recorded. This
  // vault replays honest zero-value signatures under other sequence numbers, over the
  // nodes' own (unsigned) spend records, and skips sequence numbers it cannot fill,
  // trying to get a quorum whose records show no spend at all.
  const agentId = "relabel";
  const address = await createAgent(tc, agentId, policy);
  relabelled.address = address;
  const zero = (nonce: number) => ethTransfer("0", nonce);
  const sign = (quorum: number[], seq: number, intent = zero(seq - 1), catchUp = {}) =>
    signByHand(tc, { agentId, address, quorum, seq, intent, catchUp });

  // Honest history: 0.03 + 0.02 = the whole 24 h cap, then two zero-value signatures
  // by {1, 2} that node 0 never saw.
  const d1 = await sign([0, 1], 1, ethTransfer("0.03", 0));
  const d2 = await sign([1, 2], 2, ethTransfer("0.02", 1), { 2: [d1] });
  const z3 = await sign([1, 2], 3);
  const z4 = await sign([1, 2], 4);
  Object.assign(relabelled, { d2, z3, z4 });

  const relabel = (rec: CatchUpRecord, seq: number): CatchUpRecord => ({ ...rec, seq });
  const attack = async () => {
    // Node 0: z3 shown as seq 1 (over its own record of d1), z4 as seq 4 (2, 3 skipped).
    const z5 = await sign([0, 2], 5, zero(4), { 0: [relabel(z3, 1), z4] });
    const z6 = await sign([0, 2], 6);
    const z7 = await sign([0, 2], 7);
    // Node 1: z5 and z6 over its own records of d1 and d2, z7 as seq 7 (5, 6 skipped).
    return sign([0, 1], 8, ethTransfer("0.03", 7), {
      1: [relabel(z5, 1), relabel(z6, 2), z7],
    });
  };
  let outcome: unknown;
  try {
    outcome = await attack();
  } catch (err) {
    outcome = err;
  }
  // Some node saw through it: a refusal that names a bad record, a gap or the cap.
  const detected = ["BAD_CATCH_UP", "NODE_BEHIND", "SEQ_CONFLICT", "POLICY_DENIED"];
  if (outcome instanceof NodeRefused && detected.includes(outcome.code)) return;
  const states = await Promise.all([0, 1, 2].map((i) => agentState(tc, i, agentId)));
  assert.fail(
    outcome instanceof Error
      ? `the attack failed for another reason: ${outcome.message}`
      : `0.03 + 0.02 + 0.03 ETH signed against a 0.05 ETH 24 h cap: seq 8 = ${JSON.stringify(outcome)}; ` +
          `node records end at ${states.map((x) => x.lastSeq).join(", ")} (d2 at seq ${d2.seq})`,
  );
});

test("a node takes catch-up only as its complete record: a gap is refused", async () => {
  const agentId = "relabel";
  const { address, d2, z3, z4 } = relabelled;
  assert.ok(d2 && z3 && z4, "needs the history of the previous test");
  assert.equal((await agentState(tc, 0, agentId)).lastSeq, 1, "node 0 holds seq 1 only");
  const intent = ethTransfer("0", 4);
  const presigId = await presign(tc, agentId, [0, 2]);
  const body = { agentId, seq: 5, intent, presigId };
  await assert.rejects(
    contribute(tc, 0, newSessionId(), { ...body, catchUp: [z4] }),
    refused("BAD_CATCH_UP"),
    "seq 4 without 2 and 3",
  );
  await assert.rejects(
    contribute(tc, 0, newSessionId(), { ...body, catchUp: [d2, z4] }),
    refused("BAD_CATCH_UP"),
    "seq 2 and 4 without 3",
  );
  assert.equal((await agentState(tc, 0, agentId)).lastSeq, 1, "a refused catch-up is not kept");
  // Control: the complete record is taken, and node 0 signs seq 5 with node 2.
  await signByHand(tc, {
    agentId,
    address,
    quorum: [0, 2],
    seq: 5,
    intent,
    presigId,
    catchUp: { 0: [d2, z3, z4] },
  });
  assert.equal((await agentState(tc, 0, agentId)).lastSeq, 5);
});
