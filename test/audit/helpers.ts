/** Shared set-up for the audit tests: a real file database and raw-SQL tampering. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAuditLog } from "../../src/audit/index.js";
import type { AuditLog } from "../../src/audit/types.js";
import { type Db, openDatabase } from "../../src/store/db.js";

export function tempDbFile(): string {
  return join(mkdtempSync(join(tmpdir(), "av-audit-")), "vault.sqlite");
}

/** A log on a fresh file database, filled with `count` varied entries. */
export function filledLog(count: number): { db: Db; log: AuditLog; file: string } {
  const file = tempDbFile();
  const db = openDatabase(file);
  const log = createAuditLog(db);
  for (let i = 1; i <= count; i++) {
    log.append({
      type: i % 2 ? "sign.requested" : "sign.allowed",
      agentId: `agt_${i % 3}`,
      actor: i % 5 ? "system" : null,
      data: { i, amountWei: BigInt(i) * 10n ** 15n },
    });
  }
  return { db, log, file };
}

/** Runs raw SQL as an attacker with the file would: the append-only triggers dropped first. */
export function tamper(db: Db, sql: string): void {
  db.exec(
    "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;",
  );
  db.exec(sql);
}
