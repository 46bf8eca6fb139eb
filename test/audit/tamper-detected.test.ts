import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { canonicalJson, entryHash, GENESIS_HASH } from "../../src/audit/index.js";
import type { AuditLog } from "../../src/audit/types.js";
import type { Db } from "../../src/store/db.js";
import { filledLog, tamper } from "./helpers.js";

const K = 7;

async function assertBreaksAt(log: AuditLog, seq: number, reason: RegExp): Promise<void> {
  const result = await log.verify();
  assert.equal(result.ok, false);
  assert.equal(result.firstBadSeq, seq);
  assert.match(result.reason ?? "", reason);
  // Everything before the break still verifies, and the result says so.
  assert.equal(result.length, seq - 1);
  assert.equal(result.head, seq === 1 ? GENESIS_HASH : (await log.get(seq - 1))?.hash);
}

/** Rewrites row `seq` with a correctly hashed forged entry, as a careful attacker would. */
async function forgeWithOwnHash(
  db: Db,
  log: AuditLog,
  seq: number,
  data: Record<string, unknown>,
): Promise<void> {
  const original = await log.get(seq);
  assert.ok(original);
  const forged = { ...original, data };
  const hash = entryHash(forged);
  db.prepare("UPDATE audit_log SET data = ?, hash = ? WHERE seq = ?").run(
    canonicalJson(data),
    hash,
    seq,
  );
}

test("the table refuses UPDATE and DELETE through SQL", async () => {
  const { db } = await filledLog(3);
  assert.throws(() => db.exec("UPDATE audit_log SET type = 'x' WHERE seq = 1"), /append-only/);
  assert.throws(() => db.exec("DELETE FROM audit_log WHERE seq = 3"), /append-only/);
});

for (const [column, value] of [
  ["data", '{"i":999}'],
  ["type", "sign.allowed"],
  ["ts", "2020-01-01T00:00:00.000Z"],
  ["agent_id", "agt_other"],
  ["actor", "operator:mallory"],
] as const) {
  test(`editing ${column} of entry k breaks the chain at k`, async () => {
    const { db, log } = await filledLog(20);
    tamper(db, `UPDATE audit_log SET ${column} = '${value}' WHERE seq = ${K}`);
    await assertBreaksAt(log, K, /hash does not match/);
  });
}

test("setting agent_id of entry k to null breaks the chain at k", async () => {
  const { db, log } = await filledLog(20);
  tamper(db, `UPDATE audit_log SET agent_id = NULL WHERE seq = ${K}`);
  await assertBreaksAt(log, K, /hash does not match/);
});

test("deleting entry k breaks the chain at k (where the gap starts)", async () => {
  const { db, log } = await filledLog(20);
  tamper(db, `DELETE FROM audit_log WHERE seq = ${K}`);
  await assertBreaksAt(log, K, /seq/);
});

test("deleting entry 1 breaks the chain at 1", async () => {
  const { db, log } = await filledLog(5);
  tamper(db, "DELETE FROM audit_log WHERE seq = 1");
  await assertBreaksAt(log, 1, /seq/);
});

test("inserting a forged entry at k (renumbering the rest) breaks the chain", async () => {
  const { db, log } = await filledLog(20);
  const before = await log.get(K - 1);
  assert.ok(before);
  tamper(
    db,
    `UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= ${K};
     UPDATE audit_log SET seq = -seq WHERE seq < 0;`,
  );
  const forged = {
    seq: K,
    ts: "2025-01-01T00:00:00.000Z",
    type: "approval.approved",
    agentId: "agt_1",
    actor: "operator:mallory",
    data: {},
    prevHash: before.hash,
  };
  db.prepare("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)").run(
    forged.seq,
    forged.ts,
    forged.type,
    forged.agentId,
    forged.actor,
    "{}",
    forged.prevHash,
    entryHash(forged),
  );
  // The forged entry itself is well formed and linked; the renumbered original
  // after it is not (its seq is hashed, and it links to K-1, not to the forgery).
  await assertBreaksAt(log, K + 1, /prevHash does not link/);
});

test("a forged entry at k with a made-up hash breaks the chain at k", async () => {
  const { db, log } = await filledLog(20);
  tamper(db, `UPDATE audit_log SET hash = '${"ab".repeat(32)}' WHERE seq = ${K}`);
  await assertBreaksAt(log, K, /hash does not match/);
});

test("swapping entries k and k+1 breaks the chain at k", async () => {
  const { db, log } = await filledLog(20);
  tamper(
    db,
    `UPDATE audit_log SET seq = -1 WHERE seq = ${K};
     UPDATE audit_log SET seq = ${K} WHERE seq = ${K + 1};
     UPDATE audit_log SET seq = ${K + 1} WHERE seq = -1;`,
  );
  await assertBreaksAt(log, K, /prevHash|hash/);
});

test("a forged entry k with its own hash recomputed breaks the chain at k+1, its successor", async () => {
  const { db, log } = await filledLog(20);
  tamper(db, "SELECT 1"); // only to drop the triggers
  await forgeWithOwnHash(db, log, K, { i: K, amountWei: "0" });
  // Entry k is self-consistent and links to k-1; only k+1's prevHash exposes it.
  await assertBreaksAt(log, K + 1, /prevHash does not link/);
});

test("forging the last entry with its own hash is caught by a saved checkpoint", async () => {
  const { db, log } = await filledLog(20);
  const head = await log.head();
  await log.checkpoints.save({ ...head, signature: "sig", signers: [1, 2], signedAt: "x" });
  tamper(db, "SELECT 1");
  await forgeWithOwnHash(db, log, 20, { i: 20, amountWei: "0" });
  await assertBreaksAt(log, 20, /checkpoint/);
});

test("cutting the log short below a saved checkpoint is caught", async () => {
  const { db, log } = await filledLog(20);
  const cp = await log.get(15);
  assert.ok(cp);
  await log.checkpoints.save({
    seq: 15,
    hash: cp.hash,
    signature: "sig",
    signers: [1, 3],
    signedAt: "x",
  });
  tamper(db, "DELETE FROM audit_log WHERE seq >= 12");
  await assertBreaksAt(log, 12, /truncated/);
});

test("a corrupted row (data not JSON, wrong column type) breaks the chain at that row", async () => {
  const { db, log } = await filledLog(20);
  tamper(db, `UPDATE audit_log SET data = '{"i":' WHERE seq = ${K}`);
  await assertBreaksAt(log, K, /data is not JSON/);
  await assert.rejects(log.get(K), { code: "AUDIT_UNAVAILABLE" });

  const other = await filledLog(20);
  tamper(other.db, `UPDATE audit_log SET ts = X'3132' WHERE seq = ${K}`);
  await assertBreaksAt(other.log, K, /ts is not text/);
});

test("re-encoding an entry's data (same meaning, other bytes) breaks the chain at it", async () => {
  const { db, log } = await filledLog(20);
  const data = (await log.get(K))?.data;
  tamper(db, `UPDATE audit_log SET data = '${JSON.stringify(data, null, 1)}' WHERE seq = ${K}`);
  await assertBreaksAt(log, K, /canonical/);
});

test("a forged row before entry 1 is reported at its own seq", async () => {
  const { db, log } = await filledLog(5);
  const zero = createHash("sha256").update("x").digest("hex");
  tamper(db, `INSERT INTO audit_log VALUES (0, 't', 'x', NULL, NULL, '{}', '${zero}', '${zero}')`);
  const result = await log.verify();
  assert.equal(result.ok, false);
  assert.equal(result.firstBadSeq, 0);
});
