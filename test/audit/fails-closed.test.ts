import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openAuditLog } from "../../src/audit/index.js";
import type { AuditLog } from "../../src/audit/types.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { filledLog } from "./helpers.js";

const unavailable = { code: "AUDIT_UNAVAILABLE" };

async function rowCount(log: AuditLog): Promise<number> {
  return (await log.list(1, 1_000_000)).length;
}

test("a full disk makes append throw AUDIT_UNAVAILABLE, write nothing, and keep the head", async () => {
  const { db, log } = await filledLog(10);
  const pages = db.pragma("page_count", { simple: true }) as number;
  db.pragma(`max_page_count = ${pages}`);
  // The last page has some room left; keep appending until SQLite needs a new one.
  let headBefore = await log.head();
  let failure: unknown;
  for (let i = 0; i < 10_000 && failure === undefined; i++) {
    headBefore = await log.head();
    try {
      await log.append({ type: "sign.requested", data: { padding: "x".repeat(200), i } });
    } catch (err) {
      failure = err;
    }
  }
  assert.ok(failure, "the disk never filled up");
  assert.equal((failure as { code: string }).code, "AUDIT_UNAVAILABLE");
  // SQLITE_FULL, as the storage seam reports it (src/store/sql/sqlite.ts): StoreUnavailable
  // with SQLite's message.
  const cause = (failure as Error).cause as Error & { code: string };
  assert.equal(cause.code, "STORE_UNAVAILABLE");
  assert.match(cause.message, /database or disk is full/);
  assert.match((failure as Error).message, /nothing was signed/);
  assert.deepEqual(await log.head(), headBefore);
  assert.equal(await rowCount(log), headBefore.seq);
  await assert.rejects(
    log.append({ type: "sign.requested", data: { pad: "y".repeat(4000) } }),
    unavailable,
  );

  db.pragma(`max_page_count = ${pages * 100}`);
  const next = await log.append({ type: "sign.requested" });
  assert.equal(next.seq, headBefore.seq + 1);
  assert.equal(next.prevHash, headBefore.hash);
  assert.equal((await log.verify()).ok, true);
});

test("a read-only connection makes append throw AUDIT_UNAVAILABLE and leaves the log as it was", async () => {
  const { log, file } = await filledLog(5);
  const readOnly = await openAuditLog(createSqliteSql(new Database(file, { readonly: true })), {
    readOnly: true,
  });
  await assert.rejects(readOnly.append({ type: "sign.requested" }), unavailable);
  assert.deepEqual(await readOnly.head(), await log.head());
  assert.equal((await readOnly.verify()).ok, true);
  assert.equal((await log.append({ type: "sign.requested" })).seq, 6);
});

test("a database locked by another writer makes append throw AUDIT_UNAVAILABLE", async () => {
  const { db, log, file } = await filledLog(5);
  db.pragma("busy_timeout = 0");
  const other = openDatabase(file);
  other.exec("BEGIN IMMEDIATE");
  await assert.rejects(log.append({ type: "sign.requested" }), unavailable);
  other.exec("ROLLBACK");
  assert.equal((await log.append({ type: "sign.requested" })).seq, 6);
  assert.equal((await log.verify()).ok, true);
});

test("data that is not JSON is refused with AUDIT_UNAVAILABLE and writes nothing", async () => {
  const { log } = await filledLog(2);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const data of [
    { n: Number.NaN },
    { n: Number.POSITIVE_INFINITY },
    { when: new Date(0) },
    { f: () => 1 },
    { list: [1, undefined] },
    { m: new Map() },
    cyclic,
  ]) {
    await assert.rejects(log.append({ type: "sign.requested", data }), {
      code: "AUDIT_UNAVAILABLE",
      message: /not canonical JSON/,
    });
  }
  await assert.rejects(log.append({ type: "" }), unavailable);
  await assert.rejects(log.append({ type: "x", agentId: 5 as unknown as string }), unavailable);
  assert.equal((await log.head()).seq, 2);
  assert.equal((await log.append({ type: "sign.requested" })).seq, 3);
});

test("a storage error is wrapped: the client message holds no SQL, the cause stays for logs", async () => {
  const { db, log } = await filledLog(1);
  db.exec("DROP TABLE audit_log");
  const err = await log.append({ type: "sign.requested" }).then(
    () => undefined,
    (e: unknown) => e as Error & { toJSON(): unknown },
  );
  assert.ok(err);
  assert.deepEqual(err.toJSON(), {
    error: {
      code: "AUDIT_UNAVAILABLE",
      message: "The audit log cannot be written; nothing was signed.",
    },
  });
  assert.match(String(err.cause), /audit_log/);
});
