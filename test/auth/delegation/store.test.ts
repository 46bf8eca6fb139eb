/**
 * The delegation tables (src/store/delegations.ts) on both storage engines: roots, keys,
 * revocations, status-list indexes, single-use invocations and the links each sign request
 * went through, with the spends counted against them; a SQLite file from before the
 * status and budget columns is adopted with its rows.
 */
import assert from "node:assert/strict";
import { spendsToJson } from "../../../src/policy/spends.js";
import type { Spend } from "../../../src/policy/types.js";
import { openDatabase } from "../../../src/store/db.js";
import { openDelegationStore } from "../../../src/store/delegations.js";
import { openVaultStore } from "../../../src/store/vault-store.js";
import { onBothEngines } from "../../helpers/engines.js";

const row = (cid: string, agent = "agt_a", created = 1) => ({
  cid,
  agent_id: agent,
  audience: "did:key:zAudience",
  token: `token-${cid}`,
  expires_ms: 9_000_000_000_000,
  created_ms: created,
});

onBothEngines({
  "roots, keys, revocations and status indexes round-trip": async (f) => {
    const sql = f.open();
    const store = await openDelegationStore(sql);
    assert.equal(await store.newStatusIndex(1), 0);
    assert.equal(await store.newStatusIndex(2), 1);
    // Indexes copied in from another database (agent-vault db copy) are never handed out again.
    await sql.run("INSERT INTO delegation_status (idx, created_ms) VALUES (6, 3)");
    assert.equal(await store.newStatusIndex(4), 6);
    await store.put(row("c1", "agt_a", 2));
    await store.put(row("c0", "agt_a", 1));
    await store.put({ ...row("c0"), token: "another" }); // the first one stays
    await store.put(row("c2", "agt_b"));
    assert.deepEqual(await store.get("c0"), row("c0", "agt_a", 1));
    assert.equal(await store.get("nope"), undefined);
    assert.deepEqual(
      (await store.list("agt_a")).map((r) => r.cid),
      ["c0", "c1"],
    );
    await store.setStatusIndex("c0", 0);
    await store.setStatusIndex("c1", 1);
    assert.equal(await store.revoke("c1", 50, "admin"), true);
    assert.equal(await store.revoke("c1", 60, "admin"), false);
    assert.equal(await store.revokedAt("c1"), 50);
    assert.equal(await store.revokedAt("c0"), undefined);
    assert.deepEqual(await store.revokedIndexes(), [1]);
    assert.equal(await store.firstRevoked(["c0", "c2", "c1"]), 2);
    assert.equal(await store.firstRevoked(["c0"]), -1);
    assert.equal(await store.firstRevoked([]), -1);

    assert.equal(await store.key("agt_a"), undefined);
    const first = await store.putKey("agt_a", "did:key:z1", "pem-1");
    assert.deepEqual(first, { did: "did:key:z1", private_pem: "pem-1" });
    // A second key for the same agent (another replica's) never replaces the first.
    assert.deepEqual(await store.putKey("agt_a", "did:key:z2", "pem-2"), first);
    assert.deepEqual(await store.key("agt_a"), first);
    assert.equal(await store.agentOfDid("did:key:z1"), "agt_a");
    assert.equal(await store.agentOfDid("did:key:z2"), undefined);
  },

  "an invocation is used once, by one replica, and forgotten once expired": async (f) => {
    const a = await openDelegationStore(f.open());
    const b = await openDelegationStore(f.open());
    const used = await Promise.all([
      a.useInvocation("inv1", 1_000, 10),
      b.useInvocation("inv1", 1_000, 10),
    ]);
    assert.deepEqual(used.sort(), [false, true]);
    assert.equal(await a.useInvocation("inv1", 1_000, 500), false);
    // Past its expiry it is purged (its iat/exp checks refuse it before it gets here).
    assert.equal(await b.useInvocation("inv2", 5_000, 2_000), true);
    assert.equal(await b.useInvocation("inv1", 3_000, 2_000), true);
  },

  "a request's links and the spends and requests counted against each": async (f) => {
    const sql = f.open();
    const vault = await openVaultStore(sql);
    const store = await openDelegationStore(sql);
    await vault.putAgent({ id: "agt_a", name: "a", address: "0xa", publicKey: "04" });
    // Each request spends its creation time in wei, so every sum names its rows.
    const spendOf = (wei: number): Spend[] => [
      { chainId: 1, asset: "ETH", amount: BigInt(wei), recipient: "0xb" },
    ];
    const request = async (id: string, status: string, created: number, reserved?: number) =>
      sql.run(
        `INSERT INTO sign_requests (id, agent_id, seq, kind, intent, digest, spends, status,
           created_ms, reserved_ms) VALUES ($1, 'agt_a', NULL, 'message', '{}', 'd', $2, $3, $4, $5)`,
        [id, spendsToJson(spendOf(created)), status, created, reserved ?? null],
      );
    const caps = { ETH: { maxPerTx: "1", maxPer24h: "2" } };
    await request("r1", "signed", 100);
    await request("r2", "failed", 200);
    await request("r3", "pending", 50, 300);
    await request("r4", "reserved", 400);
    await store.putLinks("r1", [{ cid: "root", caps }, { cid: "mid" }]);
    await store.putLinks("r2", [{ cid: "root", caps }]);
    await store.putLinks("r3", [{ cid: "root", caps }]);
    await store.putLinks("r4", [
      { cid: "root", caps },
      { cid: "mandate-x", expiresMs: 900 },
    ]);
    await store.putLinks("r4", [{ cid: "root", caps }]); // again: nothing changes
    await store.putLinks("r5", []);
    assert.deepEqual(await store.linksOf("r1"), [{ cid: "root", caps }, { cid: "mid" }]);
    assert.deepEqual(await store.linksOf("r4"), [
      { cid: "root", caps },
      { cid: "mandate-x", expiresMs: 900 },
    ]);
    assert.deepEqual(await store.linksOf("r5"), []);
    // Counted as the agent's window counts them: live statuses, from approval when approved.
    await sql.run("UPDATE sign_requests SET status = 'reserved' WHERE id = 'r3'");
    const spends = await store.spendsVia("root", 90);
    assert.deepEqual(
      spends.sort((x, y) => x.ts - y.ts),
      [
        { ts: 100, spends: spendOf(100) },
        { ts: 300, spends: spendOf(50) },
        { ts: 400, spends: spendOf(400) },
      ],
    );
    assert.deepEqual(await store.spendsVia("root", 350), [{ ts: 400, spends: spendOf(400) }]);
    assert.equal(await store.requestsVia("root", 0), 4);
    assert.equal(await store.requestsVia("root", 150), 2);
    assert.equal(await store.requestsVia("mid", 0), 1);
    assert.equal(await store.requestsVia("none", 0), 0);
  },

  "a SQLite file from before the status and budget columns is adopted with its rows": {
    only: "sqlite",
    run: async (f) => {
      const db = openDatabase(f.file as string);
      db.exec(`
        CREATE TABLE delegations (
          cid TEXT PRIMARY KEY, agent_id TEXT NOT NULL, audience TEXT NOT NULL, token TEXT NOT NULL,
          expires_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL);
        CREATE TABLE delegation_revocations (
          cid TEXT PRIMARY KEY, revoked_ms INTEGER NOT NULL, actor TEXT NOT NULL);
        CREATE TABLE sign_links (request_id TEXT NOT NULL, cid TEXT NOT NULL,
          PRIMARY KEY (cid, request_id));
        INSERT INTO delegations VALUES ('old', 'agt_a', 'did:key:zAudience', 'token-old', 9000000000000, 1);
        INSERT INTO delegation_revocations VALUES ('old', 5, 'admin');
        INSERT INTO sign_links VALUES ('r0', 'old');`);
      db.close();
      const store = await openDelegationStore(f.open());
      assert.deepEqual(await store.get("old"), row("old"));
      assert.equal(await store.revokedAt("old"), 5);
      assert.deepEqual(await store.linksOf("r0"), [{ cid: "old" }]);
      await store.put(row("new"));
      await store.setStatusIndex("new", await store.newStatusIndex(10));
      await store.revoke("new", 20, "admin");
      assert.deepEqual(await store.revokedIndexes(), [0]);
      await store.putLinks("r1", [{ cid: "new", expiresMs: 7 }]);
      assert.deepEqual(await store.linksOf("r1"), [{ cid: "new", expiresMs: 7 }]);
    },
  },
});
