/**
 * The signing service on one database shared by several replicas (issue 12), on both
 * engines (PostgreSQL: a pool per replica). The budget's read-check-write runs in one
 * transaction under the agent's advisory lock, so concurrent decisions from two replicas
 * reserve exactly up to the cap; a whole request holds the agent across replicas (Sql.hold),
 * so sequence numbers reach the nodes once each and in order, and a replica's recovery
 * waits for another's request in flight instead of taking it for unfinished.
 */
import assert from "node:assert/strict";
import { openAuditLog } from "../../src/audit/log.js";
import { decodeIntent } from "../../src/policy/decode.js";
import { decide } from "../../src/services/signing/decide.js";
import { createSigningService } from "../../src/services/signing.js";
import { openDelegationStore } from "../../src/store/delegations.js";
import type { Sql } from "../../src/store/sql/types.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { onBothEngines } from "../helpers/engines.js";
import { ethTransfer, FakeCluster, message, POLICY } from "./signing-fixture.js";

const AGENT = "agt_replicated";
const NOW = Date.parse("2029-06-01T12:00:00Z");

/** One replica: its own connection (pool) to the shared database, and its stores. */
async function replica(sql: Sql, cluster: FakeCluster) {
  const store = await openVaultStore(sql);
  const audit = await openAuditLog(sql);
  const links = await openDelegationStore(sql);
  const signing = createSigningService({ store, audit, cluster, links, now: () => NOW });
  return { store, audit, signing };
}

/** Waits until the cluster has been asked `n` times. */
async function atCluster(cluster: FakeCluster, n: number) {
  for (let i = 0; i < 400 && cluster.calls.length < n; i++)
    await new Promise((r) => setTimeout(r, 5));
  assert.equal(cluster.calls.length, n, "the request reached the cluster");
}

async function twoReplicas(open: () => Sql) {
  const cluster = new FakeCluster();
  const a = await replica(open(), cluster);
  const b = await replica(open(), cluster);
  await a.store.putAgent({
    id: AGENT,
    name: "replicated",
    address: cluster.address,
    publicKey: cluster.key.compressedPublicKey,
  });
  await a.store.putPolicy(AGENT, 1, POLICY, "test");
  return { cluster, a, b };
}

onBothEngines({
  "concurrent decisions from two replicas reserve the budget exactly up to the cap": async (f) => {
    const { a, b } = await twoReplicas(f.open);
    // 0.01 ETH each against 0.05 ETH a day: five fit, whichever replica decides them.
    const decisions = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const r = i % 2 ? b : a;
        const intent = ethTransfer(i + 1, "10000000000000000");
        return decide(
          { store: r.store, audit: r.audit, now: () => NOW },
          { agentId: AGENT, intent, decoded: decodeIntent(intent), actor: "agent:unit" },
        );
      }),
    );
    const reserved = decisions.filter((d) => !d.denied);
    const denied = decisions.filter((d) => d.denied);
    assert.equal(reserved.length, 5);
    assert.ok(denied.every((d) => d.denied?.rule === "maxPer24h"));
    assert.equal((await a.store.spendsSince(AGENT, 0)).length, 5);
    // One audit chain: every decision's entries, in one order that verifies.
    const entries = await b.audit.list(1, 1000, AGENT);
    assert.equal(entries.filter((e) => e.type === "sign.requested").length, 20);
    assert.equal(entries.filter((e) => e.type === "sign.allowed").length, 5);
    assert.equal((await a.audit.verify()).ok, true);
  },

  "two replicas signing for one agent give each sequence number once, in order": async (f) => {
    const { cluster, a, b } = await twoReplicas(f.open);
    // The first request is held at the cluster: no other may reach it meanwhile, from either
    // replica, since the nodes take an agent's numbers strictly in order.
    let open = () => {};
    cluster.next({ kind: "gate", until: new Promise<void>((r) => (open = r)) });
    const first = a.signing.sign(AGENT, message("m0"), "agent:unit");
    await atCluster(cluster, 1);
    const rest = Array.from({ length: 9 }, (_, i) =>
      (i % 2 ? a : b).signing.sign(AGENT, message(`m${i + 1}`), "agent:unit"),
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(cluster.calls.length, 1, "nothing else reached the cluster meanwhile");
    open();
    const outs = await Promise.all([first, ...rest]);
    assert.ok(outs.every((o) => o.status === "signed"));
    // The nodes would refuse a number given twice (SEQ_TAKEN).
    assert.deepEqual(
      cluster.calls.map((c) => c.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(await b.store.lastSeq(AGENT), 10);
  },

  "a replica's recovery waits for another's request at the cluster, and does not redo it": async (
    f,
  ) => {
    const { cluster, a, b } = await twoReplicas(f.open);
    let open = () => {};
    cluster.next({ kind: "gate", until: new Promise<void>((r) => (open = r)) });
    const first = a.signing.sign(AGENT, message("in flight"), "agent:unit");
    for (let i = 0; i < 200 && cluster.calls.length === 0; i++)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal(cluster.calls.length, 1, "the first request is at the cluster");
    assert.equal((await b.store.incomplete(AGENT)).length, 1);
    // B starts (or restarts) meanwhile: its recovery sees A's row incomplete.
    let recovered = false;
    const recovery = b.signing.recoverAll().then(() => {
      recovered = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(recovered, false, "recovery waits while A is at the cluster");
    open();
    assert.equal((await first).status, "signed");
    await recovery;
    assert.equal(cluster.calls.length, 1, "A's request was not sent a second time");
    assert.deepEqual(
      (await b.audit.list(1, 1000, AGENT)).filter((e) => e.type === "sign.signed").length,
      1,
    );
  },
});
