/**
 * `db copy` (src/store/copy.ts): a SQLite vault copied into a real PostgreSQL database reads
 * back the same (agents, policies, sign ledger, audit chain and its head), and the chain
 * verifies there; a target that already holds a vault is refused and left as it was.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openAuditLog } from "../../src/audit/log.js";
import { migrateSchema } from "../../src/services/schema.js";
import { copyVault, TargetNotEmpty } from "../../src/store/copy.js";
import { openDatabase } from "../../src/store/db.js";
import { createPostgresSql, createSqliteSql, type Sql } from "../../src/store/sql/index.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { PG_URL, pgSchema } from "../helpers/pg.js";

async function sourceVault(): Promise<Sql> {
  const sql = createSqliteSql(
    openDatabase(join(mkdtempSync(join(tmpdir(), "av-copy-")), "v.sqlite")),
  );
  await migrateSchema(sql);
  const store = await openVaultStore(sql);
  const audit = await openAuditLog(sql);
  await store.putAgent({
    id: "agt_1",
    name: "one",
    address: "0xa1",
    publicKey: "0x04",
    cluster: "c0",
  });
  await store.putPolicy(
    "agt_1",
    1,
    { chains: [1], assets: { ETH: { maxPerTx: "5", maxPer24h: "9" } } },
    "auth-1",
  );
  for (let i = 0; i < 30; i++) {
    const intent = { kind: "message" as const, message: `0x0${i % 10}` };
    const spends = [
      { chainId: 1, asset: "ETH", recipient: "0xb0", amount: 10n ** 20n + BigInt(i) },
    ];
    const id = `req_${i}`;
    await store.putSign({
      id,
      agentId: "agt_1",
      kind: "message",
      intent,
      digest: `0x${i}`,
      spends,
      status: "reserved",
      createdMs: 1_700_000_000_000 + i,
    });
    await store.setSign({ id, status: "signed", seq: i + 1, result: null, signature: `0xsig${i}` });
    await audit.append({ type: "sign.signed", agentId: "agt_1", data: { i, big: 10n ** 20n } });
  }
  await store.setMeta("cluster_address", "0xc1");
  return sql;
}

test("a SQLite vault copied to PostgreSQL reads back the same and its chain verifies", async () => {
  const from = await sourceVault();
  const { schema, drop } = await pgSchema();
  const to = createPostgresSql(PG_URL, { schema });
  try {
    await migrateSchema(to);
    const report = await copyVault(from, to);
    assert.equal(report.tables.find((t) => t.table === "audit_log")?.rows, 30);
    // Parents before children: the foreign keys held during the copy.
    const order = report.tables.map((t) => t.table);
    assert.ok(order.indexOf("agents") < order.indexOf("sign_requests"));
    const [a, b] = [await openAuditLog(from), await openAuditLog(to)];
    assert.deepEqual(await b.head(), await a.head());
    assert.deepEqual(await b.verify(), await a.verify());
    assert.equal((await b.verify()).ok, true);
    assert.deepEqual(await b.list(1, 100), await a.list(1, 100));
    const [sa, sb] = [await openVaultStore(from), await openVaultStore(to)];
    assert.deepEqual(await sb.agents(), await sa.agents());
    assert.deepEqual(await sb.policy("agt_1"), await sa.policy("agt_1"));
    assert.deepEqual(await sb.signedRange("agt_1", 1, 30), await sa.signedRange("agt_1", 1, 30));
    // Domain values on both engines: amounts beyond 2^64 come back as the same bigints.
    const copied = await sb.sign("req_7");
    assert.deepEqual(copied, await sa.sign("req_7"));
    assert.equal(copied?.spends[0]?.amount, 10n ** 20n + 7n);
    assert.equal(await sb.meta("cluster_address"), "0xc1");
    // The copy goes on where the source stopped: the next entry chains after seq 30.
    assert.equal((await b.append({ type: "node.recovered" })).seq, 31);
  } finally {
    await Promise.allSettled([from.close(), to.close()]);
    await drop();
  }
});

test("copying into a database that already holds a vault is refused and changes nothing", async () => {
  const from = await sourceVault();
  const { schema, drop } = await pgSchema();
  const to = createPostgresSql(PG_URL, { schema });
  try {
    await migrateSchema(to);
    await copyVault(from, to);
    const before = await (await openAuditLog(to)).head();
    await assert.rejects(copyVault(from, to), TargetNotEmpty);
    assert.deepEqual(await (await openAuditLog(to)).head(), before);
    const n = await to.get<{ n: number }>("SELECT count(*) AS n FROM sign_requests");
    assert.equal(n?.n, 30);
  } finally {
    await Promise.allSettled([from.close(), to.close()]);
    await drop();
  }
});
