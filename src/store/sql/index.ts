/**
 * Storage engines by name (HashiCorp Vault's factory + backend pattern): a `sqlite:` URL or
 * a file path opens the embedded SQLite engine, `postgres://` (or `postgresql://`) the
 * PostgreSQL one. See ./types.ts for the contract both honour.
 */
import { openDatabase } from "../db.js";
import { createPostgresSql, type PostgresOptions } from "./postgres.js";
import { createSqliteSql } from "./sqlite.js";
import type { Sql } from "./types.js";

export type { Dialect, Param, Sql, SqlRunner, Tx } from "./types.js";
export { StoreConflict, StoreUnavailable } from "./types.js";
export { createPostgresSql, createSqliteSql };

/** Runs `fn` while holding `key` (Sql.hold), and lets it go however `fn` ends. */
export async function holding<T>(
  sql: Pick<Sql, "hold">,
  key: string,
  fn: () => Promise<T>,
): Promise<T> {
  const held = await sql.hold(key);
  try {
    return await fn();
  } finally {
    await held.release();
  }
}

export function engineOf(url: string): "sqlite" | "postgres" {
  return /^postgres(ql)?:\/\//.test(url) ? "postgres" : "sqlite";
}

export function openSql(url: string, opts: PostgresOptions = {}): Sql {
  if (engineOf(url) === "postgres") return createPostgresSql(url, opts);
  return createSqliteSql(openDatabase(sqliteFile(url)));
}

/** The file of a `sqlite:<file>` URL (or of a plain path). */
export function sqliteFile(url: string): string {
  return url.replace(/^sqlite:(\/\/)?/, "");
}
