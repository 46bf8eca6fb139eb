/** Shared set-up for the audit tests: a real file database and raw-SQL tampering. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openAuditLog } from "../../src/audit/index.js";
import type { AuditLog } from "../../src/audit/types.js";
import { type Db, openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import type { Sql } from "../../src/store/sql/types.js";

export function tempDbFile(): string {
  return join(mkdtempSync(join(tmpdir(), "av-audit-")), "vault.sqlite");
}

export interface OpenedLog {
  /** The raw connection under `sql` (the same one), for pragmas and tampering. */
  db: Db;
  sql: Sql;
  log: AuditLog;
}

/** A log on a connection of its own to `file` (its migrations applied). */
export async function openLog(file: string, opts: { now?: () => Date } = {}): Promise<OpenedLog> {
  const db = openDatabase(file);
  const sql = createSqliteSql(db);
  return { db, sql, log: await openAuditLog(sql, opts) };
}

/** A log on a fresh file database, filled with `count` varied entries. */
export async function filledLog(count: number): Promise<OpenedLog & { file: string }> {
  const file = tempDbFile();
  const opened = await openLog(file);
  for (let i = 1; i <= count; i++) {
    await opened.log.append({
      type: i % 2 ? "sign.requested" : "sign.allowed",
      agentId: `agt_${i % 3}`,
      actor: i % 5 ? "system" : null,
      data: { i, amountWei: BigInt(i) * 10n ** 15n },
    });
  }
  return { ...opened, file };
}

/** Runs raw SQL as an attacker with the file would: the append-only triggers dropped first. */
export function tamper(db: Db, sql: string): void {
  db.exec(
    "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;",
  );
  db.exec(sql);
}
