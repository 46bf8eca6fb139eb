/**
 * A flood of refused credentials cannot fill the audit log: each client has a per-minute
 * budget of entries, the rest is counted and written as one summary per client and minute.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openAuditLog } from "../../src/audit/log.js";
import { clientKey, createRefusalLog } from "../../src/auth/refusals.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";

async function setup(
  perMinute: number,
  more: { globalPerMinute?: number; maxSummaries?: number } = {},
) {
  let clock = Date.parse("2026-11-27T12:00:00Z");
  const audit = await openAuditLog(createSqliteSql(openDatabase(":memory:")));
  const refusals = createRefusalLog(audit, { perMinute, now: () => clock, ...more });
  const refuse = (client: string) =>
    refusals.record(client, { type: "auth.refused", actor: "door:apiKey", data: { code: "X" } });
  const entries = async (type: string) =>
    (await audit.list(1, 10_000)).filter((e) => e.type === type);
  const tick = (ms: number) => {
    clock += ms;
  };
  return { audit, refusals, refuse, entries, tick };
}

test("each client has its budget; the rest is counted and summarised when its minute ends", async () => {
  const { audit, refusals, refuse, entries, tick } = await setup(3);
  const written: boolean[] = [];
  for (let i = 0; i < 10; i++) written.push(await refuse("10.0.0.1"));
  assert.deepEqual(written, [true, true, true, false, false, false, false, false, false, false]);
  assert.equal(await refuse("10.0.0.2"), true, "another client has its own budget");
  assert.equal((await entries("auth.refused")).length, 4);
  assert.equal(await refusals.flush(), 0, "nothing summarised before the minute ends");

  tick(60_000);
  assert.equal(await refusals.flush(), 1);
  const [summary] = await entries("auth.refusals_suppressed");
  assert.equal(summary?.data.client, "10.0.0.1");
  assert.equal(summary?.data.count, 7);
  assert.deepEqual(summary?.data.codes, { "auth.refused:X": 7 });
  assert.equal(await refuse("10.0.0.1"), true, "a new minute, a new budget");
  assert.equal((await audit.verify()).ok, true);
  await refusals.stop();
});

test("a client's next refusal after its minute writes the summary first; stop writes the rest", async () => {
  const { refusals, refuse, entries, tick } = await setup(1);
  await refuse("a");
  await refuse("a");
  tick(61_000);
  await refuse("a");
  assert.equal((await entries("auth.refusals_suppressed")).length, 1);
  await refuse("a");
  await refuse("b");
  await refuse("b");
  await refusals.stop();
  const counts = (await entries("auth.refusals_suppressed")).map((e) => [
    e.data.client,
    e.data.count,
  ]);
  assert.deepEqual(counts, [
    ["a", 1],
    ["a", 1],
    ["b", 1],
  ]);
});

test("written refusals name their client; a budget of n writes exactly n entries", async () => {
  const { refuse, entries, refusals } = await setup(5);
  for (let i = 0; i < 1000; i++) await refuse("192.0.2.7");
  const written = await entries("auth.refused");
  assert.equal(written.length, 5);
  assert.ok(written.every((e) => e.data.client === "192.0.2.7"));
  await refusals.stop();
  assert.equal((await entries("auth.refusals_suppressed"))[0]?.data.count, 995);
});

test("a global budget bounds the rows a minute whatever the number of addresses", async () => {
  const { refuse, entries, refusals, tick } = await setup(5, {
    globalPerMinute: 50,
    maxSummaries: 10,
  });
  for (let i = 0; i < 5000; i++) await refuse(`198.51.${i >> 8}.${i & 255}`);
  assert.equal((await entries("auth.refused")).length, 50);
  tick(60_000);
  await refusals.flush();
  const summaries = await entries("auth.refusals_suppressed");
  assert.equal(summaries.length, 11, "ten clients summarised alone, the rest merged");
  const merged = summaries.find((e) => e.data.client === "*");
  assert.equal(merged?.data.clients, 5000 - 50 - 10, "the clients that were held back");
  const total = summaries.reduce((n, e) => n + (e.data.count as number), 0);
  assert.equal(total, 5000 - 50, "every held refusal is counted");
});

test("IPv6 clients share a budget per /64; IPv4-mapped addresses count as IPv4", async () => {
  assert.equal(clientKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(clientKey("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
  assert.equal(clientKey("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  assert.equal(clientKey("::ffff:192.0.2.1"), "192.0.2.1");
  const { refuse, entries, refusals } = await setup(3);
  for (let i = 0; i < 100; i++) await refuse(`2001:db8:1:2:${i.toString(16)}::1`);
  assert.equal((await entries("auth.refused")).length, 3);
  await refusals.stop();
});

test("refusals arriving together keep the budgets exact, and a flush under way is not counted into", async () => {
  const { refuse, entries, refusals, tick } = await setup(3);
  const first = await Promise.all(Array.from({ length: 20 }, () => refuse("203.0.113.9")));
  assert.equal(first.filter(Boolean).length, 3);
  tick(60_000);
  // A flush and more refusals at once: the summary counts the first minute's 17 only.
  const [summaries, ...again] = await Promise.all([
    refusals.flush(),
    ...Array.from({ length: 5 }, () => refuse("203.0.113.9")),
  ]);
  assert.equal(summaries, 1);
  assert.equal(again.filter(Boolean).length, 3);
  await refusals.stop();
  const counts = (await entries("auth.refusals_suppressed")).map((e) => e.data.count);
  assert.deepEqual(counts, [17, 2]);
});
