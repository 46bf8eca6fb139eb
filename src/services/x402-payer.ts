/**
 * The agent as x402 payer (POST /v1/agents/:id/x402/pay and its collection route). Picks a
 * requirement the policy allows, has the EIP-3009 authorization signed through the normal
 * policy-gated path (src/auth/x402/payer.ts), and audits each outcome. A payment above the
 * policy's `approvalAbove` is parked: once an operator approves the approval, `collect`
 * turns the approved signature into the PAYMENT-SIGNATURE header value.
 */
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import type { AuditLog } from "../audit/types.js";
import { decodePaymentRequired } from "../auth/x402/headers.js";
import type { ParkedPayments } from "../auth/x402/parked.js";
import { assemblePayment, payFor } from "../auth/x402/payer.js";
import { VaultError } from "../errors/index.js";
import type { SpendCaps } from "../policy/narrow.js";
import type { VaultStore } from "../store/vault-store.js";
import type { DelegatedScope } from "./signing/types.js";
import type { SigningService } from "./signing.js";

export type PaymentView =
  | {
      status: "signed";
      paymentSignature: string;
      paymentPayload: PaymentPayload;
      accepted: PaymentRequirements;
      auditSeq?: number;
    }
  | { status: "pending"; approvalId: string; auditSeq?: number; accepted: PaymentRequirements };

/** Who calls: the audit actor and the credential's id (key id, "jwt:<jti>", "vc:<did>"). */
export interface Caller {
  actor: string;
  credential: string;
  operator: boolean;
}

export interface X402PayerService {
  pay(
    agentId: string,
    paymentRequired: unknown,
    who: Caller,
    opts: { canSpend: boolean; spendLimits?: SpendCaps[]; delegation?: DelegatedScope },
  ): Promise<PaymentView>;
  /**
   * The PAYMENT-SIGNATURE of a parked payment, once approved (pending while it is not).
   * Only the credential that asked for it, or an operator, may collect it.
   */
  collect(agentId: string, approvalId: string, who: Caller, nowMs?: number): Promise<PaymentView>;
}

export function createX402PayerService(deps: {
  store: VaultStore;
  audit: AuditLog;
  signing: Pick<SigningService, "sign" | "reject" | "approval">;
  parked: ParkedPayments;
  /** Where failures that cannot reach the caller are reported. */
  log?: (line: string) => void;
}): X402PayerService {
  const { store, audit, signing, parked } = deps;
  const policyOf = async (agentId: string) => (await store.policy(agentId))?.policy;
  const facts = (a: PaymentRequirements) => ({
    network: a.network,
    asset: a.asset,
    amount: a.amount,
    payTo: a.payTo,
  });

  return {
    async pay(agentId, paymentRequired, who, opts) {
      const { actor } = who;
      const agent = await store.agent(agentId);
      if (!agent) throw new VaultError("AGENT_NOT_FOUND");
      const pr = decodePaymentRequired(paymentRequired);
      const resource = typeof pr.resource?.url === "string" ? pr.resource.url.slice(0, 512) : "";
      let result: Awaited<ReturnType<typeof payFor>>;
      try {
        const sign = (intent: Parameters<SigningService["sign"]>[1]) =>
          signing.sign(agentId, intent, actor, { ...opts, credential: who.credential });
        result = await payFor({ policyOf, sign }, agent, pr);
      } catch (err) {
        const code = err instanceof VaultError ? err.code : "INTERNAL";
        await audit.append({
          type: "x402.pay_refused",
          agentId,
          actor,
          data: { resource, code, reason: (err as Error).message.slice(0, 200) },
        });
        throw err;
      }
      const a = result.accepted;
      if (result.status === "pending") {
        try {
          await parked.park({
            approvalId: result.approvalId,
            agentId,
            accepted: a,
            resource: pr.resource,
            authorization: result.authorization,
            requestedBy: who.credential,
          });
        } catch (err) {
          // Without its parked half an approval could never be collected: withdraw it.
          try {
            await signing.reject(result.approvalId, "system:x402");
          } catch (withdrawal) {
            // The approval stays pending; an operator sees it cannot be collected.
            deps.log?.(
              `x402: approval ${result.approvalId} could not be withdrawn: ${(withdrawal as Error).message}`,
            );
          }
          throw err;
        }
      }
      await audit.append({
        type: result.status === "signed" ? "x402.pay_signed" : "x402.pay_pending",
        agentId,
        actor,
        data: {
          resource,
          ...facts(a),
          ...(result.status === "pending" ? { approvalId: result.approvalId } : {}),
        },
      });
      if (result.status === "pending") {
        const { authorization: _parked, ...view } = result;
        return view;
      }
      return result;
    },

    async collect(agentId, approvalId, who, nowMs = Date.now()) {
      const { actor } = who;
      const p = await parked.get(approvalId);
      // Another agent's payment, or another credential's: not found, rather than forbidden.
      if (!p || p.agentId !== agentId || (!who.operator && p.requestedBy !== who.credential))
        throw new VaultError("APPROVAL_NOT_FOUND");
      const view = await signing.approval(approvalId);
      if (view.status === "pending" || view.status === "reserved" || view.status === "incomplete")
        return { status: "pending", approvalId, accepted: p.accepted };
      if (view.status !== "signed" || view.result?.kind !== "typed-data")
        throw new VaultError("APPROVAL_NOT_SIGNED", undefined, { status: view.status });
      // The facilitator would refuse it anyway; say so here rather than hand out a dud.
      if (BigInt(p.authorization.validBefore) * 1000n <= BigInt(nowMs))
        throw new VaultError("X402_AUTHORIZATION_EXPIRED", undefined, {
          validBefore: p.authorization.validBefore,
        });
      const signed = assemblePayment(p.resource, p.accepted, {
        authorization: p.authorization,
        signature: view.result.signature,
      });
      const entry = await audit.append({
        type: "x402.pay_collected",
        agentId,
        actor,
        data: { approvalId, ...facts(p.accepted) },
      });
      return { status: "signed", ...signed, accepted: p.accepted, auditSeq: entry.seq };
    },
  };
}
