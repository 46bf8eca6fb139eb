/**
 * Versioned schema migrations for both engines. Each domain (proof jobs, …) lists its steps,
 * each with the SQL of both dialects; `migrate` applies the ones a database lacks, in order,
 * in one transaction per step, and records them in `schema_migrations`. The step runs under
 * the domain's lock, so replicas starting together apply each step once. A database that has
 * a step this build does not know (a newer build ran on it) is refused, not downgraded.
 */
import type { Sql } from "./types.js";

export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

export interface MigrationStatus {
  domain: string;
  applied: number[];
  pending: Array<{ version: number; name: string }>;
  /** Steps this build does not know: a newer build migrated the database. */
  newer: number[];
}

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  domain TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
  PRIMARY KEY (domain, version))`;

export class SchemaTooNew extends Error {}

async function applied(sql: Pick<Sql, "all">, domain: string): Promise<number[]> {
  const rows = await sql.all<{ version: number }>(
    "SELECT version FROM schema_migrations WHERE domain = $1 ORDER BY version",
    [domain],
  );
  return rows.map((r) => Number(r.version));
}

function check(domain: string, steps: readonly Migration[]): void {
  steps.forEach((s, i) => {
    if (s.version !== i + 1)
      throw new Error(`${domain}: migration ${i + 1} is numbered ${s.version}`);
  });
}

/** The ledger itself, made once even when replicas start together. */
async function ledger(sql: Sql): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.lock("schema_migrations");
    await tx.run(LEDGER);
  });
}

/** A table that does not exist yet (SQLite's message, PostgreSQL's 42P01). */
function isMissingTable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === "42P01" || /no such table/.test(e.message ?? "");
}

/** Reads only: a database no migration ever touched shows every step pending. */
export async function migrationStatus(
  sql: Sql,
  domain: string,
  steps: readonly Migration[],
): Promise<MigrationStatus> {
  check(domain, steps);
  const done = await applied(sql, domain).catch((err: unknown) => {
    if (isMissingTable(err)) return [] as number[];
    throw err;
  });
  const pending = steps.filter((s) => !done.includes(s.version));
  return {
    domain,
    applied: done.filter((v) => v <= steps.length),
    pending: pending.map(({ version, name }) => ({ version, name })),
    newer: done.filter((v) => v > steps.length),
  };
}

/** Applies the missing steps; returns the versions applied now. */
export async function migrate(
  sql: Sql,
  domain: string,
  steps: readonly Migration[],
): Promise<number[]> {
  check(domain, steps);
  await ledger(sql);
  const now: number[] = [];
  for (const step of steps) {
    const ran = await sql.transaction(async (tx) => {
      await tx.lock(`migrate:${domain}`);
      const done = await applied(tx, domain);
      const newest = done.at(-1) ?? 0;
      if (newest > steps.length) {
        throw new SchemaTooNew(
          `${domain}: the database is at version ${newest}, this build knows ${steps.length}`,
        );
      }
      if (done.includes(step.version)) return false;
      for (const statement of splitStatements(step[tx.dialect])) await tx.run(statement);
      await tx.run(
        "INSERT INTO schema_migrations (domain, version, name, applied_at) VALUES ($1, $2, $3, $4)",
        [domain, step.version, step.name, new Date().toISOString()],
      );
      return true;
    });
    if (ran) now.push(step.version);
  }
  return now;
}

/**
 * Adopting a SQLite file an earlier build made: adds `column` to `table` when the table
 * exists without it; true when it did. A new file (no table yet) and PostgreSQL (whose
 * schema starts at version 1) are left alone.
 */
export async function addColumnIfMissing(
  sql: Pick<Sql, "dialect" | "all" | "run">,
  table: string,
  column: string,
  decl: string,
): Promise<boolean> {
  if (sql.dialect !== "sqlite") return false;
  const cols = await sql.all<{ name: string }>("SELECT name FROM pragma_table_info($1)", [table]);
  if (cols.length === 0 || cols.some((c) => c.name === column)) return false;
  await sql.run(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
  return true;
}

/** Statements separated by `;` at line ends (the migrations hold no literal semicolons). */
function splitStatements(text: string): string[] {
  return text
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
