/**
 * Tables of the audit log, versioned for both storage engines (src/store/sql/migrate.ts).
 * seq is assigned by the log (head.seq + 1, under the head lock), never by the database, so
 * a gap always means a deletion. Triggers make the table append-only for every connection
 * that goes through SQL; they do not stop someone with the file or a superuser (they can
 * drop them), which is what verify() and the co-signed checkpoints are for.
 */
import type { Migration } from "../store/sql/migrate.js";

const tables = (int: "INTEGER" | "BIGINT") => `CREATE TABLE IF NOT EXISTS audit_log (
  seq ${int} PRIMARY KEY, ts TEXT NOT NULL, type TEXT NOT NULL, agent_id TEXT, actor TEXT,
  data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_agent ON audit_log (agent_id, seq);
CREATE TABLE IF NOT EXISTS audit_zk (
  seq ${int} PRIMARY KEY, commitment TEXT NOT NULL, zk_head TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq ${int} PRIMARY KEY, hash TEXT NOT NULL, signature TEXT NOT NULL, signers TEXT NOT NULL,
  signed_at TEXT NOT NULL, extra TEXT);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`;

/**
 * Version 1 is the log as earlier builds made it (IF NOT EXISTS: they did), with the
 * Poseidon chain beside it (src/audit/commitment.ts), the signed heads, and the vault's
 * key-value table, where the log pins its zk v2 start.
 */
export const AUDIT_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "audit_log",
    sqlite: `${tables("INTEGER")};
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
    postgres: `${tables("BIGINT")};
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $fn$;
CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log EXECUTE FUNCTION audit_log_append_only()`,
  },
];
