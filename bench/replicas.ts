/**
 * `npm run bench -- replicas` (issue 12): the vault on SQLite (the baseline, measured in the
 * same run) against the vault on PostgreSQL with one replica and with two, on one machine:
 *  - audit appends/s: 10 concurrent appenders (5 per replica with two), each append one
 *    transaction that takes the audit head lock;
 *  - warm-pool signatures/s: ten agents, ten HTTP clients (five per replica with two), every
 *    presignature already made;
 *  - a revocation on replica A: how long until B refuses the key (B reads the key's row on
 *    every request, nothing is cached), and until B's revocation stream hears of it
 *    (PostgreSQL NOTIFY), 100 revocations each.
 * The second replica is a second vault in this process that joins the first one's signer
 * nodes, as `npm start` does when the data directory is held (src/cli/start.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openAuditLog } from "../src/audit/log.js";
import { loadConfig } from "../src/config/index.js";
import { buildApp } from "../src/http/app.js";
import { createVault, type Vault } from "../src/services/vault.js";
import { openDatabase } from "../src/store/db.js";
import { createPostgresSql, createSqliteSql, type Sql } from "../src/store/sql/index.js";
import { ADMIN, clients, listen, log, POLICY, setPoolTarget } from "./harness.js";
import { median, percentile, round } from "./stats.js";

const PG_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const AGENTS = 10;
const WARM_PER_CLIENT = 10;
const APPENDS = 200;
const REVOCATIONS = 100;

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A database of its own for one measurement, dropped afterwards. */
async function database(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bench_${randomBytes(5).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE ${name} WITH (FORCE)`) };
}

/** 10 appenders split over the replicas, APPENDS each. */
async function appends(replicas: Sql[]) {
  const logs = await Promise.all(replicas.map((sql) => openAuditLog(sql)));
  const latencies: number[] = [];
  const appender = async (i: number) => {
    const log = logs[i % logs.length];
    if (!log) return;
    for (let k = 0; k < APPENDS; k++) {
      const t = performance.now();
      await log.append({ type: "bench.append", agentId: `agt_${i}`, data: { i, k } });
      latencies.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: 10 }, (_, i) => appender(i)));
  const seconds = (performance.now() - start) / 1000;
  const verified = await logs[0]?.verify();
  return {
    appendsPerSecond: round(latencies.length / seconds),
    p50Ms: round(median(latencies)),
    p99Ms: round(percentile(latencies, 99)),
    chainVerifies: verified?.ok === true,
  };
}

async function auditFigures() {
  const file = join(mkdtempSync(join(tmpdir(), "av-bench-audit-")), "vault.sqlite");
  const sqlite = createSqliteSql(openDatabase(file));
  const sqliteFigure = await appends([sqlite]);
  await sqlite.close();
  const out: Record<string, unknown> = { sqlite: sqliteFigure };
  for (const n of [1, 2]) {
    const db = await database();
    const replicas = Array.from({ length: n }, () => createPostgresSql(db.url, { max: 10 }));
    try {
      out[`postgres${n}`] = await appends(replicas);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
      await db.drop();
    }
  }
  return out;
}

function vaultConfig(dir: string, databaseUrl?: string) {
  return loadConfig({
    VAULT_DATA_DIR: dir,
    VAULT_ADMIN_KEY: ADMIN,
    VAULT_PRESIG_POOL: String(WARM_PER_CLIENT + 2),
    VAULT_NODE_WARM_PRESIGS: "512",
    VAULT_LOG_LEVEL: "silent",
    VAULT_ZK_SETUP: "off",
    ...(databaseUrl ? { VAULT_DATABASE_URL: databaseUrl } : {}),
  });
}

/** Warm-pool signatures/s: the agents' clients split over the replicas' URLs. */
async function warm(replicas: Array<{ vault: Vault; url: string }>, agents: string[]) {
  for (const r of replicas) await r.vault.clusters.whenRefilled();
  const targets = replicas.map((r) => setPoolTarget(r.vault, 0));
  const share = Math.ceil(agents.length / replicas.length);
  const start = performance.now();
  const runs = await Promise.all(
    replicas.map((r, i) => {
      const mine = agents.slice(i * share, (i + 1) * share);
      return clients(r.url, mine, mine.length, WARM_PER_CLIENT);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  for (const [i, r] of replicas.entries()) setPoolTarget(r.vault, targets[i] ?? 0);
  const latencies = runs.flatMap((r) => r.latencies);
  return {
    clients: agents.length,
    signaturesPerSecond: round(latencies.length / seconds),
    p50Ms: round(median(latencies)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

/** Revoked on A: when B refuses the key, and when B's revocation stream hears of it. */
async function revocationReach(a: Vault, b: Vault, agentId: string) {
  const refused: number[] = [];
  const pushed: number[] = [];
  let heard: (() => void) | undefined;
  const stop = b.revocations.onEvent(() => heard?.());
  try {
    for (let i = 0; i < REVOCATIONS; i++) {
      const key = await a.keys.issue(agentId, ["READ"], "bench");
      const onB = new Promise<void>((resolve) => {
        heard = resolve;
      });
      await a.keys.revoke(key.keyId, "bench");
      const revokedAt = performance.now();
      if ((await b.keys.authenticate(key.key)) !== undefined)
        throw new Error("replica B still accepts a key revoked on A");
      refused.push(performance.now() - revokedAt);
      await onB;
      pushed.push(performance.now() - revokedAt);
    }
  } finally {
    stop();
  }
  const figure = (xs: number[]) => ({ p50Ms: round(median(xs)), p99Ms: round(percentile(xs, 99)) });
  return { revocations: REVOCATIONS, refusedOnB: figure(refused), pushedToB: figure(pushed) };
}

async function start(config: ReturnType<typeof vaultConfig>, replica = false) {
  const vault = await createVault(config, { timers: false, replica });
  const app = await buildApp(vault);
  return { vault, app, url: await listen(app) };
}

async function createAgents(vault: Vault): Promise<string[]> {
  const agents: string[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const agent = await vault.agents.create({ name: `r-${i}`, policy: POLICY }, ADMIN, "bench");
    agents.push(agent.id);
  }
  return agents;
}

async function signingFigures() {
  log("replicas: SQLite baseline");
  const base = await start(vaultConfig(mkdtempSync(join(tmpdir(), "av-bench-rep-"))));
  let sqlite: Awaited<ReturnType<typeof warm>>;
  try {
    const agents = await createAgents(base.vault);
    await clients(base.url, agents, AGENTS, 0, { warmup: 1 });
    sqlite = await warm([base], agents);
  } finally {
    await base.app.close();
    await base.vault.stop();
  }

  const db = await database();
  const dir = mkdtempSync(join(tmpdir(), "av-bench-rep-"));
  log("replicas: PostgreSQL, replica A starts the nodes, B joins them");
  const a = await start(vaultConfig(dir, db.url));
  const b = await start(vaultConfig(dir, db.url), true);
  try {
    const agents = await createAgents(a.vault);
    await clients(a.url, agents, AGENTS, 0, { warmup: 1 });
    await clients(b.url, agents, AGENTS, 0, { warmup: 1 });
    const postgres1 = await warm([a], agents);
    const postgres2 = await warm([a, b], agents);
    log("replicas: revocation reach, A to B");
    const reach = await revocationReach(a.vault, b.vault, agents[0] as string);
    return { sqlite, postgres1, postgres2, revocation: reach };
  } finally {
    for (const r of [b, a]) {
      await r.app.close();
      await r.vault.stop();
    }
    await db.drop();
  }
}

export async function runReplicasBench() {
  log("replicas: audit appends");
  const audit = await auditFigures();
  const signing = await signingFigures();
  const rate = (x: unknown) => (x as { appendsPerSecond: number }).appendsPerSecond;
  return {
    machine: { cpus: (await import("node:os")).cpus().length },
    auditAppends: audit,
    warmPoolSigning: {
      sqlite: signing.sqlite,
      postgres1: signing.postgres1,
      postgres2: signing.postgres2,
    },
    revocation: signing.revocation,
    ratio: {
      auditPostgres1VsSqlite: round(rate(audit.postgres1) / rate(audit.sqlite)),
      auditPostgres2VsPostgres1: round(rate(audit.postgres2) / rate(audit.postgres1)),
      signingPostgres1VsSqlite: round(
        signing.postgres1.signaturesPerSecond / signing.sqlite.signaturesPerSecond,
      ),
      signingPostgres2VsPostgres1: round(
        signing.postgres2.signaturesPerSecond / signing.postgres1.signaturesPerSecond,
      ),
    },
  };
}
