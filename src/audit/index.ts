/**
 * Tamper-evident audit log.
 *
 * What the chain guarantees: entries form one sequence (seq 1, 2, 3, ...) in
 * which each entry stores the SHA-256 of its canonical encoding, and that
 * encoding includes the previous entry's hash (GENESIS_HASH for entry 1). So
 * editing, deleting, inserting or reordering any entry breaks either its own
 * hash or the next entry's link, and verify() names the first seq where the
 * chain breaks. What it cannot show alone: the log cut short at the end, or
 * rewritten from some point on with every hash recomputed. Checkpoints cover
 * that: signer nodes sign a head (seq, hash) and verify() holds the chain to
 * every saved checkpoint; a node holding an earlier head checks a new
 * segment with verifyRange().
 *
 * How it stays honest at runtime: append() fails closed (any storage error
 * throws AUDIT_UNAVAILABLE, so the caller signs nothing unrecorded), writes
 * exactly one row per entry, works inside a caller's transaction, refuses
 * non-JSON data, and refuses secret-named fields so a bug cannot write a
 * secret into a log that can never be edited.
 */
export { canonicalJson, entryHash, GENESIS_HASH } from "./canonical.js";
export { exportJsonl } from "./export.js";
export { openAuditLog } from "./log.js";
export { AUDIT_MIGRATIONS } from "./schema.js";
export { isSecretFieldName, SECRET_FIELD_NAMES } from "./secrets.js";
export type {
  AuditEntry,
  AuditEntryInput,
  AuditEventType,
  AuditLog,
  Checkpoint,
  CheckpointStore,
  VerifyResult,
} from "./types.js";
export { verifyRows } from "./verify.js";
