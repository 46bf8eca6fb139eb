/**
 * The payment ledger behind replay protection. One row per (network, asset, payer, nonce),
 * inserted BEFORE settlement: a second use of the same authorization (a replay, or a
 * parallel request racing the first) fails on the unique key and is refused without ever
 * reaching the facilitator. Statuses: verified → settled | failed | unknown (a settle whose
 * outcome was lost, e.g. a timeout: the money may have moved, so the payment is never
 * reusable) — or the row is released when the paid route itself failed before settlement.
 *
 * Replicas share the ledger, so a payment in flight is held under a lease: the process that
 * took it names itself (`owner`) and renews the lease of all its payments in flight while
 * any is; another process marks a payment stranded only once its lease lapsed (its holder
 * died), however long a paid route runs on a live replica.
 */
import { createHash } from "node:crypto";
import { type Migration, migrate } from "../../store/sql/migrate.js";
import type { Sql } from "../../store/sql/types.js";

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

const table = (ints: "INTEGER" | "BIGINT") => `CREATE TABLE IF NOT EXISTS x402_payments (
  id TEXT PRIMARY KEY, network TEXT NOT NULL, asset TEXT NOT NULL, payer TEXT NOT NULL,
  nonce TEXT NOT NULL, route TEXT NOT NULL, amount TEXT NOT NULL, pay_to TEXT NOT NULL,
  status TEXT NOT NULL, "transaction" TEXT, reason TEXT,
  created_ms ${ints} NOT NULL, updated_ms ${ints} NOT NULL,
  UNIQUE (network, asset, payer, nonce))`;

/** Version 1 is the table as earlier builds made it (IF NOT EXISTS: they did). */
export const PAYMENT_MIGRATIONS: Migration[] = [
  { version: 1, name: "x402_payments", sqlite: table("INTEGER"), postgres: table("BIGINT") },
  {
    version: 2,
    name: "x402 payment leases",
    sqlite: leases("INTEGER"),
    postgres: leases("BIGINT"),
  },
];

function leases(int: "INTEGER" | "BIGINT"): string {
  return `ALTER TABLE x402_payments ADD COLUMN owner TEXT;
ALTER TABLE x402_payments ADD COLUMN lease_ms ${int};
CREATE INDEX IF NOT EXISTS x402_payments_status ON x402_payments (status, created_ms)`;
}

/**
 * No live process holds it: its lease ended before parameter `now`, or it has none (an
 * earlier build took it) and it was taken before parameter `legacy`.
 */
const lapsedWhere = (now: number, legacy: number) =>
  `(lease_ms < $${now} OR (lease_ms IS NULL AND created_ms < $${legacy}))`;

/** Who holds a payment in flight, and until when (ms) unless renewed. */
export interface PaymentLease {
  owner: string;
  untilMs: number;
}

/** Stable id of one authorization: a digest of what makes it unique on chain. */
export function paymentId(network: string, asset: string, payer: string, nonce: string): string {
  const key = [network, asset, payer, nonce].map((s) => s.toLowerCase()).join("|");
  return `pay_${createHash("sha256").update(key).digest("base64url").slice(0, 27)}`;
}

export interface PaymentStore {
  /** Insert-or-fail: true if this call took the payment, false if it was already taken. */
  lock(
    row: Omit<PaymentRow, "status" | "transaction" | "reason" | "created_ms" | "updated_ms">,
    lease?: PaymentLease,
  ): Promise<boolean>;
  /** Extends `lease.owner`'s lease on these payments, those still in flight; how many. */
  renew(lease: PaymentLease, ids: readonly string[]): Promise<number>;
  get(id: string): Promise<PaymentRow | undefined>;
  finish(
    id: string,
    status: Exclude<PaymentStatus, "verified">,
    transaction?: string,
    reason?: string,
  ): Promise<void>;
  /** The paid route failed before settlement: the authorization was never used. */
  release(id: string): Promise<boolean>;
  /** Payments taken but neither settled nor released (in flight, or the vault stopped). */
  verified(): Promise<PaymentRow[]>;
  /** Of those, the ones no live process holds: see `strand`. */
  lapsed(nowMs: number, legacyBeforeMs: number): Promise<PaymentRow[]>;
  /**
   * Marks a payment in flight "unknown" (its holder stopped; a settle may have been under
   * way), if it still is and, with `lapsed`, only if no live process holds it: its lease
   * ended before `nowMs`, or it has none (taken by an earlier build) and was taken before
   * `legacyBeforeMs`. True when this call marked it: one replica, once.
   */
  strand(
    id: string,
    reason: string,
    lapsed?: { nowMs: number; legacyBeforeMs: number },
  ): Promise<boolean>;
}

/**
 * Behind the storage seam (src/store/sql): on PostgreSQL the unique key holds across vault
 * replicas, so one authorization is taken by one replica only.
 */
export async function openPaymentStore(
  sql: Sql,
  now: () => number = Date.now,
): Promise<PaymentStore> {
  await migrate(sql, "x402_payments", PAYMENT_MIGRATIONS);
  return {
    async lock(row, lease) {
      const ts = now();
      const { changes } = await sql.run(
        `INSERT INTO x402_payments (id, network, asset, payer, nonce, route, amount, pay_to, status,
           created_ms, updated_ms, owner, lease_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'verified', $9, $9, $10, $11)
         ON CONFLICT DO NOTHING`,
        [
          row.id,
          row.network,
          row.asset,
          row.payer,
          row.nonce,
          row.route,
          row.amount,
          row.pay_to,
          ts,
          lease?.owner ?? null,
          lease?.untilMs ?? null,
        ],
      );
      return changes === 1;
    },
    async renew(lease, ids) {
      if (ids.length === 0) return 0;
      const list = ids.map((_, i) => `$${i + 3}`).join(", ");
      const { changes } = await sql.run(
        `UPDATE x402_payments SET lease_ms = $2
         WHERE owner = $1 AND status = 'verified' AND id IN (${list})`,
        [lease.owner, lease.untilMs, ...ids],
      );
      return changes;
    },
    async strand(id, reason, lapsed) {
      const { changes } = await sql.run(
        `UPDATE x402_payments SET status = 'unknown', reason = $2, updated_ms = $3
         WHERE id = $1 AND status = 'verified'${lapsed ? ` AND ${lapsedWhere(4, 5)}` : ""}`,
        lapsed ? [id, reason, now(), lapsed.nowMs, lapsed.legacyBeforeMs] : [id, reason, now()],
      );
      return changes === 1;
    },
    get: (id) => sql.get<PaymentRow>("SELECT * FROM x402_payments WHERE id = $1", [id]),
    async finish(id, status, transaction, reason) {
      await sql.run(
        `UPDATE x402_payments SET status = $2, "transaction" = $3, reason = $4, updated_ms = $5
         WHERE id = $1 AND status = 'verified'`,
        [id, status, transaction ?? null, reason ?? null, now()],
      );
    },
    release: async (id) =>
      (await sql.run("DELETE FROM x402_payments WHERE id = $1 AND status = 'verified'", [id]))
        .changes === 1,
    verified: () =>
      sql.all<PaymentRow>(
        "SELECT * FROM x402_payments WHERE status = 'verified' ORDER BY created_ms",
      ),
    lapsed: (nowMs, legacyBeforeMs) =>
      sql.all<PaymentRow>(
        `SELECT * FROM x402_payments
         WHERE status = 'verified' AND ${lapsedWhere(1, 2)}
         ORDER BY created_ms`,
        [nowMs, legacyBeforeMs],
      ),
  };
}
