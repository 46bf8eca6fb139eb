/**
 * Compliance-proof jobs (src/services/compliance.ts), durable across restarts. A row keeps
 * the request as fixed when it was accepted (checkpoints, bound, policy: JSON in `request`),
 * the status and progress, the error or result, and the finished bundle itself (JSON in
 * `bundle`): a bundle is a few kilobytes per batch, and keeping it in the same row means
 * one transaction, one backup and no orphaned files. Listings never read the bundle column.
 */
import type { Db } from "./db.js";

export type ProofJobStatus = "queued" | "proving" | "done" | "failed" | "cancelled";

export interface ProofJobRow {
  id: string;
  agent_id: string;
  /** The request as asked (agent, range, asset, bound): equal keys share a live job. */
  dedup_key: string;
  status: ProofJobStatus;
  /** JSON: what proving needs, fixed at request time. */
  request: string;
  from_seq: number;
  to_seq: number;
  progress_done: number;
  progress_batches: number;
  /** JSON { code, message, seq? } */
  error: string | null;
  /** JSON of the job's result summary */
  result: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const COLUMNS =
  "id, agent_id, dedup_key, status, request, from_seq, to_seq, progress_done, progress_batches, error, result, created_at, started_at, finished_at";

export function migrateProofJobs(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS proof_jobs (
      id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, dedup_key TEXT NOT NULL,
      status TEXT NOT NULL, request TEXT NOT NULL, from_seq INTEGER NOT NULL,
      to_seq INTEGER NOT NULL, progress_done INTEGER NOT NULL DEFAULT 0,
      progress_batches INTEGER NOT NULL DEFAULT 0, error TEXT, result TEXT, bundle TEXT,
      created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
    CREATE INDEX IF NOT EXISTS proof_jobs_dedup ON proof_jobs (dedup_key, status);
    CREATE INDEX IF NOT EXISTS proof_jobs_agent ON proof_jobs (agent_id, created_at);
    CREATE INDEX IF NOT EXISTS proof_jobs_status ON proof_jobs (status, created_at);
  `);
}

export function createProofJobStore(db: Db) {
  migrateProofJobs(db);
  const q = {
    put: db.prepare(
      `INSERT INTO proof_jobs (id, agent_id, dedup_key, status, request, from_seq, to_seq,
         progress_done, progress_batches, created_at)
       VALUES (@id, @agent_id, @dedup_key, @status, @request, @from_seq, @to_seq,
         @progress_done, @progress_batches, @created_at)`,
    ),
    get: db.prepare(`SELECT ${COLUMNS} FROM proof_jobs WHERE id = ?`),
    live: db.prepare(
      `SELECT ${COLUMNS} FROM proof_jobs WHERE dedup_key = ? AND status IN ('queued', 'proving', 'done')
       ORDER BY created_at DESC, rowid DESC LIMIT 1`,
    ),
    unfinished: db.prepare(
      `SELECT ${COLUMNS} FROM proof_jobs WHERE status IN ('queued', 'proving') ORDER BY created_at, rowid`,
    ),
    list: db.prepare(
      `SELECT ${COLUMNS} FROM proof_jobs
       WHERE (@agentId IS NULL OR agent_id = @agentId) AND (@status IS NULL OR status = @status)
       ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
    ),
    update: db.prepare(
      `UPDATE proof_jobs SET status = @status, progress_done = @progress_done,
         progress_batches = @progress_batches, error = @error, result = @result,
         started_at = @started_at, finished_at = @finished_at,
         bundle = coalesce(@bundle, bundle)
       WHERE id = @id`,
    ),
    bundle: db.prepare("SELECT bundle FROM proof_jobs WHERE id = ?"),
  };
  return {
    put: (row: Omit<ProofJobRow, "error" | "result" | "started_at" | "finished_at">) =>
      void q.put.run(row),
    get: (id: string) => q.get.get(id) as ProofJobRow | undefined,
    /** The newest queued, proving or done job for the same request. */
    live: (dedupKey: string) => q.live.get(dedupKey) as ProofJobRow | undefined,
    /** Jobs a stop left queued or proving, oldest first. */
    unfinished: () => q.unfinished.all() as ProofJobRow[],
    list: (f: { agentId?: string; status?: string; limit: number }) =>
      q.list.all({
        agentId: f.agentId ?? null,
        status: f.status ?? null,
        limit: f.limit,
      }) as ProofJobRow[],
    update: (
      row: Pick<
        ProofJobRow,
        | "id"
        | "status"
        | "progress_done"
        | "progress_batches"
        | "error"
        | "result"
        | "started_at"
        | "finished_at"
      > & { bundle?: string },
    ) => void q.update.run({ bundle: null, ...row }),
    bundle: (id: string) => (q.bundle.get(id) as { bundle: string | null } | undefined)?.bundle,
  };
}

export type ProofJobStore = ReturnType<typeof createProofJobStore>;
