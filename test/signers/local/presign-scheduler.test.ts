/**
 * The presignature scheduler without processes: it sleeps while online signatures
 * run and is woken by their end (no polling), refills below the low-water mark, and
 * stops promptly. Real pool (in-memory SQLite); presigning itself is a stand-in.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { OnlineGate, PresigScheduler } from "../../../src/signers/local/cluster/scheduler.js";
import type { NodeClient } from "../../../src/signers/local/node-client.js";
import { openPresigPool } from "../../../src/signers/local/pool.js";
import { openDatabase } from "../../../src/store/db.js";
import { createSqliteSql } from "../../../src/store/sql/sqlite.js";

const quorum = [{ index: 0 }, { index: 1 }] as unknown as NodeClient[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(
  target: number,
  gate = new OnlineGate(25, 60_000),
  presign = async (made: number) => `ps-${made}`,
) {
  const pool = await openPresigPool(createSqliteSql(openDatabase(":memory:")));
  let made = 0;
  const logged: string[] = [];
  const scheduler = new PresigScheduler({
    pool,
    target,
    gate,
    quorum: async () => quorum,
    presign: () => presign(++made),
    log: (line) => logged.push(line),
  });
  return { pool, gate, scheduler, made: () => made, logged };
}

test("a background fill that fails is logged, not swallowed", async () => {
  const { scheduler, logged } = await setup(2, undefined, async () => {
    throw new Error("node-1 refused");
  });
  scheduler.request("agt_fail");
  await scheduler.whenIdle();
  assert.equal(logged.length, 1);
  assert.match(logged[0] ?? "", /presigning for agt_fail failed: node-1 refused/);
});

test("a requested pool is filled to its target, and whenIdle waits for it", async () => {
  const { pool, scheduler } = await setup(4);
  scheduler.request("a");
  await scheduler.whenIdle();
  assert.equal(await pool.count("a", [0, 1]), 4);
});

test("background presigning waits while a signature is online and starts when it ends", async () => {
  const { gate, scheduler, made } = await setup(2);
  gate.begin();
  scheduler.request("a");
  await sleep(300);
  assert.equal(made(), 0, "nothing presigned while a signature is online");
  const ended = Date.now();
  gate.end();
  await scheduler.whenIdle();
  assert.equal(made(), 2);
  assert.ok(Date.now() - ended < 1000, "woken by the end of the signature, not a late poll");
});

test("the gate resolves waiters only after a quiet moment, and at the latest after maxWait", async () => {
  const gate = new OnlineGate(50, 400);
  gate.begin();
  const started = Date.now();
  await gate.waitQuiet();
  const waited = Date.now() - started;
  assert.ok(waited >= 380, `a busy gate holds background work up to maxWait (${waited} ms)`);
  gate.end();
  assert.equal(gate.quiet(), false, "right after a signature it is not quiet yet");
  await gate.waitQuiet();
  assert.equal(gate.quiet(), true);
});

test("taking below the low-water mark asks for a refill; above it does not", async () => {
  const { pool, scheduler, made } = await setup(4);
  scheduler.request("a");
  await scheduler.whenIdle();
  await pool.take("a", [0, 1]);
  await scheduler.taken("a", [0, 1]);
  await scheduler.whenIdle();
  assert.equal(made(), 4, "3 left of 4: above the low-water mark of 2");
  await pool.take("a", [0, 1]);
  await pool.take("a", [0, 1]);
  await scheduler.taken("a", [0, 1]);
  await scheduler.whenIdle();
  assert.equal(await pool.count("a", [0, 1]), 4, "1 left: refilled to the target");
});

test("a node coming back refills every agent seen; stop ends the work promptly", async () => {
  const { pool, gate, scheduler } = await setup(2);
  scheduler.request("a");
  scheduler.request("b");
  await scheduler.whenIdle();
  for (const id of ["a", "b"]) await pool.take(id, [0, 1]);
  scheduler.nodeUp();
  await scheduler.whenIdle();
  assert.deepEqual([await pool.count("a", [0, 1]), await pool.count("b", [0, 1])], [2, 2]);
  gate.begin();
  await pool.take("a", [0, 1]);
  scheduler.request("a");
  const started = Date.now();
  scheduler.stop();
  await scheduler.whenIdle();
  assert.ok(Date.now() - started < 500, "a stopped scheduler does not wait for the gate");
  assert.equal(await pool.count("a", [0, 1]), 1, "and makes nothing more");
});

test("a quiet-moment timer that fires early waits the rest, not the whole maxWait", async () => {
  let clock = 1_000;
  const gate = new OnlineGate(25, 5_000, () => clock);
  gate.begin();
  let released = false;
  const waiting = gate.waitQuiet().then(() => {
    released = true;
  });
  gate.end(); // quiet from clock 1025; the first timer fires while the clock says 1000
  await sleep(60);
  assert.equal(released, false, "not quiet yet by the gate's clock");
  clock = 1_030;
  await Promise.race([waiting, sleep(500)]);
  assert.equal(released, true, "woken once the quiet moment is over");
});

test("a new target holds from then on: 0 stops background refills, a higher one fills to it", async () => {
  const { pool, scheduler, made } = await setup(4);
  assert.equal(scheduler.retarget(0), 4);
  scheduler.request("a");
  await scheduler.whenIdle();
  assert.equal(made(), 0, "no background presigning at target 0");
  // Raised: the pools it knows are filled to it, without being asked again.
  assert.equal(scheduler.retarget(6), 0);
  assert.equal(scheduler.lowWater, 3);
  await scheduler.whenIdle();
  assert.equal(await pool.count("a", [0, 1]), 6);
});

test("a target lowered during a fill stops it there", async () => {
  let lower = () => {};
  const { pool, scheduler } = await setup(50, undefined, async (made) => {
    if (made === 3) lower();
    return `ps-${made}`;
  });
  lower = () => void scheduler.retarget(0);
  scheduler.request("a");
  await scheduler.whenIdle();
  assert.equal(await pool.count("a", [0, 1]), 3);
});
