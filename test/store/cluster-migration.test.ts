/**
 * A vault file from before several signer clusters, which had one, c0: its pinned node
 * identities, its agents and its checkpoint key are recorded as c0's, and opening it again
 * changes nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { openVaultStore } from "../../src/store/vault-store.js";

function oldVault() {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), "av-pins-")), "vault.sqlite"));
  db.exec(`
    CREATE TABLE agents (id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL,
      public_key TEXT NOT NULL, created_at TEXT NOT NULL);
    INSERT INTO agents VALUES ('agt_old', 'old', '0xabc', '0x04', '2026-01-01T00:00:00Z');
    CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    INSERT INTO meta VALUES ('cluster_address', '0xc1');
    CREATE TABLE cluster_nodes (idx INTEGER PRIMARY KEY, url TEXT NOT NULL,
      signing_key TEXT NOT NULL, agreement_key TEXT NOT NULL);
    INSERT INTO cluster_nodes VALUES (0, 'http://n0', 'sk0', 'ak0'), (1, 'http://n1', 'sk1', 'ak1');
  `);
  return db;
}

test("pins, agents and the checkpoint key of a one-cluster vault become c0's", async () => {
  const db = oldVault();
  const store = await openVaultStore(createSqliteSql(db));
  assert.deepEqual(
    (await store.nodes("c0")).map((n) => [n.idx, n.signingKey]),
    [
      [0, "sk0"],
      [1, "sk1"],
    ],
  );
  assert.deepEqual(await store.nodes("c1"), []);
  assert.equal((await store.agent("agt_old"))?.cluster, "c0");
  assert.deepEqual([...(await store.agentsPerCluster())], [["c0", 1]]);
  assert.equal(await store.meta("home_cluster"), "c0");
  const old = db.prepare("SELECT name FROM sqlite_master WHERE name = 'cluster_nodes'").get();
  assert.equal(old, undefined, "the old table is gone once copied");
});

test("opening the file again keeps the pins and the home cluster as they are", async () => {
  const db = oldVault();
  const sql = createSqliteSql(db);
  const first = await openVaultStore(sql);
  await first.putNode("c1", { idx: 0, url: "http://m0", signingKey: "skm", agreementKey: "akm" });
  await first.setMeta("home_cluster", "c1");
  const again = await openVaultStore(sql);
  assert.equal(await again.meta("home_cluster"), "c1");
  assert.equal((await again.nodes("c0")).length, 2);
  assert.deepEqual(
    (await again.nodes("c1")).map((n) => n.signingKey),
    ["skm"],
  );
});
