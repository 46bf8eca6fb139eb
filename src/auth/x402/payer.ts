/**
 * The agent as payer. Given a server's PaymentRequired, picks the requirement the agent's
 * policy allows (scheme "exact" over EIP-3009, network in policy.chains, asset listed in
 * policy.assets, payTo among policy.recipients if those are set; the cheapest such), lets
 * the reference @x402/evm client build the TransferWithAuthorization (random 32-byte nonce,
 * validBefore = now + maxTimeoutSeconds) and has it signed through the normal policy-gated
 * path with the agent's threshold key, so caps, recipients and chains are enforced by the
 * vault and by every signer node. Returns the PAYMENT-SIGNATURE header value.
 */
import type { PaymentPayload, PaymentRequired, PaymentRequirements } from "@x402/core/types";
import type { ExactEvmScheme } from "@x402/evm/exact/client";
import { VaultError } from "../../errors/index.js";
import type { Policy, SignIntent } from "../../policy/types.js";
import {
  type Eip3009Authorization,
  type Eip3009Payload,
  encodePaymentSignature,
} from "./headers.js";

/**
 * What the policy-gated signer answers the payer: the authorization's signature, or the id
 * of the approval it was parked under (above the policy's approvalAbove).
 */
export type PayerSignOutcome =
  | { status: "signed"; signature: string; auditSeq: number }
  | { status: "pending"; approvalId: string; auditSeq: number };

export interface PayDeps {
  /** The agent's policy in force (read from the vault's store). */
  policyOf(agentId: string): Promise<Policy | undefined>;
  sign(intent: Extract<SignIntent, { kind: "typed-data" }>): Promise<PayerSignOutcome>;
}

export type PayResult =
  | {
      status: "signed";
      paymentSignature: string;
      paymentPayload: PaymentPayload;
      accepted: PaymentRequirements;
      auditSeq: number;
    }
  | {
      status: "pending";
      approvalId: string;
      auditSeq: number;
      accepted: PaymentRequirements;
      /** The parked EIP-3009 authorization: with the approved signature, the payment. */
      authorization: Eip3009Authorization;
    };

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** Why one requirement is not payable under `policy`, or undefined if it is. */
export function whyNot(r: Record<string, unknown>, policy: Policy): string | undefined {
  if (r.scheme !== "exact") return "scheme is not exact";
  const m = /^eip155:([1-9]\d{0,15})$/.exec(String(r.network));
  if (!m) return "network is not eip155";
  if (!policy.chains.includes(Number(m[1]))) return `chain ${m[1]} is not in policy.chains`;
  if (typeof r.asset !== "string" || !ADDRESS.test(r.asset)) return "asset is not an address";
  const asset = r.asset.toLowerCase();
  if (!Object.keys(policy.assets).some((k) => k.toLowerCase() === asset))
    return "asset is not in policy.assets";
  if (typeof r.payTo !== "string" || !ADDRESS.test(r.payTo)) return "payTo is not an address";
  const payTo = r.payTo.toLowerCase();
  if (policy.recipients && !policy.recipients.some((x) => x.toLowerCase() === payTo))
    return "payTo is not in policy.recipients";
  if (typeof r.amount !== "string" || !/^\d{1,78}$/.test(r.amount)) return "amount is malformed";
  const extra = r.extra as Record<string, unknown> | undefined;
  if (typeof extra?.name !== "string" || typeof extra?.version !== "string")
    return "extra.name/version (the token's EIP-712 domain) are missing";
  if (extra.assetTransferMethod !== undefined && extra.assetTransferMethod !== "eip3009")
    return "only EIP-3009 transfers are supported";
  const t = r.maxTimeoutSeconds;
  if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > 86_400)
    return "maxTimeoutSeconds is out of range";
  return undefined;
}

/** The cheapest requirement the policy allows; throws with every reason otherwise. */
export function selectRequirement(
  pr: PaymentRequired,
  policy: Policy | undefined,
): PaymentRequirements {
  if (!policy)
    throw new VaultError("POLICY_DENIED", "the agent has no policy", { rule: "no-policy" });
  const reasons: string[] = [];
  const ok = pr.accepts.filter((r, i) => {
    const why = whyNot(r as unknown as Record<string, unknown>, policy);
    if (why) reasons.push(`accepts[${i}]: ${why}`);
    return why === undefined;
  });
  if (ok.length === 0)
    throw new VaultError("X402_NO_ACCEPTABLE_REQUIREMENT", undefined, {
      reasons: reasons.slice(0, 8),
    });
  return ok.reduce((a, b) => (BigInt(b.amount) < BigInt(a.amount) ? b : a));
}

class Pending extends Error {
  constructor(
    readonly outcome: Extract<PayerSignOutcome, { status: "pending" }>,
    readonly authorization: Eip3009Authorization,
  ) {
    super("pending");
  }
}

/** The PAYMENT-SIGNATURE for a signed authorization (the exact scheme's payload shape). */
export function assemblePayment(
  resource: PaymentRequired["resource"] | undefined,
  accepted: PaymentRequirements,
  payload: Eip3009Payload,
): { paymentSignature: string; paymentPayload: PaymentPayload } {
  const paymentPayload: PaymentPayload = {
    x402Version: 2,
    ...(resource ? { resource } : {}),
    accepted,
    payload: { ...payload },
  };
  return { paymentSignature: encodePaymentSignature(paymentPayload), paymentPayload };
}

const jsonSafe = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)));

export async function payFor(
  deps: PayDeps,
  agent: { id: string; address: string },
  pr: PaymentRequired,
): Promise<PayResult> {
  const accepted = selectRequirement(pr, await deps.policyOf(agent.id));
  let auditSeq = 0;
  // The reference client builds the authorization; its signer is the vault's policy path.
  // Loaded on first payment: it pulls in viem.
  const { ExactEvmScheme } = await import("@x402/evm/exact/client");
  const scheme = new ExactEvmScheme({
    address: agent.address as `0x${string}`,
    signTypedData: async (td) => {
      const message = jsonSafe(td.message) as Record<string, unknown>;
      const outcome = await deps.sign({
        kind: "typed-data",
        domain: jsonSafe(td.domain) as Record<string, unknown>,
        types: jsonSafe(td.types) as Record<string, Array<{ name: string; type: string }>>,
        primaryType: td.primaryType,
        message,
      });
      if (outcome.status === "pending")
        throw new Pending(outcome, message as unknown as Eip3009Authorization);
      auditSeq = outcome.auditSeq;
      return outcome.signature as `0x${string}`;
    },
  });
  let partial: Awaited<ReturnType<ExactEvmScheme["createPaymentPayload"]>>;
  try {
    partial = await scheme.createPaymentPayload(2, accepted);
  } catch (err) {
    if (err instanceof Pending)
      return {
        status: "pending",
        approvalId: err.outcome.approvalId,
        auditSeq: err.outcome.auditSeq,
        accepted,
        authorization: err.authorization,
      };
    throw err;
  }
  const signed = assemblePayment(
    pr.resource,
    accepted,
    partial.payload as unknown as Eip3009Payload,
  );
  return { status: "signed", ...signed, accepted, auditSeq };
}
