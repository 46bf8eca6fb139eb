/**
 * One total order across replicas (src/audit/log.ts): appends from two handles on the same
 * database (two vault processes on PostgreSQL; SQLite serves one process, so its two handles
 * share the engine) chain one after another, never forking and never leaving a gap, and an
 * append rolled back with its caller's transaction leaves no hole. Run on both engines.
 */
import assert from "node:assert/strict";
import { GENESIS_HASH, openAuditLog } from "../../src/audit/index.js";
import type { AuditEntry, AuditLog } from "../../src/audit/types.js";
import { onBothEngines } from "../helpers/engines.js";

const PER_REPLICA = 50;

/** The chain as `log` reads it: seq 1..n, each entry linked to the one before. */
async function assertOneChain(log: AuditLog, n: number): Promise<AuditEntry[]> {
  const entries = await log.list(1, 10 * n + 10);
  assert.equal(entries.length, n);
  assert.deepEqual(
    entries.map((e) => e.seq),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  let prevHash = GENESIS_HASH;
  for (const e of entries) {
    assert.equal(e.prevHash, prevHash, `entry ${e.seq} does not link to ${e.seq - 1}`);
    prevHash = e.hash;
  }
  assert.deepEqual(await log.head(), { seq: n, hash: prevHash });
  assert.deepEqual(await log.verify(), { ok: true, length: n, head: prevHash });
  return entries;
}

onBothEngines({
  "two replicas appending 50 entries each, interleaved, make one chain of 100": async (f) => {
    const [a, b] = await Promise.all([openAuditLog(f.open()), openAuditLog(f.open())]);
    const replicas = [a, b];
    const written = await Promise.all(
      Array.from({ length: 2 * PER_REPLICA }, (_, i) =>
        (replicas[i % 2] as AuditLog).append({
          type: "sign.requested",
          agentId: `agt_${i % 3}`,
          actor: `replica:${i % 2}`,
          data: { i },
        }),
      ),
    );
    // Every append got its own seq: no two chained after the same head.
    assert.deepEqual(
      written.map((e) => e.seq).sort((x, y) => x - y),
      Array.from({ length: 2 * PER_REPLICA }, (_, i) => i + 1),
    );
    const fromA = await assertOneChain(a, 2 * PER_REPLICA);
    const fromB = await assertOneChain(b, 2 * PER_REPLICA);
    assert.deepEqual(fromB, fromA);
    // Each replica's 50 entries are all there, as each append returned them.
    for (const e of written) assert.deepEqual(fromA[e.seq - 1], e);
    for (const replica of [0, 1]) {
      assert.equal(
        fromA.filter((e) => e.actor === `replica:${replica}`).length,
        PER_REPLICA,
        `replica ${replica}'s entries`,
      );
    }
  },

  "an append in a transaction that throws leaves no entry; the next append takes the next seq":
    async (f) => {
      const sql = f.open();
      const log = await openAuditLog(sql);
      const other = await openAuditLog(f.open());
      for (let i = 1; i <= 3; i++) await log.append({ type: "sign.requested", data: { i } });
      const before = await log.head();
      await assert.rejects(
        sql.transaction(async () => {
          const inside = await log.append({ type: "sign.allowed", data: { rolledBack: true } });
          assert.equal(inside.seq, 4);
          throw new Error("policy store failed");
        }),
        /policy store failed/,
      );
      assert.deepEqual(await log.head(), before);
      assert.deepEqual(await other.head(), before);
      assert.equal(await log.get(4), undefined);
      const next = await log.append({ type: "sign.failed" });
      assert.equal(next.seq, 4);
      assert.equal(next.prevHash, before.hash);
      const fromOther = await other.append({ type: "sign.requested" });
      assert.equal(fromOther.seq, 5);
      assert.equal(fromOther.prevHash, next.hash);
      await assertOneChain(log, 5);
      await assertOneChain(other, 5);
      assert.equal(
        (await log.list(1, 10)).some((e) => e.data.rolledBack === true),
        false,
        "the rolled-back entry is not in the log",
      );
    },
});
