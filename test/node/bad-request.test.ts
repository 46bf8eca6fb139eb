/**
 * A signer node checks every body against its op's schema (src/protocol/node/ops.ts)
 * before any handler runs: a malformed body, for every op of the table, is refused
 * with NODE_BAD_REQUEST naming the bad field, and the node keeps serving. The table of
 * malformed bodies is keyed by op, so a new op without an entry does not compile, and
 * the test checks it covers NODE_OPS at run time too.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { NODE_BAD_REQUEST, NODE_OPS, type NodeOp } from "../../src/protocol/node/ops.js";
import type { NodeClient } from "../../src/signers/local/node-client.js";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";
import { refused } from "../signers/local/by-hand.js";

let tc: TestCluster;
let node: NodeClient;
before(async () => {
  tc = await startTestCluster(2, 3);
  node = tc.cluster.client(0);
});
after(async () => tc?.stop());

const sealed = { from: 1, to: 0, broadcast: false, iv: "aa", ct: "bb", tag: "cc" };
const intent = { kind: "message", message: "0x00" };

/** Bodies every op refuses: not an object at all. */
const NOT_OBJECTS: unknown[] = [null, [], "body", 42, true];

/** Per op: bodies of the right kind with one field wrong, missing or unknown. */
const MALFORMED: Record<NodeOp, unknown[]> = {
  "cluster.enroll": [
    { n: 3, t: 2, peers: "all", adminPublicKey: "k" },
    { n: 3, t: 2, peers: [] },
    { n: 3, t: 2, peers: [{ index: 0, signingKey: "s" }], adminPublicKey: "k" },
  ],
  "dkg.start": [
    { agentId: 5, authorization: "x" },
    { agentId: "a", authorization: "x", policy: "{}" },
    { agentId: "a" },
  ],
  "dkg.round": [
    { round: 5, messages: [] },
    { round: 2, messages: [{ from: 0 }] },
    { round: 4, messages: [], commitments: [1] },
  ],
  "dkg.finish": [{ messages: "none" }, {}, { messages: [sealed], round: 5 }],
  "presign.start": [
    { agentId: "a", presigId: "p", parties: [0, "1"] },
    { agentId: "a", parties: [0, 1] },
  ],
  "presign.round": [
    { round: 4, messages: [] },
    { round: 2, messages: [{ ...sealed, to: -1 }] },
  ],
  "presign.finish": [{ messages: [{ ...sealed, broadcast: "yes" }] }],
  "sign.contribute": [
    { agentId: "a", seq: -1, intent, presigId: "p" },
    { agentId: "a", seq: 1, intent: { kind: "wire-transfer" }, presigId: "p" },
    { agentId: "a", seq: 1, intent: { kind: "checkpoint", seq: 1, head: "zz" }, presigId: "p" },
    { agentId: "a", seq: 1, intent, presigId: "p", catchUp: [{ seq: 1, intent }] },
    { agentId: "a", seq: 1.5, intent, presigId: "p" },
    {
      agentId: "a",
      seq: 1,
      intent,
      presigId: "p",
      combiner: 0,
      combineWith: [{ ...sealed, iv: 7 }],
    },
  ],
  "sign.combine": [{ messages: null }, { messages: [sealed, { ...sealed, iv: 7 }] }],
  "sign.release": [{ bogus: 1 }],
  "policy.set": [
    { agentId: "a", version: "2", policy: {}, authorization: "x" },
    { agentId: "a", version: 2, policy: [], authorization: "x" },
  ],
  "agent.state": [{ agentId: ["a"] }, { agentId: "a", extra: true }, {}],
  "checkpoint.heads": [{ since: 0 }],
};

test("the malformed-body table covers every op of the protocol", () => {
  assert.deepEqual(Object.keys(MALFORMED).sort(), [...NODE_OPS].sort());
});

for (const op of NODE_OPS) {
  test(`${op}: a malformed body is refused with ${NODE_BAD_REQUEST} before any handler runs`, async () => {
    for (const body of [...NOT_OBJECTS, ...MALFORMED[op]]) {
      await assert.rejects(
        // Deliberately outside the op's type: the node must not trust the vault's compiler.
        node.call(op, `bad-${randomUUID()}`, body as never),
        (err) => {
          refused(NODE_BAD_REQUEST)(err);
          assert.match((err as Error).message, new RegExp(`^${op.replace(".", "\\.")}: body`));
          return true;
        },
        `${op} with ${JSON.stringify(body)}`,
      );
    }
  });
}

test("the node keeps serving after every malformed body", async () => {
  assert.equal(await node.healthy(), true);
  const { checkpoints } = await node.call("checkpoint.heads", "after-bad", {});
  assert.deepEqual(checkpoints, []);
  await assert.rejects(
    node.call("agent.state", "after-bad", { agentId: "nobody" }),
    refused("UNKNOWN_AGENT"),
  );
});
