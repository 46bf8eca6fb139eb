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
 */
import type { SignStatus, VaultStore } from "../../store/vault-store.js";

export type SignState =
  | { status: "reserved" | "failed" | "denied" | "rejected" }
  | { status: "incomplete"; seq: number }
  | { status: "signed"; seq: number; result: string; signature: string };

const ALLOWED_FROM: Record<SignState["status"], readonly SignStatus[]> = {
  reserved: ["pending"],
  rejected: ["pending"],
  denied: ["pending", "incomplete"],
  incomplete: ["reserved", "incomplete"],
  signed: ["incomplete"],
  failed: ["reserved", "incomplete"],
};

/** Moves request `id` to `to`; a move the machine does not allow is a bug and throws. */
export function moveSign(store: VaultStore, id: string, to: SignState): void {
  const from = store.sign(id)?.status;
  if (!from || !ALLOWED_FROM[to.status].includes(from)) {
    throw new Error(`sign request ${id}: ${from ?? "missing"} → ${to.status} is not allowed`);
  }
  store.setSign({
    id,
    status: to.status,
    seq: "seq" in to ? to.seq : null,
    result: "result" in to ? to.result : null,
    signature: "signature" in to ? to.signature : null,
  });
}
