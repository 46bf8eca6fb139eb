/**
 * Tables of the audit log. seq is assigned by the log (head.seq + 1), never by
 * SQLite, so a gap always means a deletion. The triggers make the table
 * append-only for every connection that goes through SQL; they do not stop
 * someone with the file (they can drop them), which is what verify() is for.
 */
import type { Db } from "../store/db.js";

export function migrate(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS audit_log (
      seq INTEGER PRIMARY KEY,
      ts TEXT NOT NULL,
      type TEXT NOT NULL,
      agent_id TEXT,
      actor TEXT,
      data TEXT NOT NULL,
      prev_hash TEXT NOT NULL,
      hash TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS audit_log_agent ON audit_log (agent_id, seq);
    CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    -- The Poseidon chain beside the SHA-256 one (src/audit/commitment.ts), outside the SHA-256
    -- encoding so old entries keep their hashes; recomputable from the entries alone.
    CREATE TABLE IF NOT EXISTS audit_zk (
      seq INTEGER PRIMARY KEY,
      commitment TEXT NOT NULL,
      zk_head TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS audit_checkpoints (
      seq INTEGER PRIMARY KEY,
      hash TEXT NOT NULL,
      signature TEXT NOT NULL,
      signers TEXT NOT NULL,
      signed_at TEXT NOT NULL,
      extra TEXT
    );
    -- The vault's key-value table (src/store/vault-store.ts creates it the same way); the
    -- log keeps its zk v2 start seq there (src/audit/commitment.ts).
    CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
  `);
}
