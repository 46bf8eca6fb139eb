/**
 * The real PostgreSQL server the tests use (PostgreSQL 15 on 127.0.0.1:5432, trust auth,
 * database `test`; .ci/run starts it if it is down; TEST_DATABASE_URL overrides). Each test
 * gets a schema of its own, dropped afterwards, so tests never see each other's rows.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const PG_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface PgSchema {
  schema: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function pgSchema(): Promise<PgSchema> {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  return {
    schema,
    drop: () => admin((c) => c.query(`DROP SCHEMA ${schema} CASCADE`)).then(() => undefined),
  };
}

/** Runs one statement as the server's superuser (on the `test` database). */
export async function asAdmin(text: string): Promise<void> {
  await admin((c) => c.query(text));
}

/** Ends every connection of this schema's users that runs `query` (a lost connection). */
export async function terminateBackend(pid: number): Promise<void> {
  await admin((c) => c.query("SELECT pg_terminate_backend($1)", [pid]));
}

/** A database of its own (for a process that connects by URL alone), dropped afterwards. */
export async function pgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
