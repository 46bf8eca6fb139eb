/**
 * A vault on PostgreSQL whose database goes away (every connection cut, new ones refused):
 * requests fail with 503 and a stable code, never a 500 and never a signature without its
 * record; when the database is back the vault serves again without a restart, and every
 * signature it acknowledged is in the ledger and the chain verifies.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { asAdmin, pgDatabase } from "../helpers/pg.js";
import { BASE_SEPOLIA, ethTx, startTestVault, type TestVault } from "../helpers/vault.js";

let tv: TestVault;
let db: { url: string; drop(): Promise<void> };
let name: string;

/** The database is gone: its connections are cut and new ones refused. */
async function loseDatabase(): Promise<void> {
  await asAdmin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await asAdmin(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
  );
}

before(async () => {
  db = await pgDatabase();
  name = new URL(db.url).pathname.slice(1);
  // VAULT_THRESHOLD set: a first start of its own (the shared snapshot is a SQLite vault).
  tv = await startTestVault({ VAULT_DATABASE_URL: db.url, VAULT_THRESHOLD: "2-of-3" });
});

after(async () => {
  await tv?.stop();
  await asAdmin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
  await db?.drop();
});

test("the database lost: 503 with a code, nothing signed unrecorded; back: served again, nothing lost", async () => {
  const agent = await tv.createAgent({
    chains: [BASE_SEPOLIA],
    assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } },
  });
  const key = await tv.issueKey(agent.id, ["EXECUTE", "SPEND"]);
  const sign = (nonce: number) =>
    tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: key.auth,
      payload: { tx: ethTx({ nonce }) },
    });
  const acknowledged: number[] = [];
  const first = await sign(1);
  assert.equal(first.statusCode, 200, first.body);
  acknowledged.push(1);

  await loseDatabase();
  for (const nonce of [2, 3, 4]) {
    const res = await sign(nonce);
    assert.equal(res.statusCode, 503, res.body);
    assert.ok(["STORE_UNAVAILABLE", "AUDIT_UNAVAILABLE"].includes(res.json().error.code), res.body);
    assert.equal(res.json().signedTransaction, undefined);
  }
  const ready = await tv.app.inject({ method: "GET", url: "/healthz" });
  assert.equal(ready.statusCode, 200, "the process is alive and answering");

  await asAdmin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
  for (const nonce of [5, 6]) {
    const res = await sign(nonce);
    assert.equal(res.statusCode, 200, res.body);
    acknowledged.push(nonce);
  }
  const signed = await tv.vault.store.sql.all<{ intent: string }>(
    "SELECT intent FROM sign_requests WHERE agent_id = $1 AND status = 'signed' ORDER BY seq",
    [agent.id],
  );
  assert.deepEqual(
    signed.map((r) => (JSON.parse(r.intent) as { tx: { nonce: number } }).tx.nonce),
    acknowledged,
  );
  assert.equal((await tv.vault.audit.verify()).ok, true);
});
