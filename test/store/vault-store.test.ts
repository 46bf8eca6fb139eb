/**
 * The vault store hands out domain values, not rows (src/store/vault-store.ts), the same on
 * both engines: parsed policies, `Spend[]` with bigint amounts through the one spends codec
 * (src/policy/spends.ts, which the nodes read too), typed sign records, PKPs and scopes.
 */
import assert from "node:assert/strict";
import { spendsToJson } from "../../src/policy/spends.js";
import type { Policy, SignIntent, Spend } from "../../src/policy/types.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { onBothEngines } from "../helpers/engines.js";

const POLICY: Policy = {
  chains: [8453],
  assets: { ETH: { maxPerTx: "0.5", maxPer24h: "2" } },
  recipients: ["0x1111111111111111111111111111111111111111"],
  rateLimitPerMinute: 7,
};

// Beyond 2^64 (a BIGINT column could not hold it) and beyond 2^53 (a double would round it).
const SPENDS: Spend[] = [
  {
    chainId: 8453,
    asset: "ETH",
    amount: 2n ** 200n + 1n,
    recipient: "0x1111111111111111111111111111111111111111",
  },
  {
    chainId: 8453,
    asset: "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913",
    amount: 2n ** 256n - 1n,
    recipient: "0x2222222222222222222222222222222222222222",
    unlimited: true,
  },
];

const INTENT: SignIntent = { kind: "message", message: "0x68656c6c6f" };

async function withAgent(open: () => ReturnType<typeof openVaultStore>) {
  const store = await open();
  await store.putAgent({ id: "agt_v", name: "v", address: "0xa", publicKey: "0x04ab" });
  return store;
}

