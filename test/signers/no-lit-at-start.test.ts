/**
 * "npm start of the local default loads no Lit package" (issue 10, "Done when"): the real
 * `agent-vault start` (under tsx) runs in a child process with a resolve recorder
 * (test/helpers/record-resolutions.mjs) until it listens; its signer nodes inherit the
 * recorder. No @lit-protocol package, no ipfs-only-hash and none of the Lit backend modules
 * may be resolved (only the pure list of v7 network names, which the config validates
 * against). A control run imports ipfs-only-hash through the same recorder, so the
 * probe is shown to see a package when one is loaded.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { freePort } from "../helpers/process.js";

const RECORDER = ["--import", "tsx", "--import", "./test/helpers/record-resolutions.mjs"];
/** src/signers/lit/v7/networks.ts is three names (the config validates against them). */
const LIT =
  /@lit-protocol|ipfs-only-hash|\/src\/signers\/lit\/(v7\/(?!networks\.ts)|chipotle\/|action\/)/;

function resolved(log: string): string[] {
  try {
    return readFileSync(log, "utf8").trim().split("\n");
  } catch {
    return [];
  }
}

test("the control: the recorder sees a Lit-side package when one is imported", () => {
  const log = join(mkdtempSync(join(tmpdir(), "av-nolit-")), "resolved.log");
  const out = spawnSync(
    process.execPath,
    [...RECORDER, "--input-type=module", "--eval", "await import('ipfs-only-hash');"],
    { encoding: "utf8", env: { ...process.env, AV_RESOLVE_LOG: log } },
  );
  assert.equal(out.status, 0, out.stderr);
  assert.ok(resolved(log).some((l) => LIT.test(l)));
});

test("agent-vault start with the local default resolves no Lit module", async () => {
  const dir = mkdtempSync(join(tmpdir(), "av-nolit-"));
  const log = join(dir, "resolved.log");
  const child = spawn(process.execPath, [...RECORDER, "src/cli/main.ts", "start"], {
    env: {
      ...process.env,
      AV_RESOLVE_LOG: log,
      VAULT_DATA_DIR: join(dir, "data"),
      VAULT_ADMIN_KEY: "av_admin_test_key_0123456789abcdefghijklmnopqrstuvwxyz",
      VAULT_PORT: String(await freePort()),
      VAULT_PRESIG_POOL: "0",
      VAULT_LOG_LEVEL: "silent",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const ready = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.includes("listening on")) resolve(line);
    });
    child.once("exit", (code) =>
      reject(new Error(`vault exited during start (${code}) ${stderr}`)),
    );
  });
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
  const lines = resolved(log);
  const pids = new Set(lines.map((l) => l.split(" ")[0]));
  assert.ok(lines.length > 100, "the recorder saw the vault's modules");
  assert.ok(pids.size >= 4, `the vault and its three nodes recorded (pids: ${pids.size})`);
  assert.deepEqual(
    lines.filter((l) => LIT.test(l)),
    [],
    "no Lit package or Lit backend module at start",
  );
  // For the record (README): how long the start took, and how many modules it resolved.
  const ms = /ready in (\d+) ms/.exec(ready)?.[1];
  const vaultPid = String(child.pid);
  const own = new Set(lines.filter((l) => l.startsWith(`${vaultPid} `))).size;
  console.log(`# local default: ready in ${ms} ms, ${own} distinct modules in the vault process`);
});
