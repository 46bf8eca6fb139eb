/**
 * A flood of refused credentials cannot fill the audit log: each client has a per-minute
 * budget of entries, the rest is counted and written as one summary per client and minute.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAuditLog } from "../../src/audit/log.js";
import { clientKey, createRefusalLog } from "../../src/auth/refusals.js";
import { openDatabase } from "../../src/store/db.js";

function setup(perMinute: number, more: { globalPerMinute?: number; maxSummaries?: number } = {}) {
  let clock = Date.parse("2026-11-27T12:00:00Z");
  const audit = createAuditLog(openDatabase(":memory:"));
  const refusals = createRefusalLog(audit, { perMinute, now: () => clock, ...more });
  const refuse = (client: string) =>
    refusals.record(client, { type: "auth.refused", actor: "door:apiKey", data: { code: "X" } });
  const entries = (type: string) => audit.list(1, 10_000).filter((e) => e.type === type);
  const tick = (ms: number) => {
    clock += ms;
  };
  return { audit, refusals, refuse, entries, tick };
}

test("each client has its budget; the rest is counted and summarised when its minute ends", () => {
  const { audit, refusals, refuse, entries, tick } = setup(3);
  const written = Array.from({ length: 10 }, () => refuse("10.0.0.1"));
  assert.deepEqual(written, [true, true, true, false, false, false, false, false, false, false]);
  assert.equal(refuse("10.0.0.2"), true, "another client has its own budget");
  assert.equal(entries("auth.refused").length, 4);
  assert.equal(refusals.flush(), 0, "nothing summarised before the minute ends");

  tick(60_000);
  assert.equal(refusals.flush(), 1);
  const [summary] = entries("auth.refusals_suppressed");
  assert.equal(summary?.data.client, "10.0.0.1");
  assert.equal(summary?.data.count, 7);
  assert.deepEqual(summary?.data.codes, { "auth.refused:X": 7 });
  assert.equal(refuse("10.0.0.1"), true, "a new minute, a new budget");
  assert.equal(audit.verify().ok, true);
  refusals.stop();
});

test("a client's next refusal after its minute writes the summary first; stop writes the rest", () => {
  const { refusals, refuse, entries, tick } = setup(1);
  refuse("a");
  refuse("a");
  tick(61_000);
  refuse("a");
  assert.equal(entries("auth.refusals_suppressed").length, 1);
  refuse("a");
  refuse("b");
  refuse("b");
  refusals.stop();
  const counts = entries("auth.refusals_suppressed").map((e) => [e.data.client, e.data.count]);
  assert.deepEqual(counts, [
    ["a", 1],
    ["a", 1],
    ["b", 1],
  ]);
});

test("written refusals name their client; a budget of n writes exactly n entries", () => {
  const { refuse, entries, refusals } = setup(5);
  for (let i = 0; i < 1000; i++) refuse("192.0.2.7");
  const written = entries("auth.refused");
  assert.equal(written.length, 5);
  assert.ok(written.every((e) => e.data.client === "192.0.2.7"));
  refusals.stop();
  assert.equal(entries("auth.refusals_suppressed")[0]?.data.count, 995);
});

test("a global budget bounds the rows a minute whatever the number of addresses", () => {
  const { refuse, entries, refusals, tick } = setup(5, { globalPerMinute: 50, maxSummaries: 10 });
  for (let i = 0; i < 5000; i++) refuse(`198.51.${i >> 8}.${i & 255}`);
  assert.equal(entries("auth.refused").length, 50);
  tick(60_000);
  refusals.flush();
  const summaries = entries("auth.refusals_suppressed");
  assert.equal(summaries.length, 11, "ten clients summarised alone, the rest merged");
  const merged = summaries.find((e) => e.data.client === "*");
  assert.equal(merged?.data.clients, 5000 - 50 - 10, "the clients that were held back");
  const total = summaries.reduce((n, e) => n + (e.data.count as number), 0);
  assert.equal(total, 5000 - 50, "every held refusal is counted");
});

test("IPv6 clients share a budget per /64; IPv4-mapped addresses count as IPv4", () => {
  assert.equal(clientKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(clientKey("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
  assert.equal(clientKey("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  assert.equal(clientKey("::ffff:192.0.2.1"), "192.0.2.1");
  const { refuse, entries, refusals } = setup(3);
  for (let i = 0; i < 100; i++) refuse(`2001:db8:1:2:${i.toString(16)}::1`);
  assert.equal(entries("auth.refused").length, 3);
  refusals.stop();
});
