import assert from "node:assert/strict";
import { test } from "node:test";
import { exportJsonl, GENESIS_HASH } from "../../src/audit/index.js";
import { filledLog, openLog, tempDbFile } from "./helpers.js";

test("an empty log has head seq 0 and the genesis hash, and verifies", async () => {
  const { log } = await openLog(tempDbFile());
  assert.deepEqual(await log.head(), { seq: 0, hash: GENESIS_HASH });
  assert.deepEqual(await log.verify(), { ok: true, length: 0, head: GENESIS_HASH });
});

test("the chain verifies clean after many appends on a file database, and the head advances", async () => {
  const { log } = await filledLog(2000);
  const head = await log.head();
  assert.equal(head.seq, 2000);
  const next = await log.append({ type: "key.issued", agentId: "agt_1", data: { keyId: "k1" } });
  assert.equal(next.seq, 2001);
  assert.equal(next.prevHash, head.hash);
  assert.deepEqual(await log.head(), { seq: 2001, hash: next.hash });
  assert.deepEqual(await log.verify(), { ok: true, length: 2001, head: next.hash });
});

test("append returns the entry as stored: get and list read back the same", async () => {
  const { log } = await filledLog(3);
  const e = await log.append({ type: "sign.signed", data: { b: 2n, a: undefined, c: [1] } });
  assert.deepEqual(e.data, { b: "2", c: [1] });
  assert.equal(e.agentId, null);
  assert.equal(e.actor, null);
  assert.deepEqual(await log.get(4), e);
  assert.deepEqual((await log.list(3, 10)).at(-1), e);
  assert.deepEqual(
    (await log.list(2, 2)).map((x) => x.seq),
    [2, 3],
  );
  assert.equal(await log.get(5), undefined);
});

test("a reopened log continues the same chain", async () => {
  const { sql, log, file } = await filledLog(10);
  const head = await log.head();
  await sql.close();
  const { log: again } = await openLog(file);
  assert.equal(
    (await again.append({ type: "node.unreachable", data: { node: 2 } })).prevHash,
    head.hash,
  );
  assert.equal((await again.verify()).ok, true);
});

test("appends inside a caller's transaction commit with it and vanish on rollback without a gap", async () => {
  const { sql, log } = await filledLog(5);
  await sql.transaction(async () => {
    await log.append({ type: "sign.requested" });
    await log.append({ type: "sign.allowed" });
  });
  assert.equal((await log.head()).seq, 7);
  await assert.rejects(
    sql.transaction(async () => {
      await log.append({ type: "sign.requested" });
      throw new Error("policy store failed");
    }),
    /policy store failed/,
  );
  assert.equal((await log.head()).seq, 7);
  // Had the rolled-back entry 8 stayed in the cached head, this would be seq 9: a gap.
  assert.equal((await log.append({ type: "sign.failed" })).seq, 8);
  assert.equal((await log.verify()).ok, true);
});

test("two logs on two connections to one file keep one chain", async () => {
  const { log, file } = await filledLog(3);
  const { log: other } = await openLog(file);
  await other.append({ type: "auth.succeeded" });
  // `log` last saw seq 3; its append must chain after the other connection's entry 4.
  assert.equal((await log.append({ type: "auth.refused" })).seq, 5);
  assert.equal((await other.verify()).ok, true);
});

test("verifyRange checks a segment against the head a node signed before", async () => {
  const { log } = await filledLog(50);
  const signed = await log.get(20);
  assert.ok(signed);
  assert.deepEqual(await log.verifyRange(21, 50, signed.hash), {
    ok: true,
    length: 30,
    head: (await log.head()).hash,
  });
  const wrongStart = await log.verifyRange(21, 50, GENESIS_HASH);
  assert.equal(wrongStart.ok, false);
  assert.equal(wrongStart.firstBadSeq, 21);
  // Asking past the end is a failure, not a silent shorter success.
  const pastEnd = await log.verifyRange(21, 60, signed.hash);
  assert.equal(pastEnd.ok, false);
  assert.equal(pastEnd.firstBadSeq, 51);
  assert.equal((await log.verifyRange(51, 50, (await log.head()).hash)).ok, true);
});

test("exportJsonl writes one canonical entry per line, in order", async () => {
  const { log } = await filledLog(1234);
  const lines: string[] = [];
  assert.equal(await exportJsonl(log, (line) => lines.push(line)), 1234);
  assert.equal(lines.length, 1234);
  assert.ok(lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n")));
  const last = JSON.parse(lines[1233] as string);
  assert.deepEqual(last, await log.get(1234));
  assert.ok((lines[0] as string).startsWith('{"actor":'));
});
