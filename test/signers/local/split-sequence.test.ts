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