onBothEngines({
  "an agent comes back typed: backend, PKP and cluster as values": async (f) => {
    const store = await openVaultStore(f.open());
    const pkp = { publicKey: "", actionCid: "QmAction", pkpId: "w1", groupId: "g1" };
    await store.putAgent({
      id: "agt_lit",
      name: "lit",
      address: "0xb",
      publicKey: "",
      backend: "lit-chipotle",
      pkp,
    });
    await store.putAgent({
      id: "agt_loc",
      name: "loc",
      address: "0xc",
      publicKey: "0x04",
      cluster: "c1",
    });
    const lit = await store.agent("agt_lit");
    assert.equal(lit?.backend, "lit-chipotle");
    assert.deepEqual(lit?.pkp, pkp);
    assert.equal(lit?.cluster, undefined);
    const local = await store.agent("agt_loc");
    assert.equal(local?.backend, "local");
    assert.equal(local?.pkp, undefined);
    assert.equal(local?.cluster, "c1");
    assert.ok(!Number.isNaN(Date.parse(local?.createdAt ?? "")));
    // A Chipotle key learnt later lands in the agent and in its PKP alike.
    await store.setAgentPublicKey("agt_lit", "0x04beef");
    const learnt = await store.agent("agt_lit");
    assert.equal(learnt?.publicKey, "0x04beef");
    assert.equal(learnt?.pkp?.publicKey, "0x04beef");
  },

  "the policy in force is the latest version, parsed, with its authorization": async (f) => {
    const store = await withAgent(async () => openVaultStore(f.open()));
    await store.putPolicy("agt_v", 1, { ...POLICY, rateLimitPerMinute: 1 }, "auth-1");
    await store.putPolicy("agt_v", 2, POLICY, "auth-2");
    const p = await store.policy("agt_v");
    assert.equal(p?.version, 2);
    assert.deepEqual(p?.policy, POLICY);
    assert.equal(p?.authorization, "auth-2");
    assert.equal(await store.policy("agt_none"), undefined);
  },

  "a sign record round-trips: intent, bigint spends, status, result and seq": async (f) => {
    const store = await withAgent(async () => openVaultStore(f.open()));
    await store.putSign({
      id: "req_1",
      agentId: "agt_v",
      kind: "message",
      intent: INTENT,
      digest: "0xd1",
      spends: SPENDS,
      status: "reserved",
      createdMs: 1_764_000_000_000,
      credential: "key_1",
    });
    const reserved = await store.sign("req_1");
    assert.deepEqual(reserved, {
      id: "req_1",
      agentId: "agt_v",
      seq: null,
      kind: "message",
      intent: INTENT,
      digest: "0xd1",
      spends: SPENDS,
      status: "reserved",
      result: null,
      signature: null,
      createdMs: 1_764_000_000_000,
      reservedMs: null,
      credential: "key_1",
    });
    const result = { kind: "message" as const, signature: "0xs", address: "0xa" };
    await store.setSign({ id: "req_1", status: "signed", seq: 1, result, signature: "0xs" });
    await store.setReservedAt("req_1", 1_764_000_000_500);
    const signed = await store.sign("req_1");
    assert.equal(signed?.seq, 1);
    assert.deepEqual(signed?.result, result);
    assert.equal(signed?.reservedMs, 1_764_000_000_500);
    assert.deepEqual(await store.signedByDigest("agt_v", "0xd1"), signed);
    assert.deepEqual(await store.signedRange("agt_v", 1, 5), [
      { seq: 1, intent: INTENT, signature: "0xs" },
    ]);
    // The window's view is the same spends, with the approval time as their moment.
    assert.deepEqual(await store.spendsSince("agt_v", 0), [
      { ts: 1_764_000_000_500, spends: SPENDS },
    ]);
  },

  "spends are stored in the codec the nodes read, byte for byte": async (f) => {
    const sql = f.open();
    const store = await withAgent(async () => openVaultStore(sql));
    await store.putSign({
      id: "req_2",
      agentId: "agt_v",
      kind: "message",
      intent: INTENT,
      digest: "0xd2",
      spends: SPENDS,
      status: "pending",
      createdMs: 1,
    });
    const row = await sql.get<{ spends: string }>(
      "SELECT spends FROM sign_requests WHERE id = $1",
      ["req_2"],
    );
    assert.equal(row?.spends, spendsToJson(SPENDS));
  },

  "an API key comes back with its scopes as a list and its lineage": async (f) => {
    const store = await withAgent(async () => openVaultStore(f.open()));
    await store.putKey({
      id: "key_p",
      agentId: null,
      scopes: ["READ", "ADMIN"],
      hash: "h_p",
      parentId: null,
    });
    await store.putKey({
      id: "key_c",
      agentId: "agt_v",
      scopes: ["EXECUTE", "SPEND"],
      hash: "h_c",
      parentId: "key_p",
    });
    const child = await store.keyByHash("h_c");
    assert.deepEqual(child?.scopes, ["EXECUTE", "SPEND"]);
    assert.equal(child?.parentId, "key_p");
    assert.equal(child?.revokedAt, null);
    assert.deepEqual((await store.liveDescendants("key_p")).map((k) => [k.id, k.agentId]).sort(), [
      ["key_c", "agt_v"],
      ["key_p", null],
    ]);
    assert.equal(await store.revokeKey("key_c"), true);
    assert.equal(await store.revokeKey("key_c"), false);
    assert.ok((await store.key("key_c"))?.revokedAt);
  },

  "pinned node identities come back by index": async (f) => {
    const store = await openVaultStore(f.open());
    await store.putNode("c0", { idx: 1, url: "http://n1", signingKey: "s1", agreementKey: "a1" });
    await store.putNode("c0", { idx: 0, url: "http://n0", signingKey: "s0", agreementKey: "a0" });
    // A node that moved keeps its identity: only the URL follows it.
    await store.putNode("c0", { idx: 0, url: "http://moved", signingKey: "x", agreementKey: "y" });
    assert.deepEqual(await store.nodes("c0"), [
      { idx: 0, url: "http://moved", signingKey: "s0", agreementKey: "a0" },
      { idx: 1, url: "http://n1", signingKey: "s1", agreementKey: "a1" },
    ]);
  },
});
