/** Conversion between audit_log rows and AuditEntry, strict about types. */
import type { AuditEntry } from "./types.js";

/** A row as SQLite returns it; every column is untrusted (the file may be edited). */
export interface AuditRow {
  seq: number;
  ts: unknown;
  type: unknown;
  agent_id: unknown;
  actor: unknown;
  data: unknown;
  prev_hash: unknown;
  hash: unknown;
}

export const ROW_COLUMNS = "seq, ts, type, agent_id, actor, data, prev_hash, hash";

export class CorruptRowError extends Error {}

/** Decodes a row, or throws CorruptRowError naming the bad column. */
export function decodeRow(row: AuditRow): AuditEntry {
  const text = (column: keyof AuditRow, nullable = false): string | null => {
    const value = row[column];
    if (typeof value === "string" || (nullable && value === null)) return value;
    throw new CorruptRowError(
      `corrupted row: ${column} is not ${nullable ? "text or null" : "text"}`,
    );
  };
  const dataText = text("data") as string;
  let data: unknown;
  try {
    data = JSON.parse(dataText);
  } catch {
    throw new CorruptRowError("corrupted row: data is not JSON");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new CorruptRowError("corrupted row: data is not a JSON object");
  }
  return {
    seq: row.seq,
    ts: text("ts") as string,
    type: text("type") as string,
    agentId: text("agent_id", true),
    actor: text("actor", true),
    data: data as Record<string, unknown>,
    prevHash: text("prev_hash") as string,
    hash: text("hash") as string,
  };
}
