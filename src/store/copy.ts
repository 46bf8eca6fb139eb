/**
 * Copies a vault's database to another engine (`agent-vault db copy --from … --to …`, issue
 * 12): typically an embedded SQLite file to PostgreSQL when an operator moves to replicas.
 *
 * The target is migrated first (every domain, src/services/schema.ts) and must hold no vault
 * yet: copying over a live vault would merge two histories. Tables are copied parents first
 * (the source's foreign keys give the order), a page at a time, in ONE transaction on the
 * target: a copy that fails leaves the target as empty as it was. Only the columns both
 * sides have are copied; the migration ledger is the target's own. Afterwards the caller
 * verifies the audit chain on the target (src/cli/db.ts does).
 */
import type { Param, Sql } from "./sql/types.js";

const PAGE = 500;
/** Tables the copy never carries: the target's own migration ledger. */
const SKIP = new Set(["schema_migrations"]);

export interface CopyReport {
  tables: Array<{ table: string; rows: number }>;
}

export class TargetNotEmpty extends Error {
  readonly code = "TARGET_NOT_EMPTY";
}

/** Copies every table of a SQLite `from` into `to` (already migrated). */
export async function copyVault(from: Sql, to: Sql): Promise<CopyReport> {
  if (from.dialect !== "sqlite") throw new Error("db copy reads a SQLite vault database");
  const tables = await sourceTables(from);
  const report: CopyReport = { tables: [] };
  await to.transaction(async (tx) => {
    await tx.lock("db_copy");
    const existing = await tx.get<{ n: number }>("SELECT count(*) AS n FROM agents");
    const entries = await tx.get<{ n: number }>("SELECT count(*) AS n FROM audit_log");
    if (Number(existing?.n) > 0 || Number(entries?.n) > 0)
      throw new TargetNotEmpty("the target already holds a vault: copy into an empty database");
    for (const table of tables) {
      const columns = await commonColumns(from, to, table);
      if (columns.length === 0) continue;
      report.tables.push({ table, rows: await copyTable(from, to, table, columns) });
    }
  });
  return report;
}

/** The source's tables, each after the tables its foreign keys point to. */
async function sourceTables(from: Sql): Promise<string[]> {
  const names = (
    await from.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
  )
    .map((r) => r.name)
    .filter((n) => !SKIP.has(n));
  const parents = new Map<string, string[]>();
  for (const name of names) {
    const fks = await from.all<{ table: string }>(
      'SELECT "table" FROM pragma_foreign_key_list($1)',
      [name],
    );
    parents.set(
      name,
      fks.map((f) => f.table).filter((t) => t !== name),
    );
  }
  const ordered: string[] = [];
  const visit = (name: string, path: Set<string>) => {
    if (ordered.includes(name) || path.has(name)) return;
    path.add(name);
    for (const p of parents.get(name) ?? []) if (parents.has(p)) visit(p, path);
    ordered.push(name);
  };
  for (const name of names) visit(name, new Set());
  return ordered;
}

async function columnsOf(sql: Sql, table: string): Promise<string[]> {
  if (sql.dialect === "sqlite") {
    const rows = await sql.all<{ name: string }>("SELECT name FROM pragma_table_info($1)", [table]);
    return rows.map((r) => r.name);
  }
  const rows = await sql.all<{ name: string }>(
    `SELECT column_name AS name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1`,
    [table],
  );
  return rows.map((r) => r.name);
}

async function commonColumns(from: Sql, to: Sql, table: string): Promise<string[]> {
  const target = new Set(await columnsOf(to, table));
  return (await columnsOf(from, table)).filter((c) => target.has(c));
}

async function copyTable(from: Sql, to: Sql, table: string, columns: string[]) {
  const list = columns.map((c) => `"${c}"`).join(", ");
  const marks = columns.map((_, i) => `$${i + 1}`).join(", ");
  const insert = `INSERT INTO ${table} (${list}) VALUES (${marks})`;
  let copied = 0;
  for (let offset = 0; ; offset += PAGE) {
    // rowid order: the order the rows were written in (the audit log's is its seq).
    const rows = await from.all<Record<string, Param>>(
      `SELECT ${list} FROM ${table} ORDER BY rowid LIMIT $1 OFFSET $2`,
      [PAGE, offset],
    );
    for (const row of rows)
      await to.run(
        insert,
        columns.map((c) => row[c] ?? null),
      );
    copied += rows.length;
    if (rows.length < PAGE) return copied;
  }
}
