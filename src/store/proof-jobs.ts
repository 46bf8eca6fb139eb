/**
 * Compliance-proof jobs (src/services/compliance.ts), durable across restarts. A row keeps
 * the request as fixed when it was accepted (checkpoints, bound, policy: JSON in `request`),
 * the status and progress, the error or result, and the finished bundle itself (JSON in
 * `bundle`): a bundle is a few kilobytes per batch, and keeping it in the same row means
 * one transaction, one backup and no orphaned files. Listings never read the bundle column.
 * Behind the storage seam (src/store/sql): SQLite or PostgreSQL.
 *
 * Replicas share the table, so a job is proved under a lease: the process that claims it
 * (queued → proving) names itself and renews the lease while its prover runs; another
 * process takes a proving job back only once its lease has lapsed (its prover died with
 * its process), and a renewal that finds the job no longer its own stops the prover.
 */
import { type Migration, migrate } from "./sql/migrate.js";
import type { Sql } from "./sql/types.js";

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

const table = (
  ints: "INTEGER" | "BIGINT",
  order: string,
) => `CREATE TABLE IF NOT EXISTS proof_jobs (
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, dedup_key TEXT NOT NULL,
  status TEXT NOT NULL, request TEXT NOT NULL, from_seq ${ints} NOT NULL,
  to_seq ${ints} NOT NULL, progress_done ${ints} NOT NULL DEFAULT 0,
  progress_batches ${ints} NOT NULL DEFAULT 0, error TEXT, result TEXT, bundle TEXT,
  created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT${order});
CREATE INDEX IF NOT EXISTS proof_jobs_dedup ON proof_jobs (dedup_key, status);
CREATE INDEX IF NOT EXISTS proof_jobs_agent ON proof_jobs (agent_id, created_at);
CREATE INDEX IF NOT EXISTS proof_jobs_status ON proof_jobs (status, created_at)`;

/**
 * Version 1 is the table as earlier builds made it (IF NOT EXISTS: they did). Rows made in
 * the same millisecond keep their order: SQLite's rowid, PostgreSQL's `n`.
 */
export const PROOF_JOB_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "proof_jobs",
    sqlite: table("INTEGER", ""),
    postgres: table("BIGINT", ",\n  n BIGSERIAL"),
  },
  { version: 2, name: "proof job leases", sqlite: leases("INTEGER"), postgres: leases("BIGINT") },
];

function leases(int: "INTEGER" | "BIGINT"): string {
  return `ALTER TABLE proof_jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE proof_jobs ADD COLUMN lease_ms ${int}`;
}

