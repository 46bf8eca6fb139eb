/**
 * The data directory lock (src/store/data-dir-lock.ts) in one process: exclusive,
 * names its holder, released on release, and a lock left by a dead pid is taken over.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DataDirLocked, LOCK_FILE, lockDataDir } from "../../src/store/data-dir-lock.js";

const freshDir = () => mkdtempSync(join(tmpdir(), "av-lock-"));
/** A pid that surely belongs to no live process: a child that already exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid as number;

test("a second lock on the same directory is refused, naming the holder's pid", async () => {
  const dir = freshDir();
  const lock = await lockDataDir(dir);
  assert.equal(readFileSync(join(dir, LOCK_FILE), "utf8").trim(), String(process.pid));
  await assert.rejects(lockDataDir(dir), (err: unknown) => {
    assert.ok(err instanceof DataDirLocked);
    assert.equal(err.code, "DATA_DIR_LOCKED");
    assert.equal(err.holderPid, process.pid);
    assert.match(err.message, new RegExp(`process ${process.pid}\\b`));
    return true;
  });
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, "released: the file is gone");
  (await lockDataDir(dir)).release();
});

test("a lock whose pid is dead is taken over", async () => {
  const dir = freshDir();
  writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
  const lock = await lockDataDir(dir);
  assert.equal(readFileSync(join(dir, LOCK_FILE), "utf8").trim(), String(process.pid));
  lock.release();
});

test("an empty lock file is left alone while young, taken over once old", async () => {
  const dir = freshDir();
  const file = join(dir, LOCK_FILE);
  writeFileSync(file, "");
  const started = Date.now();
  const lock = await lockDataDir(dir);
  assert.ok(Date.now() - started >= 1500, "waited for the creator to write its pid");
  lock.release();
  writeFileSync(file, "");
  const old = new Date(Date.now() - 60_000);
  utimesSync(file, old, old);
  (await lockDataDir(dir)).release();
});

test("waitMs waits for a live holder to let go", async () => {
  const dir = freshDir();
  const first = await lockDataDir(dir);
  setTimeout(() => first.release(), 300);
  const second = await lockDataDir(dir, { waitMs: 5000 });
  second.release();
});

test("release never removes a lock that is no longer ours", async () => {
  const dir = freshDir();
  const lock = await lockDataDir(dir);
  writeFileSync(join(dir, LOCK_FILE), "1\n"); // say, taken over by pid 1 in the meantime
  lock.release();
  assert.equal(readFileSync(join(dir, LOCK_FILE), "utf8").trim(), "1");
});

test("a lock naming this very process, which this process does not hold, is stale (a container restart reuses the pid)", async () => {
  const dir = freshDir();
  // The previous incarnation (kill -9, then a restart as the same pid, e.g. pid 1 in a container).
  writeFileSync(join(dir, LOCK_FILE), `${process.pid}\n`);
  const lock = await lockDataDir(dir);
  assert.equal(readFileSync(join(dir, LOCK_FILE), "utf8").trim(), String(process.pid));
  // While this process holds it, a second lock in this process is still refused.
  await assert.rejects(lockDataDir(dir), DataDirLocked);
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});
