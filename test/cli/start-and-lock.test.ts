/**
 * Real processes: one vault per data directory, and a start that fails exits non-zero
 * without leaving signer nodes behind. `agent-vault node` refuses a taken port and a
 * locked data directory the same way.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isAlive, LOCK_FILE, lockDataDir } from "../../src/store/data-dir-lock.js";
import { generateIdentity } from "../../src/transport/identity.js";
import { CLI, freePort, killed, runCli, startVaultProcess } from "../helpers/process.js";
import { ADMIN_KEY } from "../helpers/vault.js";

const dir = mkdtempSync(join(tmpdir(), "av-lock-proc-"));
const lockFile = join(dir, LOCK_FILE);
const children: ChildProcess[] = [];
const servers: Server[] = [];
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map(killed));
  for (const s of servers) s.close();
});

const env = (port: number, dataDir = dir) => ({
  VAULT_DATA_DIR: dataDir,
  VAULT_PORT: String(port),
  VAULT_ADMIN_KEY: ADMIN_KEY,
  VAULT_LOG_LEVEL: "silent",
  VAULT_PRESIG_POOL: "1",
});

async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  servers.push(server);
  return server;
}

/** Node pids the vault printed ("node-1 (pid 123) listens on port …"). */
const nodePids = (stdout: string) =>
  [...stdout.matchAll(/node-\d \(pid (\d+)\) listens/g)].map((m) => Number(m[1]));

async function allGone(pids: number[], withinMs: number): Promise<boolean> {
  for (const end = Date.now() + withinMs; Date.now() < end; ) {
    if (!pids.some(isAlive)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !pids.some(isAlive);
}

// Timeouts turn a vault that never exits (the bug) into a failure instead of a hang;
// they are generous because cluster start-up (a DKG) is slow on a loaded machine.
const SLOW = { timeout: 300_000 };

test(
  "a port taken before start: exit non-zero within 15 s, no node started, lock released",
  SLOW,
  async () => {
    const port = await freePort();
    await occupy(port);
    const own = mkdtempSync(join(tmpdir(), "av-lock-port-"));
    const stderr: string[] = [];
    const started = Date.now();
    const res = await runCli(["start"], env(port, own), (l) => stderr.push(l));
    assert.notEqual(res.code, 0);
    assert.ok(Date.now() - started < 15_000, `exited after ${Date.now() - started} ms`);
    assert.match(stderr.join("\n"), /EADDRINUSE/);
    assert.deepEqual(nodePids(res.stdout), [], "no node was spawned");
    assert.equal(existsSync(join(own, LOCK_FILE)), false);
  },
);

test(
  "the port taken while the nodes start: the vault stops the nodes it started and exits non-zero",
  SLOW,
  async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...CLI, "start"], {
      env: { ...process.env, ...env(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    let occupied: Promise<Server> | undefined;
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      // The nodes are up and the port was free at the pre-check: take it now.
      if (nodePids(stdout).length === 3) occupied ??= occupy(port);
    });
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    assert.ok(occupied, stdout);
    assert.notEqual(code, 0, stdout);
    assert.match(stderr, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    const pids = nodePids(stdout);
    assert.equal(pids.length, 3);
    assert.ok(await allGone(pids, 5000), `node processes ${pids} are gone`);
    assert.equal(existsSync(lockFile), false, "the lock was released");
  },
);

let live: ChildProcess | undefined;

test(
  "a second vault on a live vault's data dir is refused, naming its pid, and starts no node",
  SLOW,
  async () => {
    live = await startVaultProcess(env(await freePort()));
    children.push(live);
    assert.equal(readFileSync(lockFile, "utf8").trim(), String(live.pid));
    const stderr: string[] = [];
    const res = await runCli(["start"], env(await freePort()), (l) => stderr.push(l));
    assert.equal(res.code, 3);
    assert.match(stderr.join("\n"), new RegExp(`DATA_DIR_LOCKED.*process ${live.pid}\\b`));
    assert.deepEqual(nodePids(res.stdout), []);
  },
);

test(
  "a clean stop releases the lock; after kill -9 the stale lock is taken over",
  SLOW,
  async () => {
    live?.kill("SIGTERM");
    if (live) await killed(live);
    assert.equal(live?.exitCode, 0);
    assert.equal(existsSync(lockFile), false, "released by the clean stop");

    const crashed = await startVaultProcess(env(await freePort()));
    children.push(crashed);
    crashed.kill("SIGKILL");
    await killed(crashed);
    assert.equal(readFileSync(lockFile, "utf8").trim(), String(crashed.pid), "left behind");

    const port = await freePort();
    const next = await startVaultProcess(env(port));
    children.push(next);
    assert.equal(readFileSync(lockFile, "utf8").trim(), String(next.pid), "taken over");
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    next.kill("SIGTERM");
    await killed(next);
  },
);

const nodeArgs = (port: number, dataDir: string) => [
  "node",
  "--index=0",
  `--port=${port}`,
  `--data-dir=${dataDir}`,
  `--vault-key=${generateIdentity().publicIdentity.signingKey}`,
];

test("agent-vault node: a taken port or a locked data dir exits non-zero", SLOW, async () => {
  const port = await freePort();
  await occupy(port);
  const nodeDir = mkdtempSync(join(tmpdir(), "av-lock-node-"));
  const portErr: string[] = [];
  const onPort = await runCli(nodeArgs(port, nodeDir), {}, (l) => portErr.push(l));
  assert.notEqual(onPort.code, 0);
  assert.match(portErr.join("\n"), /EADDRINUSE/);
  assert.equal(existsSync(join(nodeDir, LOCK_FILE)), false, "its lock was released");

  const held = await lockDataDir(nodeDir);
  try {
    const lockErr: string[] = [];
    const onLock = await runCli(nodeArgs(await freePort(), nodeDir), {}, (l) => lockErr.push(l));
    assert.notEqual(onLock.code, 0);
    assert.match(lockErr.join("\n"), new RegExp(`DATA_DIR_LOCKED.*process ${process.pid}\\b`));
  } finally {
    held.release();
  }
});

test(
  "agent-vault node: a --warm-presigs that is not a count exits non-zero naming the flag",
  SLOW,
  async () => {
    const nodeDir = mkdtempSync(join(tmpdir(), "av-warm-node-"));
    for (const bad of ["-1", "many", "1.5"]) {
      const err: string[] = [];
      const res = await runCli(
        [...nodeArgs(await freePort(), nodeDir), `--warm-presigs=${bad}`],
        {},
        (l) => err.push(l),
      );
      assert.notEqual(res.code, 0, bad);
      assert.match(err.join("\n"), /--warm-presigs must be an integer >= 0/, bad);
    }
  },
);
