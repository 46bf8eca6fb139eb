import assert from "node:assert/strict";
import { test } from "node:test";
import { createAuditLog, exportJsonl, GENESIS_HASH } from "../../src/audit/index.js";
import { inTransaction, openDatabase } from "../../src/store/db.js";
import { filledLog, tempDbFile } from "./helpers.js";

test("an empty log has head seq 0 and the genesis hash, and verifies", () => {
  const log = createAuditLog(openDatabase(tempDbFile()));
  assert.deepEqual(log.head(), { seq: 0, hash: GENESIS_HASH });
  assert.deepEqual(log.verify(), { ok: true, length: 0, head: GENESIS_HASH });
});

test("the chain verifies clean after many appends on a file database, and the head advances", () => {
  const { log } = filledLog(2000);
  const head = log.head();
  assert.equal(head.seq, 2000);
  const next = log.append({ type: "key.issued", agentId: "agt_1", data: { keyId: "k1" } });
  assert.equal(next.seq, 2001);
  assert.equal(next.prevHash, head.hash);
  assert.deepEqual(log.head(), { seq: 2001, hash: next.hash });
  assert.deepEqual(log.verify(), { ok: true, length: 2001, head: next.hash });
});

test("append returns the entry as stored: get and list read back the same", () => {
  const { log } = filledLog(3);
  const e = log.append({ type: "sign.signed", data: { b: 2n, a: undefined, c: [1] } });
  assert.deepEqual(e.data, { b: "2", c: [1] });
  assert.equal(e.agentId, null);
  assert.equal(e.actor, null);
  assert.deepEqual(log.get(4), e);
  assert.deepEqual(log.list(3, 10).at(-1), e);
  assert.deepEqual(
    log.list(2, 2).map((x) => x.seq),
    [2, 3],
  );
  assert.equal(log.get(5), undefined);
});

test("a reopened log continues the same chain", () => {
  const { db, log, file } = filledLog(10);
  const head = log.head();
  db.close();
  const again = createAuditLog(openDatabase(file));
  assert.equal(again.append({ type: "node.unreachable", data: { node: 2 } }).prevHash, head.hash);
  assert.equal(again.verify().ok, true);
});

test("appends inside a caller's transaction commit with it and vanish on rollback without a gap", () => {
  const { db, log } = filledLog(5);
  inTransaction(db, () => {
    log.append({ type: "sign.requested" });
    log.append({ type: "sign.allowed" });
  });
  assert.equal(log.head().seq, 7);
  assert.throws(
    () =>
      inTransaction(db, () => {
        log.append({ type: "sign.requested" });
        throw new Error("policy store failed");
      }),
    /policy store failed/,
  );
  assert.equal(log.head().seq, 7);
  // Had the rolled-back entry 8 stayed in the cached head, this would be seq 9: a gap.
  assert.equal(log.append({ type: "sign.failed" }).seq, 8);
  assert.equal(log.verify().ok, true);
});

test("two logs on two connections to one file keep one chain", () => {
  const { log, file } = filledLog(3);
  const other = createAuditLog(openDatabase(file));
  other.append({ type: "auth.succeeded" });
  // `log` has seq 3 cached; its append must chain after the other connection's entry 4.
  assert.equal(log.append({ type: "auth.refused" }).seq, 5);
  assert.equal(other.verify().ok, true);
});

test("verifyRange checks a segment against the head a node signed before", () => {
  const { log } = filledLog(50);
  const signed = log.get(20);
  assert.ok(signed);
  assert.deepEqual(log.verifyRange(21, 50, signed.hash), {
    ok: true,
    length: 30,
    head: log.head().hash,
  });
  const wrongStart = log.verifyRange(21, 50, GENESIS_HASH);
  assert.equal(wrongStart.ok, false);
  assert.equal(wrongStart.firstBadSeq, 21);
  // Asking past the end is a failure, not a silent shorter success.
  const pastEnd = log.verifyRange(21, 60, signed.hash);
  assert.equal(pastEnd.ok, false);
  assert.equal(pastEnd.firstBadSeq, 51);
  assert.equal(log.verifyRange(51, 50, log.head().hash).ok, true);
});

test("exportJsonl writes one canonical entry per line, in order", () => {
  const { log } = filledLog(1234);
  const lines: string[] = [];
  assert.equal(
    exportJsonl(log, (line) => lines.push(line)),
    1234,
  );
  assert.equal(lines.length, 1234);
  assert.ok(lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n")));
  const last = JSON.parse(lines[1233] as string);
  assert.deepEqual(last, log.get(1234));
  assert.ok((lines[0] as string).startsWith('{"actor":'));
});
