/**
 * SQLite access. Each domain owns its tables and creates them through
 * `migrate(db)`; this module only opens the file with the settings every
 * store relies on: WAL (readers never block the writer, a kill -9 never
 * leaves a torn page) and foreign keys on.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

export type Db = Database.Database;

export function openDatabase(file: string): Db {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // NORMAL in WAL mode survives a process crash; FULL adds an fsync per commit
  // and only matters for power loss.
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  return db;
}

/** Runs `fn` inside one IMMEDIATE transaction (takes the write lock up front). */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** True for SQLite failures of the storage itself (full, read-only, I/O, locked). */
export function isStorageFailure(err: unknown): boolean {
  return (
    err instanceof Database.SqliteError &&
    /^SQLITE_(FULL|READONLY|IOERR|BUSY|LOCKED|CANTOPEN)/.test(err.code)
  );
}
