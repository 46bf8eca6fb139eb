/**
 * The payment ledger behind replay protection. One row per (network, asset, payer, nonce),
 * inserted BEFORE settlement: a second use of the same authorization (a replay, or a
 * parallel request racing the first) fails on the unique key and is refused without ever
 * reaching the facilitator. Statuses: verified → settled | failed | unknown (a settle whose
 * outcome was lost, e.g. a timeout: the money may have moved, so the payment is never
 * reusable) — or the row is released when the paid route itself failed before settlement.
 */
import { createHash } from "node:crypto";
import type { Db } from "../../store/db.js";

export type PaymentStatus = "verified" | "settled" | "failed" | "unknown";

export interface PaymentRow {
  id: string;
  network: string;
  asset: string;
  payer: string;
  nonce: string;
  route: string;
  amount: string;
  pay_to: string;
  status: PaymentStatus;
  transaction: string | null;
  reason: string | null;
  created_ms: number;
  updated_ms: number;
}

export function migratePaymentStore(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS x402_payments (
      id TEXT PRIMARY KEY, network TEXT NOT NULL, asset TEXT NOT NULL, payer TEXT NOT NULL,
      nonce TEXT NOT NULL, route TEXT NOT NULL, amount TEXT NOT NULL, pay_to TEXT NOT NULL,
      status TEXT NOT NULL, "transaction" TEXT, reason TEXT,
      created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
      UNIQUE (network, asset, payer, nonce));
  `);
}

/** Stable id of one authorization: a digest of what makes it unique on chain. */
export function paymentId(network: string, asset: string, payer: string, nonce: string): string {
  const key = [network, asset, payer, nonce].map((s) => s.toLowerCase()).join("|");
  return `pay_${createHash("sha256").update(key).digest("base64url").slice(0, 27)}`;
}

export function createPaymentStore(db: Db, now: () => number = Date.now) {
  migratePaymentStore(db);
  const q = {
    insert: db.prepare(
      `INSERT INTO x402_payments (id, network, asset, payer, nonce, route, amount, pay_to, status, created_ms, updated_ms)
       VALUES (@id, @network, @asset, @payer, @nonce, @route, @amount, @pay_to, 'verified', @ts, @ts)
       ON CONFLICT DO NOTHING`,
    ),
    get: db.prepare("SELECT * FROM x402_payments WHERE id = ?"),
    finish: db.prepare(
      `UPDATE x402_payments SET status = @status, "transaction" = @transaction, reason = @reason,
       updated_ms = @ts WHERE id = @id AND status = 'verified'`,
    ),
    release: db.prepare("DELETE FROM x402_payments WHERE id = ? AND status = 'verified'"),
    verified: db.prepare(
      "SELECT * FROM x402_payments WHERE status = 'verified' ORDER BY created_ms",
    ),
  };
  return {
    /** Insert-or-fail: true if this call took the payment, false if it was already taken. */
    lock(row: Omit<PaymentRow, "status" | "transaction" | "reason" | "created_ms" | "updated_ms">) {
      return q.insert.run({ ...row, ts: now() }).changes === 1;
    },
    get: (id: string) => q.get.get(id) as PaymentRow | undefined,
    finish(
      id: string,
      status: Exclude<PaymentStatus, "verified">,
      transaction?: string,
      reason?: string,
    ) {
      q.finish.run({
        id,
        status,
        transaction: transaction ?? null,
        reason: reason ?? null,
        ts: now(),
      });
    },
    /** The paid route failed before settlement: the authorization was never used. */
    release: (id: string) => q.release.run(id).changes === 1,
    /** Payments taken but neither settled nor released (in flight, or the vault stopped). */
    verified: () => q.verified.all() as PaymentRow[],
  };
}

export type PaymentStore = ReturnType<typeof createPaymentStore>;
