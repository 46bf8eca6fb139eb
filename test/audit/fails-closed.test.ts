import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createAuditLog } from "../../src/audit/index.js";
import type { AuditLog } from "../../src/audit/types.js";
import { openDatabase } from "../../src/store/db.js";
import { filledLog } from "./helpers.js";

const unavailable = { code: "AUDIT_UNAVAILABLE" };

function rowCount(log: AuditLog): number {
  return log.list(1, 1_000_000).length;
}

test("a full disk makes append throw AUDIT_UNAVAILABLE, write nothing, and keep the head", () => {
  const { db, log } = filledLog(10);
  const pages = db.pragma("page_count", { simple: true }) as number;
  db.pragma(`max_page_count = ${pages}`);
  // The last page has some room left; keep appending until SQLite needs a new one.
  let headBefore = log.head();
  let failure: unknown;
  for (let i = 0; i < 10_000 && failure === undefined; i++) {
    headBefore = log.head();
    try {
      log.append({ type: "sign.requested", data: { padding: "x".repeat(200), i } });
    } catch (err) {
      failure = err;
    }
  }
  assert.ok(failure, "the disk never filled up");
  assert.equal((failure as { code: string }).code, "AUDIT_UNAVAILABLE");
  assert.equal(((failure as Error).cause as { code: string }).code, "SQLITE_FULL");
  assert.match((failure as Error).message, /nothing was signed/);
  assert.deepEqual(log.head(), headBefore);
  assert.equal(rowCount(log), headBefore.seq);
  assert.throws(
    () => log.append({ type: "sign.requested", data: { pad: "y".repeat(4000) } }),
    unavailable,
  );

  db.pragma(`max_page_count = ${pages * 100}`);
  const next = log.append({ type: "sign.requested" });
  assert.equal(next.seq, headBefore.seq + 1);
  assert.equal(next.prevHash, headBefore.hash);
  assert.equal(log.verify().ok, true);
});

test("a read-only connection makes append throw AUDIT_UNAVAILABLE and leaves the log as it was", () => {
  const { log, file } = filledLog(5);
  const readOnly = createAuditLog(new Database(file, { readonly: true }));
  assert.throws(() => readOnly.append({ type: "sign.requested" }), unavailable);
  assert.deepEqual(readOnly.head(), log.head());
  assert.equal(readOnly.verify().ok, true);
  assert.equal(log.append({ type: "sign.requested" }).seq, 6);
});

test("a database locked by another writer makes append throw AUDIT_UNAVAILABLE", () => {
  const { db, log, file } = filledLog(5);
  db.pragma("busy_timeout = 0");
  const other = openDatabase(file);
  other.exec("BEGIN IMMEDIATE");
  assert.throws(() => log.append({ type: "sign.requested" }), unavailable);
  other.exec("ROLLBACK");
  assert.equal(log.append({ type: "sign.requested" }).seq, 6);
  assert.equal(log.verify().ok, true);
});

test("data that is not JSON is refused with AUDIT_UNAVAILABLE and writes nothing", () => {
  const { log } = filledLog(2);
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
    assert.throws(() => log.append({ type: "sign.requested", data }), {
      code: "AUDIT_UNAVAILABLE",
      message: /not canonical JSON/,
    });
  }
  assert.throws(() => log.append({ type: "" }), unavailable);
  assert.throws(() => log.append({ type: "x", agentId: 5 as unknown as string }), unavailable);
  assert.equal(log.head().seq, 2);
  assert.equal(log.append({ type: "sign.requested" }).seq, 3);
});

test("a storage error is wrapped: the client message holds no SQL, the cause stays for logs", () => {
  const { db, log } = filledLog(1);
  db.exec("DROP TABLE audit_log");
  const err = (() => {
    try {
      log.append({ type: "sign.requested" });
    } catch (e) {
      return e as Error & { toJSON(): unknown };
    }
    return undefined;
  })();
  assert.ok(err);
  assert.deepEqual(err.toJSON(), {
    error: {
      code: "AUDIT_UNAVAILABLE",
      message: "The audit log cannot be written; nothing was signed.",
    },
  });
  assert.match(String(err.cause), /audit_log/);
});
