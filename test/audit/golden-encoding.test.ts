import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { entryCommitment, nextZkHead, ZK_GENESIS } from "../../src/audit/commitment.js";
import {
  type AuditEntry,
  canonicalJson,
  entryHash,
  GENESIS_HASH,
  openAuditLog,
} from "../../src/audit/index.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";

interface GoldenEntry extends AuditEntry {
  canonical: string;
}

const golden: { entries: GoldenEntry[] } = JSON.parse(
  readFileSync(new URL("../fixtures/audit/golden-chain.json", import.meta.url), "utf8"),
);

test("golden vector: the pinned entries still encode and hash to the committed values", () => {
  let prevHash = GENESIS_HASH;
  for (const { canonical, hash, ...entry } of golden.entries) {
    assert.equal(entry.prevHash, prevHash);
    assert.equal(canonicalJson(entry), canonical);
    assert.equal(createHash("sha256").update(canonical).digest("hex"), hash);
    assert.equal(entryHash(entry), hash);
    prevHash = hash;
  }
});

test("golden vector: appending the pinned inputs with their timestamps rebuilds the same chain", async () => {
  const entries = golden.entries;
  let next = 0;
  const log = await openAuditLog(createSqliteSql(openDatabase(":memory:")), {
    now: () => new Date((entries[next] as GoldenEntry).ts),
  });
  for (const { type, agentId, actor, data, hash, seq } of entries) {
    const written = await log.append({ type, agentId, actor, data });
    assert.equal(written.seq, seq);
    assert.equal(written.hash, hash);
    next++;
  }
  assert.equal((await log.verify()).ok, true);
});

const goldenZk: { entries: AuditEntry[]; v1Heads: string[]; v2Heads: string[] } = JSON.parse(
  readFileSync(new URL("../fixtures/audit/golden-zk.json", import.meta.url), "utf8"),
);

test("golden vector: zk chain v1 heads (before the zk v2 start) still recompute", () => {
  let zk = ZK_GENESIS;
  for (const [i, entry] of goldenZk.entries.entries()) {
    zk = nextZkHead(zk, entryCommitment(entry));
    assert.equal(zk, goldenZk.v1Heads[i], `v1 head at ${entry.seq}`);
  }
});

test("golden vector: a new log (zk v2 start 1) stores the pinned zk chain v2 heads", async () => {
  let next = 0;
  const log = await openAuditLog(createSqliteSql(openDatabase(":memory:")), {
    now: () => new Date((goldenZk.entries[next] as AuditEntry).ts),
  });
  assert.equal(await log.zkV2Start(), 1);
  for (const { type, agentId, actor, data, hash } of goldenZk.entries) {
    assert.equal((await log.append({ type, agentId, actor, data })).hash, hash);
    next++;
  }
  const heads: Array<string | undefined> = [];
  for (const e of goldenZk.entries) heads.push(await log.zkHeadAt(e.seq));
  assert.deepEqual(heads, goldenZk.v2Heads);
});

test("canonicalJson: sorted keys at every depth, no whitespace", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, "": "empty" }),
    '{"":"empty","a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
  );
  // UTF-16 code-unit order, like JSON.stringify and RFC 8785: "B" < "a" < "é" < "😀".
  assert.equal(canonicalJson({ "😀": 1, é: 2, a: 3, B: 4 }), '{"B":4,"a":3,"é":2,"😀":1}');
  assert.equal(canonicalJson({ "10": 1, "9": 2, "1": 3 }), '{"1":3,"10":1,"9":2}');
});

test("canonicalJson: bigint, numbers, undefined and unicode", () => {
  assert.equal(
    canonicalJson({ wei: 12345678901234567890123n, neg: -1n }),
    '{"neg":"-1","wei":"12345678901234567890123"}',
  );
  assert.equal(
    canonicalJson([0.1, -0, 1e21, 5e-7, 2 ** 53]),
    "[0.1,0,1e+21,5e-7,9007199254740992]",
  );
  assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  assert.equal(canonicalJson('é😀\u2028\n"\\\u0000'), '"é😀\u2028\\n\\"\\\\\\u0000"');
  // A lone surrogate cannot be UTF-8 encoded; JSON.stringify escapes it, so the hash stays defined.
  assert.equal(canonicalJson("\ud800"), '"\\ud800"');
  assert.equal(canonicalJson(Object.assign(Object.create(null), { x: true })), '{"x":true}');
});

test("canonicalJson refuses what has no single JSON encoding", () => {
  for (const value of [
    Number.NaN,
    -Number.POSITIVE_INFINITY,
    undefined,
    Symbol("s"),
    () => 1,
    [undefined],
    new Array(1), // a hole
    new Date(0),
    new Uint8Array(1),
    new (class Point {
      x = 1;
    })(),
  ]) {
    assert.throws(() => canonicalJson(value), { code: "AUDIT_UNAVAILABLE" });
  }
});
