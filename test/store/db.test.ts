import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { inTransaction, openDatabase } from "../../src/store/db.js";

test("a database file opens in WAL mode and a failed transaction leaves no row", () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), "av-db-")), "x.sqlite"));
  assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
  db.exec("CREATE TABLE t (v INTEGER)");
  assert.throws(() =>
    inTransaction(db, () => {
      db.prepare("INSERT INTO t VALUES (1)").run();
      throw new Error("boom");
    }),
  );
  const row = db.prepare("SELECT count(*) AS n FROM t").get() as { n: number };
  assert.equal(row.n, 0);
});
