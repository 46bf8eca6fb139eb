/**
 * Signed heads. The signer nodes sign (seq, hash) of the log; keeping those
 * signatures next to the log lets verify() catch what the chain alone cannot:
 * a log cut short, or rewritten from some point on with fresh hashes.
 * Signatures are checked by whoever holds the nodes' keys, not here.
 */
import { VaultError } from "../errors/index.js";
import type { Sql } from "../store/sql/types.js";
import { canonicalJson, GENESIS_HASH } from "./canonical.js";
import type { Checkpoint, CheckpointStore } from "./types.js";

interface CheckpointRow {
  seq: number;
  hash: string;
  signature: string;
  signers: string;
  signed_at: string;
  extra: string | null;
}

export function createCheckpointStore(
  sql: Sql,
  hashAt: (seq: number) => Promise<string | undefined>,
): CheckpointStore {
  return {
    async save(cp) {
      // A checkpoint for a head the log never had would make verify() fail forever.
      const known = cp.seq === 0 ? GENESIS_HASH : await hashAt(cp.seq);
      if (known === undefined || known !== cp.hash) {
        throw new VaultError("INTERNAL", "checkpoint does not match the audit log");
      }
      const extra = cp.extra === undefined ? null : canonicalJson(cp.extra);
      const signers = canonicalJson(cp.signers);
      await guarded(() =>
        sql.run(
          `INSERT INTO audit_checkpoints (seq, hash, signature, signers, signed_at, extra)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, signature = excluded.signature,
             signers = excluded.signers, signed_at = excluded.signed_at, extra = excluded.extra`,
          [cp.seq, cp.hash, cp.signature, signers, cp.signedAt, extra],
        ),
      );
    },
    async list() {
      const rows = await guarded(() =>
        sql.all<CheckpointRow>("SELECT * FROM audit_checkpoints ORDER BY seq"),
      );
      return rows.map(fromRow);
    },
    async latest() {
      const row = await guarded(() =>
        sql.get<CheckpointRow>("SELECT * FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"),
      );
      return row && fromRow(row);
    },
  };
}

function fromRow(row: CheckpointRow): Checkpoint {
  const cp: Checkpoint = {
    seq: row.seq,
    hash: row.hash,
    signature: row.signature,
    signers: JSON.parse(row.signers),
    signedAt: row.signed_at,
  };
  if (row.extra !== null) cp.extra = JSON.parse(row.extra);
  return cp;
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch {
    throw new VaultError("AUDIT_UNAVAILABLE", "the audit checkpoints cannot be accessed");
  }
}

/** The Poseidon head a (version-2) checkpoint covers; undefined for version 1. */
export function zkHeadOf(cp: Checkpoint): string | undefined {
  const zk = cp.extra?.zkHead;
  return typeof zk === "string" ? zk : undefined;
}