export interface ProofJobStore {
  put(row: Omit<ProofJobRow, "error" | "result" | "started_at" | "finished_at">): Promise<void>;
  get(id: string): Promise<ProofJobRow | undefined>;
  /** The newest queued, proving or done job for the same request. */
  live(dedupKey: string): Promise<ProofJobRow | undefined>;
  /** Jobs a stop left queued or proving, oldest first. */
  unfinished(): Promise<ProofJobRow[]>;
  list(f: { agentId?: string; status?: string; limit: number }): Promise<ProofJobRow[]>;
  update(
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
    /** Only from these statuses (a job cancelled or finished meanwhile is left as it is). */
    from?: readonly ProofJobStatus[],
    /** Only while this process's claim holds (not taken back and claimed by another). */
    owner?: string,
  ): Promise<boolean>;
  bundle(id: string): Promise<string | null | undefined>;
  /** Queued → proving for `owner`, its lease running to `leaseMs`; false if not queued. */
  claim(id: string, owner: string, startedAt: string, leaseMs: number): Promise<boolean>;
  /** Extends `owner`'s lease; false once the job is no longer proving under it. */
  renew(id: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Proving → queued, if its lease ended before `nowMs` (its prover is gone); else false. */
  takeBack(id: string, nowMs: number): Promise<boolean>;
}

export async function openProofJobStore(sql: Sql): Promise<ProofJobStore> {
  await migrate(sql, "proof_jobs", PROOF_JOB_MIGRATIONS);
  const order = sql.dialect === "postgres" ? "n" : "rowid";
  return {
    async put(r) {
      await sql.run(
        `INSERT INTO proof_jobs (id, agent_id, dedup_key, status, request, from_seq, to_seq,
           progress_done, progress_batches, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          r.id,
          r.agent_id,
          r.dedup_key,
          r.status,
          r.request,
          r.from_seq,
          r.to_seq,
          r.progress_done,
          r.progress_batches,
          r.created_at,
        ],
      );
    },
    get: (id) => sql.get<ProofJobRow>(`SELECT ${COLUMNS} FROM proof_jobs WHERE id = $1`, [id]),
    live: (dedupKey) =>
      sql.get<ProofJobRow>(
        `SELECT ${COLUMNS} FROM proof_jobs
         WHERE dedup_key = $1 AND status IN ('queued', 'proving', 'done')
         ORDER BY created_at DESC, ${order} DESC LIMIT 1`,
        [dedupKey],
      ),
    unfinished: () =>
      sql.all<ProofJobRow>(
        `SELECT ${COLUMNS} FROM proof_jobs WHERE status IN ('queued', 'proving')
         ORDER BY created_at, ${order}`,
      ),
    list: (f) =>
      sql.all<ProofJobRow>(
        `SELECT ${COLUMNS} FROM proof_jobs
         WHERE (CAST($1 AS TEXT) IS NULL OR agent_id = $1)
           AND (CAST($2 AS TEXT) IS NULL OR status = $2)
         ORDER BY created_at DESC, ${order} DESC LIMIT $3`,
        [f.agentId ?? null, f.status ?? null, f.limit],
      ),
    async update(r, from, owner) {
      if (from && from.length === 0) return false;
      const listed = from ?? [];
      const statuses = from
        ? ` AND status IN (${listed.map((_, i) => `$${10 + i}`).join(", ")})`
        : "";
      const mine = owner === undefined ? "" : ` AND lease_owner = $${10 + listed.length}`;
      const { changes } = await sql.run(
        `UPDATE proof_jobs SET status = $2, progress_done = $3, progress_batches = $4,
           error = $5, result = $6, started_at = $7, finished_at = $8,
           bundle = coalesce(CAST($9 AS TEXT), bundle)
         WHERE id = $1${statuses}${mine}`,
        [
          r.id,
          r.status,
          r.progress_done,
          r.progress_batches,
          r.error,
          r.result,
          r.started_at,
          r.finished_at,
          r.bundle ?? null,
          ...listed,
          ...(owner === undefined ? [] : [owner]),
        ],
      );
      return changes === 1;
    },
    async claim(id, owner, startedAt, leaseMs) {
      const { changes } = await sql.run(
        `UPDATE proof_jobs SET status = 'proving', started_at = $2, progress_done = 0,
           lease_owner = $3, lease_ms = $4 WHERE id = $1 AND status = 'queued'`,
        [id, startedAt, owner, leaseMs],
      );
      return changes === 1;
    },
    async renew(id, owner, leaseMs) {
      const { changes } = await sql.run(
        `UPDATE proof_jobs SET lease_ms = $3
         WHERE id = $1 AND status = 'proving' AND lease_owner = $2`,
        [id, owner, leaseMs],
      );
      return changes === 1;
    },
    async takeBack(id, nowMs) {
      const { changes } = await sql.run(
        `UPDATE proof_jobs SET status = 'queued', progress_done = 0, started_at = NULL,
           lease_owner = NULL, lease_ms = NULL
         WHERE id = $1 AND status = 'proving' AND (lease_ms IS NULL OR lease_ms < $2)`,
        [id, nowMs],
      );
      return changes === 1;
    },
    bundle: async (id) =>
      (
        await sql.get<{ bundle: string | null }>("SELECT bundle FROM proof_jobs WHERE id = $1", [
          id,
        ])
      )?.bundle,
  };
}
