/**
 * Payments an agent made that wait for an operator (the amount is above the policy's
 * `approvalAbove`). The signing service parks the EIP-3009 authorization itself; this table
 * keeps what the PAYMENT-SIGNATURE needs besides the signature (the chosen requirement, the
 * resource and the authorization's fields), keyed by the approval id, so that once the
 * operator approves, the agent can collect the header.
 */
import type { PaymentRequired, PaymentRequirements } from "@x402/core/types";
import { addColumnIfMissing, type Db } from "../../store/db.js";
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

export function createParkedPayments(db: Db, now: () => number = Date.now) {
  db.exec(`
    CREATE TABLE IF NOT EXISTS x402_parked (
      approval_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, accepted TEXT NOT NULL,
      resource TEXT, authorization TEXT NOT NULL, created_ms INTEGER NOT NULL,
      requested_by TEXT);
  `);
  addColumnIfMissing(db, "x402_parked", "requested_by", "TEXT");
  const put = db.prepare(
    `INSERT INTO x402_parked (approval_id, agent_id, accepted, resource, authorization, created_ms, requested_by)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const get = db.prepare("SELECT * FROM x402_parked WHERE approval_id = ?");
  // An EIP-3009 authorization lives at most a day (maxTimeoutSeconds ≤ 86400): a week-old
  // parked payment can never be collected.
  const prune = db.prepare("DELETE FROM x402_parked WHERE created_ms < ?");
  return {
    park(p: ParkedPayment): void {
      prune.run(now() - 7 * 86_400_000);
      put.run(
        p.approvalId,
        p.agentId,
        JSON.stringify(p.accepted),
        p.resource ? JSON.stringify(p.resource) : null,
        JSON.stringify(p.authorization),
        now(),
        p.requestedBy,
      );
    },
    get(approvalId: string): ParkedPayment | undefined {
      const row = get.get(approvalId) as Row | undefined;
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

export type ParkedPayments = ReturnType<typeof createParkedPayments>;
