/**
 * Two vault processes on one PostgreSQL database (issue 12): the first starts the embedded
 * signer nodes, the second (same data directory, another port) joins them as a replica.
 * - 40 concurrent spends split across both replicas against a cap sign exactly up to it;
 * - a key revoked on A is refused on B;
 * - B killed (kill -9) under load: A keeps signing, and the chain verifies.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Transaction } from "ethers";
import pg from "pg";
import { pgDatabase } from "../helpers/pg.js";
import { freePort, killed, startVaultProcess } from "../helpers/process.js";
import { ADMIN_KEY, BASE_SEPOLIA, ethTx } from "../helpers/vault.js";

const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const children: ChildProcess[] = [];
let db: { url: string; drop(): Promise<void> };
let A: string;
let B: string;
let replicaB: ChildProcess;

interface Body {
  id?: string;
  key?: string;
  keyId?: string;
  address?: string;
  ok?: boolean;
  signedTransaction?: string;
  error?: { rule?: string; code?: string };
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = admin,
) {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? { headers }
      : {
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Body };
}

before(async () => {
  db = await pgDatabase();
  const dir = mkdtempSync(join(tmpdir(), "av-replicas-"));
  const env = (port: number) => ({
    VAULT_DATA_DIR: dir,
    VAULT_DATABASE_URL: db.url,
    VAULT_PORT: String(port),
    VAULT_ADMIN_KEY: ADMIN_KEY,
    VAULT_PRESIG_POOL: "2",
    // Replicas look for a dead replica's reservations every 5 health intervals: 1 s here.
    VAULT_HEALTH_INTERVAL_MS: "200",
  });
  const [pa, pb] = [await freePort(), await freePort()];
  children.push(await startVaultProcess(env(pa)));
  replicaB = await startVaultProcess(env(pb));
  children.push(replicaB);
  A = `http://127.0.0.1:${pa}`;
  B = `http://127.0.0.1:${pb}`;
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map(killed));
  await db?.drop();
});

async function agentWithKey(policy: unknown) {
  const agent = await call(A, "POST", "/v1/agents", { name: "replicated", policy });
  assert.equal(agent.status, 201, JSON.stringify(agent.body));
  const key = await call(A, "POST", `/v1/agents/${agent.body.id}/keys`, {
    scopes: ["EXECUTE", "SPEND"],
  });
  assert.equal(key.status, 201);
  const auth = { authorization: `Bearer ${key.body.key}` };
  return { id: agent.body.id as string, keyId: key.body.keyId as string, auth };
}

const sign = (base: string, id: string, auth: Record<string, string>, nonce: number) =>
  call(base, "POST", `/v1/agents/${id}/sign/transaction`, { tx: ethTx({ nonce }) }, auth);

test("the replica serves the agent the first vault created, with the same address", async () => {
  const { id } = await agentWithKey({
    chains: [BASE_SEPOLIA],
    assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } },
  });
  const [a, b] = [
    await call(A, "GET", `/v1/agents/${id}`),
    await call(B, "GET", `/v1/agents/${id}`),
  ];
  assert.equal(b.status, 200);
  assert.equal(b.body.address, a.body.address);
});

test("40 concurrent spends split across both replicas sign exactly up to the cap", async () => {
  const { id, auth } = await agentWithKey({
    chains: [BASE_SEPOLIA],
    assets: { ETH: { maxPerTx: "0.001", maxPer24h: "0.01" } },
  });
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => sign(i % 2 ? B : A, id, auth, i + 1)),
  );
  const signed = results.filter((r) => r.status === 200);
  const denied = results.filter((r) => r.status === 403);
  assert.equal(signed.length, 10, JSON.stringify(results.map((r) => r.status)));
  assert.equal(denied.length, 30);
  assert.ok(denied.every((r) => r.body.error?.rule === "maxPer24h"));
  // Presignatures single-use across replicas: a presignature is the signature's nonce, so
  // one used twice would show as two signatures with the same r.
  const rs = signed.map((r) => Transaction.from(r.body.signedTransaction).signature?.r);
  assert.equal(new Set(rs).size, 10, "every signature has a nonce of its own");
});

test("a key revoked on A is refused on B", async () => {
  const { id, keyId, auth } = await agentWithKey({
    chains: [BASE_SEPOLIA],
    assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } },
  });
  assert.equal((await sign(B, id, auth, 1)).status, 200);
  assert.equal((await call(A, "DELETE", `/v1/keys/${keyId}`)).status, 200);
  const refused = await sign(B, id, auth, 2);
  assert.equal(refused.status, 401, JSON.stringify(refused.body));
});

test("B killed under load: A keeps signing, nothing is half-written, the chain verifies", async () => {
  const { id, auth } = await agentWithKey({
    chains: [BASE_SEPOLIA],
    assets: { ETH: { maxPerTx: "0.001", maxPer24h: "1" } },
  });
  const load = Array.from({ length: 12 }, (_, i) => sign(i % 2 ? B : A, id, auth, 100 + i));
  // Settled from the start: B's requests fail when it dies, and are handled as they do.
  const settled = Promise.allSettled(load);
  await new Promise((r) => setTimeout(r, 150));
  replicaB.kill("SIGKILL");
  await killed(replicaB);
  const outcomes = await settled;
  // A's share all answered; B's died with it or answered before.
  assert.ok(
    outcomes.filter((_, i) => i % 2 === 0).every((o) => o.status === "fulfilled"),
    "every request to A answered",
  );
  for (let i = 0; i < 4; i++) {
    const after = await sign(A, id, auth, 200 + i);
    assert.equal(after.status, 200, JSON.stringify(after.body));
  }
  const verify = await call(A, "GET", "/v1/audit/verify");
  assert.equal(verify.body.ok, true, JSON.stringify(verify.body));
  // Whatever B had reserved when it died is released by A, not left counting on the cap.
  const left = await waitFor(async () => {
    const rows = await query(
      "SELECT count(*) AS n FROM sign_requests WHERE agent_id = $1 AND status IN ('reserved', 'incomplete')",
      [id],
    );
    return Number(rows[0]?.n) === 0 ? 0 : undefined;
  }, 15_000);
  assert.equal(left, 0, "no reservation of the dead replica is left behind");
});

async function query(text: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}
