/**
 * Busy is not down. Key generation keeps every node's CPU busy for seconds; a vault that
 * took one slow health beat for a dead node reported no quorum (/readyz 503) and failed
 * online signatures with QUORUM_UNAVAILABLE. Here, against a real vault process: five
 * agents are created concurrently while 50 signatures for an existing agent are in
 * flight; every signature succeeds and /readyz, sampled every 100 ms, stays 200.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { verifyMessage } from "ethers";
import { freePort, killed, startVaultProcess } from "../../helpers/process.js";
import { ADMIN_KEY, BASIC_POLICY } from "../../helpers/vault.js";
import { newVaultDir } from "../../helpers/vault-snapshot.js";

let vault: ChildProcess | undefined;
after(async () => {
  vault?.kill("SIGKILL");
  if (vault) await killed(vault);
});

type Answer = { signature?: string; error?: { code: string; message: string } };

const admin = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

/** GET /readyz every 100 ms until `done`; returns each answer's status (0: no answer). */
async function sampleReadyz(url: string, done: () => boolean): Promise<number[]> {
  const statuses: number[] = [];
  while (!done()) {
    const next = Date.now() + 100;
    statuses.push(
      await fetch(`${url}/readyz`).then(
        (r) => r.status,
        () => 0,
      ),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  return statuses;
}

interface Outcome {
  signed: Array<{ i: number; status: number; body: Answer }>;
  made: string[];
  readyz: number[];
  address: string;
  events: string[];
}
let outcome: Outcome;

before(async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  vault = await startVaultProcess({
    VAULT_DATA_DIR: await newVaultDir(ADMIN_KEY, {}),
    VAULT_PORT: String(port),
    VAULT_ADMIN_KEY: ADMIN_KEY,
    VAULT_PRESIG_POOL: "4",
    // Beats five times as often as the default: more chances to call a busy node dead.
    VAULT_HEALTH_INTERVAL_MS: "200",
  });
  const create = (name: string) =>
    fetch(`${url}/v1/agents`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name, policy: BASIC_POLICY }),
    });
  const existing = (await (await create("existing")).json()) as { id: string; address: string };
  const events: string[] = []; // the vault's own account of nodes going down
  createInterface({ input: vault.stdout as NodeJS.ReadableStream }).on("line", (l) => {
    if (/ is down| is back|\[node-\d\]/.test(l)) events.push(l);
  });

  let finished = false;
  const samples = sampleReadyz(url, () => finished);
  const sign = (i: number) =>
    fetch(`${url}/v1/agents/${existing.id}/sign/message`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ message: `load ${i}` }),
    }).then(async (r) => ({ i, status: r.status, body: (await r.json()) as Answer }));
  const signatures = Promise.all(Array.from({ length: 50 }, (_, i) => sign(i)));
  const agents = Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      create(`new-${i}`).then(async (r) => `${r.status} ${await r.text()}`),
    ),
  );
  const [signed, made] = await Promise.all([signatures, agents]);
  finished = true;
  outcome = { signed, made, readyz: await samples, address: existing.address, events };
});

test("while five agents are created concurrently, all 50 in-flight signatures succeed", () => {
  const failed = outcome.signed.filter((s) => s.status !== 200);
  assert.deepEqual(
    failed.map((f) => `${f.i}: ${f.status} ${JSON.stringify(f.body.error)}`),
    [],
    `every signature succeeded; vault: ${outcome.events.join(" | ")}`,
  );
  for (const s of outcome.signed) {
    assert.equal(verifyMessage(`load ${s.i}`, s.body.signature ?? ""), outcome.address);
  }
});

test("and /readyz, sampled every 100 ms throughout, stays 200", () => {
  const { readyz, events } = outcome;
  assert.ok(readyz.length >= 10, `sampled /readyz throughout (${readyz.length} samples)`);
  const bad = readyz.filter((s) => s !== 200).length;
  assert.equal(bad, 0, `/readyz not 200 in ${bad} of ${readyz.length} samples; ${events}`);
});

// Key generation runs in each node's engine thread, so five at once finish too.
test("and all five agents are created", () => {
  assert.deepEqual(
    outcome.made.filter((m) => !m.startsWith("201")),
    [],
    `every agent was created; vault: ${outcome.events.join(" | ")}`,
  );
});
