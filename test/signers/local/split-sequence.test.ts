import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Policy } from "../../../src/policy/types.js";
import { inboxFor } from "../../../src/signers/local/protocol.js";
import { startTestCluster, type TestCluster } from "../../helpers/cluster.js";
import {
  contribute,
  createAgent,
  ethTransfer,
  newSessionId,
  presign,
  recoverSignature,
  refused,
  signByHand,
} from "./by-hand.js";

const policy: Policy = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "0.03", maxPer24h: "0.05" } },
};

let tc: TestCluster;
before(async () => {
  tc = await startTestCluster(2, 3);
});
after(async () => tc?.stop());

test("quorum members must sign at the same sequence number: a split sequence yields no signature", async () => {
  // If a vault could give each member of a quorum its own "next" sequence number, each
  // node would check the cap against a different history, and the two histories could
  // each leave out a spend the other holds. The sequence number is bound into the sealed
  // last message, so a combiner refuses contributions made at another sequence number.
  const agentId = "split";
  const address = await createAgent(tc, agentId, policy);
  const a = await signByHand(tc, {
    agentId,
    address,
    quorum: [1, 2],
    seq: 1,
    intent: ethTransfer("0.025", 0),
  });
  const p = await presign(tc, agentId, [0, 1]);
  const sid = newSessionId();
  const b = ethTransfer("0.025", 1);
  // Node 0 has no record yet: seq 1 is its "next"; node 1's next is 2.
  const at0 = await contribute(tc, 0, sid, { agentId, seq: 1, intent: b, presigId: p });
  assert.ok(a.signature);
  const at1 = await contribute(tc, 1, sid, { agentId, seq: 2, intent: b, presigId: p });
  for (const combiner of [0, 1]) {
    await assert.rejects(
      tc.cluster
        .client(combiner)
        .call("sign.combine", sid, { messages: inboxFor(combiner, [at0, at1]) }),
      refused("BAD_MESSAGE"),
      `node ${combiner} refuses to combine across sequence numbers`,
    );
  }
});

test("contribute-and-combine in one call keeps the same binding: no signature across sequence numbers, and only the combiner combines", async () => {
  const agentId = "split-fast";
  const address = await createAgent(tc, agentId, policy);
  await signByHand(tc, {
    agentId,
    address,
    quorum: [1, 2],
    seq: 1,
    intent: ethTransfer("0.02", 0),
  });
  const b = ethTransfer("0.02", 1);
  const p = await presign(tc, agentId, [0, 1]);
  const sid = newSessionId();
  // Node 0 (no record yet) contributes at seq 1; node 1, the combiner, at seq 2 with node 0's messages.
  const at0 = await contribute(tc, 0, sid, {
    agentId,
    seq: 1,
    intent: b,
    presigId: p,
    combiner: 1,
  });
  await assert.rejects(
    contribute(tc, 1, sid, {
      agentId,
      seq: 2,
      intent: b,
      presigId: p,
      combiner: 1,
      combineWith: inboxFor(1, [at0]),
    }),
    refused("BAD_MESSAGE"),
    "the combiner refuses messages sealed at another sequence number",
  );

  // A member that is not the combiner is refused before anything is consumed: its
  // presignature still serves the honest signature that follows, made the vault's way.
  const fresh = "split-fast-2";
  const freshAddress = await createAgent(tc, fresh, policy);
  const q = await presign(tc, fresh, [0, 2]);
  const sid2 = newSessionId();
  const intent = ethTransfer("0.01", 0);
  const body = { agentId: fresh, seq: 1, intent, presigId: q, combiner: 2 };
  await assert.rejects(
    contribute(tc, 0, sid2, { ...body, combineWith: [] }),
    refused("NODE_BAD_REQUEST", { field: "combineWith" }),
  );
  const at0b = await contribute(tc, 0, sid2, body);
  const signed = await contribute(tc, 2, sid2, { ...body, combineWith: inboxFor(2, [at0b]) });
  assert.deepEqual(signed.messages, []);
  assert.ok(signed.r && signed.s, "the combiner returned the signature");
  recoverSignature({ r: signed.r, s: signed.s }, signed.digest, freshAddress);
});
