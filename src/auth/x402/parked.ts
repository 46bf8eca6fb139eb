/**
 * Payments an agent made that wait for an operator (the amount is above the policy's
 * `approvalAbove`). The signing service parks the EIP-3009 authorization itself; this table
 * keeps what the PAYMENT-SIGNATURE needs besides the signature (the chosen requirement, the
 * resource and the authorization's fields), keyed by the approval id, so that once the
 * operator approves, the agent can collect the header. Behind the storage seam (src/store/sql).
 */
import type { PaymentRequired, PaymentRequirements } from "@x402/core/types";
import { addColumnIfMissing, type Migration, migrate } from "../../store/sql/migrate.js";
import type { Sql } from "../../store/sql/types.js";
import type { Eip3009Authorization } from "./headers.js";

export interface ParkedPayment {
  approvalId: string;
  agentId: string;
  accepted: PaymentRequirements;
  resource: PaymentRequired["resource"] | undefined;
  authorization: Eip3009Authorization;
  /** The credential that asked (key id, "jwt:<jti>", "vc:<did>"): only it may collect. */
  requestedBy: string;
}

interface Row {
  approval_id: string;
  agent_id: string;
  accepted: string;
  resource: string | null;
  authorization: string;
  requested_by: string | null;
}

const table = (ints: "INTEGER" | "BIGINT") => `CREATE TABLE IF NOT EXISTS x402_parked (
  approval_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, accepted TEXT NOT NULL,
  resource TEXT, "authorization" TEXT NOT NULL, created_ms ${ints} NOT NULL,
  requested_by TEXT)`;

/** Version 1 is the table as earlier builds left it (they added requested_by later). */
export const PARKED_MIGRATIONS: Migration[] = [
  { version: 1, name: "x402_parked", sqlite: table("INTEGER"), postgres: table("BIGINT") },
];

/** A SQLite file from before requested_by: the column is added before version 1 is recorded. */
export async function adoptEarlierTable(sql: Sql): Promise<void> {
  await addColumnIfMissing(sql, "x402_parked", "requested_by", "TEXT");
}

export interface ParkedPayments {
  park(p: ParkedPayment): Promise<void>;
  get(approvalId: string): Promise<ParkedPayment | undefined>;
}

export async function openParkedPayments(
  sql: Sql,
  now: () => number = Date.now,
): Promise<ParkedPayments> {
  await adoptEarlierTable(sql);
  await migrate(sql, "x402_parked", PARKED_MIGRATIONS);
  return {
    async park(p) {
      // An EIP-3009 authorization lives at most a day (maxTimeoutSeconds ≤ 86400): a
      // week-old parked payment can never be collected.
      await sql.run("DELETE FROM x402_parked WHERE created_ms < $1", [now() - 7 * 86_400_000]);
      await sql.run(
        `INSERT INTO x402_parked (approval_id, agent_id, accepted, resource, "authorization", created_ms, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          p.approvalId,
          p.agentId,
          JSON.stringify(p.accepted),
          p.resource ? JSON.stringify(p.resource) : null,
          JSON.stringify(p.authorization),
          now(),
          p.requestedBy,
        ],
      );
    },
    async get(approvalId) {
      const row = await sql.get<Row>("SELECT * FROM x402_parked WHERE approval_id = $1", [
        approvalId,
      ]);
      if (!row) return undefined;
      return {
        approvalId: row.approval_id,
        agentId: row.agent_id,
        accepted: JSON.parse(row.accepted),
        resource: row.resource ? JSON.parse(row.resource) : undefined,
        authorization: JSON.parse(row.authorization),
        requestedBy: row.requested_by ?? "",
      };
    },
  };
}
