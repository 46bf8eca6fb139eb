/**
 * The sign-request state machine: the one place a sign_requests row changes status.
 *
 *   (decide) ─▶ denied | pending | reserved
 *   pending    ─approve─▶ reserved          ─approve, caps now exceeded─▶ denied
 *   pending    ─reject──▶ rejected
 *   reserved   ─seq given, cluster asked─▶ incomplete
 *   reserved   ─stranded by a crash──────▶ failed        (budget released)
 *   incomplete ─signature stored─────────▶ signed
 *   incomplete ─refused, no node recorded it─▶ failed | denied   (seq and budget released)
 *   incomplete ─retried (recovery)───────▶ incomplete
 *
 * Only `incomplete` and `signed` hold a sequence number; only `signed` holds a result.
 * `reserved`, `incomplete` and `signed` count against the budget (store.spendsSince).
 *
 * Every move is a read-check-write of the row: it is made in a transaction that holds the
 * agent's lock (`inAgentLock`), so two processes sharing a PostgreSQL database cannot both
 * move the same row out of the same status.
 */
import type { SignResult } from "../../signers/types.js";
import type { Tx } from "../../store/sql/types.js";
import type { SignStatus, VaultStore } from "../../store/vault-store.js";

export type SignState =
  | { status: "reserved" | "failed" | "denied" | "rejected" }
  | { status: "incomplete"; seq: number }
  | { status: "signed"; seq: number; result: SignResult; signature: string };

const ALLOWED_FROM: Record<SignState["status"], readonly SignStatus[]> = {
  reserved: ["pending"],
  rejected: ["pending"],
  denied: ["pending", "incomplete"],
  incomplete: ["reserved", "incomplete"],
  signed: ["incomplete"],
  failed: ["reserved", "incomplete"],
};

/** The advisory lock (src/store/sql/types.ts Tx.lock) that guards one agent's signing state. */
export const agentLockKey = (agentId: string) => `agent:${agentId}`;

/**
 * Runs `fn` in one transaction that first takes the agent's lock (before anything else, so
 * it is always taken before the audit log's head lock: no lock-order deadlock). On
 * PostgreSQL it serialises the agent's read-check-writes across every process; SQLite's one
 * writer already does. Inside a caller's transaction it joins it (and the lock is re-entrant).
 */
export function inAgentLock<T>(
  store: Pick<VaultStore, "sql">,
  agentId: string,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  return store.sql.transaction(async (tx) => {
    await tx.lock(agentLockKey(agentId));
    return fn(tx);
  });
}

/**
 * Moves request `id` to `to`; a move the machine does not allow is a bug and throws. Call
 * in a transaction holding the agent's lock (inAgentLock), so the check and the write are
 * one step for every process.
 */
export async function moveSign(
  store: Pick<VaultStore, "sign" | "setSign">,
  id: string,
  to: SignState,
): Promise<void> {
  const from = (await store.sign(id))?.status;
  if (!from || !ALLOWED_FROM[to.status].includes(from)) {
    throw new Error(`sign request ${id}: ${from ?? "missing"} → ${to.status} is not allowed`);
  }
  await store.setSign({
    id,
    status: to.status,
    seq: "seq" in to ? to.seq : null,
    result: "result" in to ? to.result : null,
    signature: "signature" in to ? to.signature : null,
  });
}
