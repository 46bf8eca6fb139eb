/**
 * Nodes honour only the operator's admin authority (the Ed25519 key they were
 * enrolled with): a vault process alone cannot mint agents, widen a policy or roll
 * one back, and a policy the operator did set is enforced by the nodes themselves.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { authorize } from "../../src/auth/admin-authority.js";
import type { Policy } from "../../src/policy/types.js";
import { startTestCluster, TEST_ADMIN_KEY, type TestCluster } from "../helpers/cluster.js";
import {
  agentState,
  CHAIN_ID,
  createAgent,
  digestOf,
  ethTransfer,
  refused,
} from "../signers/local/by-hand.js";

const OTHER_ADMIN_KEY = "av_admin_someone_else_0123456789abcdefghijklmnopqrstuvwxyz";
const v1: Policy = { chains: [CHAIN_ID], assets: { ETH: { maxPerTx: "0.02", maxPer24h: "1" } } };
const v2: Policy = { chains: [CHAIN_ID], assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } } };
const wide: Policy = { chains: [CHAIN_ID], assets: { ETH: { maxPerTx: "1", maxPer24h: "100" } } };
const agentId = "governed";

let tc: TestCluster;
let address = "";
before(async () => {
  tc = await startTestCluster(2, 3);
});
after(async () => tc?.stop());

const policySet = (version: number, policy: Policy, authorization: string) =>
  Promise.all(
    [0, 1, 2].map((i) =>
      tc.cluster.client(i).call("policy.set", `policy-${randomUUID()}`, {
        agentId,
        version,
        policy,
        authorization,
      }),
    ),
  );

async function signNext(seq: number, eth: string) {
  const intent = ethTransfer(eth, seq - 1);
  const sig = await tc.cluster.signDigest({
    agentId,
    seq,
    intent,
    digest: digestOf(intent),
    address,
  });
  tc.records.set(agentId, [
    ...(tc.records.get(agentId) ?? []),
    { seq, intent, signature: sig.signature },
  ]);
  return sig;
}

test("dkg.start needs the operator's authorization for exactly this agent and policy", async () => {
  const gen = (authorization: string, policy = v1) =>
    tc.cluster.generateKey(agentId, authorization, {
      version: 1,
      policy: JSON.stringify(policy),
    });
  const action = { op: "agent.create" as const, agentId, policyVersion: 1, policy: v1 };
  await assert.rejects(gen(authorize(OTHER_ADMIN_KEY, action)), refused("ADMIN_REQUIRED"));
  await assert.rejects(
    gen(authorize(TEST_ADMIN_KEY, action), wide),
    refused("ADMIN_REQUIRED"),
    "authorized for v1, sent with a wider policy",
  );
  await assert.rejects(
    gen(authorize(TEST_ADMIN_KEY, { ...action, agentId: "another-agent" })),
    refused("ADMIN_REQUIRED"),
    "authorized for another agent",
  );
  await assert.rejects(gen(""), refused("ADMIN_REQUIRED"), "no authorization");
  // Control: the operator's own authorization creates it.
  address = await createAgent(tc, agentId, v1);
  for (const i of [0, 1, 2]) {
    assert.equal((await agentState(tc, i, agentId)).policyVersion, 1);
  }
});

test("policy.set needs the operator's authorization for exactly the policy sent", async () => {
  await assert.rejects(
    policySet(
      2,
      wide,
      authorize(TEST_ADMIN_KEY, { op: "policy.set", agentId, version: 2, policy: v2 }),
    ),
    refused("ADMIN_REQUIRED"),
    "an authorization for v2 does not carry a wider policy",
  );
  await assert.rejects(
    policySet(
      2,
      wide,
      authorize(OTHER_ADMIN_KEY, { op: "policy.set", agentId, version: 2, policy: wide }),
    ),
    refused("ADMIN_REQUIRED"),
    "another admin key",
  );
  await assert.rejects(
    policySet(
      3,
      v2,
      authorize(TEST_ADMIN_KEY, { op: "policy.set", agentId, version: 2, policy: v2 }),
    ),
    refused("ADMIN_REQUIRED"),
    "an authorization for version 2 sent as version 3",
  );
  for (const i of [0, 1, 2]) {
    assert.equal((await agentState(tc, i, agentId)).policyVersion, 1, `node ${i} unchanged`);
  }
});

test("a valid policy.set is applied and enforced by the nodes; older versions are stale", async () => {
  const sig1 = await signNext(1, "0.02");
  assert.equal(sig1.signers.length, 2, "0.02 ETH is allowed under v1");

  const results = await policySet(
    2,
    v2,
    authorize(TEST_ADMIN_KEY, { op: "policy.set", agentId, version: 2, policy: v2 }),
  );
  assert.deepEqual(results, [{ version: 2 }, { version: 2 }, { version: 2 }]);

  // Genuine but older authorizations cannot roll the policy back.
  const again = (version: number, policy: Policy) =>
    policySet(
      version,
      policy,
      authorize(TEST_ADMIN_KEY, { op: "policy.set", agentId, version, policy }),
    );
  await assert.rejects(again(1, v1), refused("POLICY_STALE"), "v1 replayed");
  await assert.rejects(again(2, wide), refused("POLICY_STALE"), "another policy at version 2");

  await assert.rejects(
    signNext(2, "0.02"),
    refused("POLICY_DENIED", { rule: "maxPerTx" }),
    "the amount v1 allowed is refused under v2",
  );
  const sig2 = await signNext(2, "0.01");
  assert.equal(sig2.signers.length, 2, "v2's own limit still signs");
});
