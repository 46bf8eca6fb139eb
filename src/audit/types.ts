/** Shapes of the audit log. See index.ts for what the chain guarantees. */

/** Dotted event name, e.g. "agent.created", "sign.denied", "checkpoint.signed". */
export type AuditEventType = string;

export interface AuditEntryInput {
  type: AuditEventType;
  agentId?: string | null;
  /** Who caused the event: an operator name, "agent:<id>", "system", a node id. */
  actor?: string | null;
  /** Plain JSON facts about the event; never a secret (see secrets.ts). */
  data?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  /** ISO-8601 instant. */
  ts: string;
  type: string;
  agentId: string | null;
  actor: string | null;
  /** As stored: the canonical JSON of the input, parsed back (bigints are decimal strings). */
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries that verified before the first bad one (all of them when ok). */
  length: number;
  /** Hash of the last entry that verified (the start hash when none did). */
  head: string;
  firstBadSeq?: number;
  reason?: string;
}

/** A head signed by the signer nodes, proving the log had this prefix at `signedAt`. */
export interface Checkpoint {
  seq: number;
  hash: string;
  signature: string;
  signers: number[];
  signedAt: string;
  extra?: Record<string, unknown>;
}

export interface CheckpointStore {
  /** Stores (or replaces, for the same seq) a checkpoint; its hash must match the log. */
  save(cp: Checkpoint): Promise<void>;
  /** Every checkpoint, oldest seq first. */
  list(): Promise<Checkpoint[]>;
  latest(): Promise<Checkpoint | undefined>;
}

export interface AuditLog {
  /**
   * Writes one entry, with the head taken under a lock so every process appending to the
   * same database chains after the last entry (one total order). Inside a caller's
   * transaction (src/store/sql/ambient.ts) the entry commits or rolls back with it. Rejects
   * rather than letting anything be signed without a record.
   */
  append(input: AuditEntryInput): Promise<AuditEntry>;
  /** Entries with seq >= fromSeq (only `agentId`'s when given), in order, at most `limit`. */
  list(fromSeq: number, limit: number, agentId?: string): Promise<AuditEntry[]>;
  get(seq: number): Promise<AuditEntry | undefined>;
  /** Latest seq and hash as stored; seq 0 and GENESIS_HASH when empty. */
  head(): Promise<{ seq: number; hash: string }>;
  /** Poseidon chain (src/audit/commitment.ts): zkHead after entry seq ("0" at seq 0). */
  zkHeadAt(seq: number): Promise<string | undefined>;
  /**
   * Extends the Poseidon chain by at most `maxEntries` towards `upTo`; true while it is
   * still behind. Callers step with it between event-loop turns, so a long backlog (about
   * 2 ms an entry) never blocks requests for its whole length.
   */
  zkCatchUp(upTo: number, maxEntries: number): Promise<boolean>;
  /**
   * The first seq chained by the v2 rule (src/audit/commitment.ts), pinned in the meta
   * table when this code first opened the log: 1 for a new log.
   */
  zkV2Start(): Promise<number>;
  /** Commitments ("" for v2 entries) and zk heads for entries fromSeq..toSeq. */
  zkRange(
    fromSeq: number,
    toSeq: number,
  ): Promise<Array<{ seq: number; commitment: string; zkHead: string }>>;
  /** Recomputes the whole chain, and checks it against every saved checkpoint. */
  verify(): Promise<VerifyResult>;
  /** Checks entries fromSeq..toSeq (inclusive) given the hash entry fromSeq-1 had. */
  verifyRange(fromSeq: number, toSeq: number, startPrevHash: string): Promise<VerifyResult>;
  checkpoints: CheckpointStore;
}
