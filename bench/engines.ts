/**
 * `npm run bench -- engines`: the storage seam's atomic budget reservation (src/store/sql:
 * lock the agent, sum its last 24 h of spends, insert if the cap allows) on SQLite and on
 * PostgreSQL with one and two replicas (two connection pools standing for two vault
 * processes), ten agents or one hot agent. This is the primitive that keeps caps atomic
 * across replicas; the figures show what it costs and where it queues: per agent on
 * PostgreSQL (an advisory lock), on the one writer for SQLite.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openDatabase } from "../src/store/db.js";
import { createPostgresSql, createSqliteSql, type Sql } from "../src/store/sql/index.js";
import { median, percentile, round } from "./stats.js";

const PG_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DAY_MS = 86_400_000;
const CLIENTS = 20;
const PER_CLIENT = 100;

const TABLE = {
  sqlite:
    "CREATE TABLE spends (id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL, amount BIGINT NOT NULL, at_ms BIGINT NOT NULL)",
  postgres:
    "CREATE TABLE spends (id BIGSERIAL PRIMARY KEY, agent TEXT NOT NULL, amount BIGINT NOT NULL, at_ms BIGINT NOT NULL)",
};

function reserve(sql: Sql, agent: string): Promise<boolean> {
  return sql.transaction(async (tx) => {
    await tx.lock(`agent:${agent}`);
    const now = Date.now();
    const spent = await tx.get<{ s: number | null }>(
      "SELECT sum(amount) AS s FROM spends WHERE agent = $1 AND at_ms > $2",
      [agent, now - DAY_MS],
    );
    if (Number(spent?.s ?? 0) + 1 > 1_000_000) return false;
    await tx.run("INSERT INTO spends (agent, amount, at_ms) VALUES ($1, $2, $3)", [agent, 1, now]);
    return true;
  });
}

async function drive(replicas: Sql[], agents: number) {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const sql = replicas[c % replicas.length] as Sql;
      for (let i = 0; i < PER_CLIENT; i++) {
        const t0 = performance.now();
        await reserve(sql, `agt-${(c + i) % agents}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    reservationsPerSecond: Math.round(latencies.length / seconds),
    p50Ms: round(median(latencies)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

async function withPostgres<T>(fn: (open: () => Sql) => Promise<T>): Promise<T> {
  const schema = `bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const opened: Sql[] = [];
  try {
    return await fn(() => {
      const sql = createPostgresSql(PG_URL, { schema, max: 10 });
      opened.push(sql);
      return sql;
    });
  } finally {
    await Promise.all(opened.map((s) => s.close()));
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

async function sqliteRun(agents: number) {
  const file = join(mkdtempSync(join(tmpdir(), "av-bench-engine-")), "vault.sqlite");
  const sql = createSqliteSql(openDatabase(file));
  try {
    await sql.exec(TABLE.sqlite);
    await sql.exec("CREATE INDEX spends_window ON spends (agent, at_ms)");
    return await drive([sql], agents);
  } finally {
    await sql.close();
  }
}

async function postgresRun(replicas: number, agents: number) {
  return withPostgres(async (open) => {
    const pools = Array.from({ length: replicas }, open);
    await pools[0]?.exec(TABLE.postgres);
    await pools[0]?.exec("CREATE INDEX spends_window ON spends (agent, at_ms)");
    return drive(pools, agents);
  });
}

const NOTIFICATIONS = 200;

/** Sent on one replica, received on another: the push that tells replicas of a change. */
async function notifyLatency(from: Sql, to: Sql) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let waiting: (() => void) | undefined;
  const listener = await to.listen("bench_changes", {
    message: (payload) => {
      const t0 = sentAt.get(payload);
      if (t0 !== undefined) latencies.push(performance.now() - t0);
      waiting?.();
    },
  });
  try {
    for (let i = 0; i < NOTIFICATIONS; i++) {
      const got = new Promise<void>((resolve) => {
        waiting = resolve;
      });
      sentAt.set(String(i), performance.now());
      await from.notify("bench_changes", String(i));
      await got;
    }
  } finally {
    await listener.close();
  }
  return {
    samples: latencies.length,
    p50Ms: round(median(latencies), 3),
    p99Ms: round(percentile(latencies, 99), 3),
  };
}

export async function runEnginesBench(log: (line: string) => void) {
  const result: Record<string, unknown> = {
    clients: CLIENTS,
    reservationsPerClient: PER_CLIENT,
  };
  for (const agents of [10, 1]) {
    const label = agents === 1 ? "oneHotAgent" : "tenAgents";
    log(`engines: ${label}, SQLite`);
    const sqlite = await sqliteRun(agents);
    log(`engines: ${label}, PostgreSQL, 1 replica`);
    const pg1 = await postgresRun(1, agents);
    log(`engines: ${label}, PostgreSQL, 2 replicas`);
    const pg2 = await postgresRun(2, agents);
    result[label] = {
      sqlite,
      postgres1Replica: pg1,
      postgres2Replicas: pg2,
      ratioPostgres1ToSqlite: round(pg1.reservationsPerSecond / sqlite.reservationsPerSecond),
    };
  }
  log("engines: a notification from one replica to another");
  result.notifyToOtherReplica = {
    postgres: await withPostgres(async (open) => notifyLatency(open(), open())),
  };
  return result;
}
