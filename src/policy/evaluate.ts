/**
 * Policy evaluation: default deny, pure and synchronous, so the vault and every
 * signer node reach the same decision from the same inputs.
 *
 * Amounts are compared in base units (wei, or ERC-20 token units scaled by the
 * token's decimals); limits are converted with ethers parseUnits and reported
 * back in human units with formatUnits. The 24 h limit is a rolling window.
 */

import { formatUnits, parseUnits } from "ethers";
import { NATIVE_DECIMALS } from "./assets.js";
import {
  assetKey,
  chainKey,
  includesAddress,
  type Scope,
  scopesFor,
  spentIn,
  totalsByScope,
  trustedUnlimited,
} from "./limits.js";
import { UNCOUNTED_VALUE_MOVING_TYPED_DATA, VALUE_MOVING_TYPED_DATA } from "./typed-spends.js";
import type {
  AssetKey,
  Decision,
  DecodedRequest,
  Policy,
  PolicyRule,
  Spend,
  Usage,
} from "./types.js";

type Denial = Extract<Decision, { allow: false }>;

export const DAY_MS = 24 * 60 * 60 * 1000;
export const MINUTE_MS = 60 * 1000;

function deny(rule: PolicyRule, message: string): Denial {
  return { allow: false, rule, message };
}

/** "12.0" reads as "12": limits are shown as the operator wrote them. */
function human(amount: bigint, decimals: number): string {
  return formatUnits(amount, decimals).replace(/\.0$/, "");
}

/** Sum of each asset's amounts in a list of spends. */
export function spendTotalsByAsset(spends: Spend[]): Map<AssetKey, bigint> {
  const totals = new Map<AssetKey, bigint>();
  for (const spend of spends) {
    const key = assetKey(spend.asset);
    totals.set(key, (totals.get(key) ?? 0n) + spend.amount);
  }
  return totals;
}

/**
 * Rolling-window usage from past requests: spends with ts in (now - 24 h, ...],
 * summed per asset (all chains) and per chain and asset (for assetsByChain),
 * and the number of requests with ts in (now - 60 s, ...]. Records stamped after
 * `now` (clock skew between processes) still count: erring towards the limit.
 */
export function usageFromRecords(
  records: Array<{ ts: number; spends: Spend[] }>,
  now: Date,
): Usage {
  const nowMs = now.getTime();
  // Unlimited grants are recorded only when the policy trusted their spender: not counted.
  const counted = records
    .filter((r) => r.ts > nowMs - DAY_MS)
    .flatMap((r) => r.spends)
    .filter((s) => s.unlimited !== true);
  const byChain: Record<string, bigint> = {};
  for (const s of counted) {
    const key = chainKey(s.chainId, s.asset);
    byChain[key] = (byChain[key] ?? 0n) + s.amount;
  }
  return {
    spentLast24h: Object.fromEntries(spendTotalsByAsset(counted)),
    spentLast24hByChain: byChain,
    requestsLastMinute: records.filter((r) => r.ts > nowMs - MINUTE_MS).length,
  };
}

function checkValidUntil(policy: Policy, now: Date): Denial | undefined {
  if (policy.validUntil === undefined) return undefined;
  const end = Date.parse(policy.validUntil);
  // NaN (an unparseable date) fails the comparison below, so deny explicitly.
  if (Number.isNaN(end) || now.getTime() > end) {
    return deny("validUntil", `the policy expired at ${policy.validUntil}`);
  }
  return undefined;
}

/**
 * Typed data without domain.chainId is valid on every chain: a policy that
 * lists chains cannot vouch for it, so it is refused.
 */
function checkChain(policy: Policy, req: DecodedRequest): Denial | undefined {
  if (req.kind === "typed-data" && req.chainId === undefined && policy.chains.length > 0) {
    return deny("chains", "typed data without domain.chainId is refused: the policy lists chains");
  }
  if (req.chainId === undefined || policy.chains.includes(req.chainId)) return undefined;
  return deny("chains", `chain ${req.chainId} is not in the policy's chains`);
}

/**
 * A type known to move value needs allowTypedData (its spends are decoded and
 * counted whatever the list). Any other type must be declared value-free:
 * valueFreeTypedData, or allowTypedData in policies written before that field.
 */
function typedDataAllowed(policy: Policy, primaryType: string): boolean {
  if (UNCOUNTED_VALUE_MOVING_TYPED_DATA.includes(primaryType)) return false;
  if ((policy.allowTypedData ?? []).includes(primaryType)) return true;
  if (VALUE_MOVING_TYPED_DATA.includes(primaryType)) return false;
  return (policy.valueFreeTypedData ?? []).includes(primaryType);
}

function checkKind(policy: Policy, req: DecodedRequest): Denial | undefined {
  if (req.kind === "message" && policy.allowMessageSigning !== true) {
    return deny("allowMessageSigning", "message signing is not allowed by the policy");
  }
  if (req.kind === "typed-data" && !typedDataAllowed(policy, req.primaryType ?? "")) {
    return deny("allowTypedData", `typed data "${req.primaryType}" is not allowed by the policy`);
  }
  return undefined;
}

function checkContract(policy: Policy, req: DecodedRequest): Denial | undefined {
  if (req.contractCall === undefined || includesAddress(policy.contracts ?? [], req.contractCall)) {
    return undefined;
  }
  return deny("contracts", `contract ${req.contractCall} is not in the policy's contracts`);
}

function checkSpendTarget(policy: Policy, spend: Spend): Denial | undefined {
  if (scopesFor(policy, spend.chainId, spend.asset).length === 0) {
    return deny("assets", `asset ${spend.asset} is not in the policy's assets`);
  }
  if (policy.recipients !== undefined && !includesAddress(policy.recipients, spend.recipient)) {
    return deny("recipients", `recipient ${spend.recipient} is not in the policy's recipients`);
  }
  if (spend.unlimited === true && !trustedUnlimited(policy, spend)) {
    return deny(
      "unlimitedAllowance",
      `an unlimited allowance of ${spend.asset} to ${spend.recipient} is refused: the spender is not in the policy's unlimitedAllowanceSpenders`,
    );
  }
  return undefined;
}

/**
 * Per-request amounts are summed per scope before comparing with maxPerTx: a
 * request carrying two spends of one asset is still one transaction.
 */
function checkAmount(scope: Scope, amount: bigint, spent: bigint): Denial | undefined {
  const { limit } = scope;
  const fmt = (n: bigint) => human(n, limit.decimals);
  const where = scope.chainId === undefined ? "" : ` on chain ${scope.chainId}`;
  if (amount > limit.maxPerTx) {
    return deny(
      "maxPerTx",
      `${limit.symbol} amount ${fmt(amount)} exceeds maxPerTx ${fmt(limit.maxPerTx)}${where}`,
    );
  }
  if (spent + amount > limit.maxPer24h) {
    return deny(
      "maxPer24h",
      `${limit.symbol} amount ${fmt(amount)} plus ${fmt(spent)} spent in the last 24h exceeds maxPer24h ${fmt(limit.maxPer24h)}${where}`,
    );
  }
  return undefined;
}

function checkSpends(policy: Policy, spends: Spend[], usage: Usage): Denial | undefined {
  for (const spend of spends) {
    const denial = checkSpendTarget(policy, spend);
    if (denial) return denial;
  }
  const counted = spends.filter((s) => !trustedUnlimited(policy, s));
  for (const { scope, amount } of totalsByScope(policy, counted).values()) {
    const denial = checkAmount(scope, amount, spentIn(usage, scope));
    if (denial) return denial;
  }
  return undefined;
}

/** The worst-case fee of a transaction; a cap that cannot be parsed denies. */
function checkFee(policy: Policy, req: DecodedRequest): Denial | undefined {
  if (policy.maxFeePerTx === undefined || req.maxFee === undefined) return undefined;
  let cap: bigint;
  try {
    cap = parseUnits(policy.maxFeePerTx, NATIVE_DECIMALS);
  } catch {
    return deny("maxFeePerTx", "the policy's maxFeePerTx cannot be read");
  }
  if (req.maxFee <= cap) return undefined;
  return deny(
    "maxFeePerTx",
    `fee up to ${human(req.maxFee, NATIVE_DECIMALS)} (gasLimit × maxFeePerGas) exceeds maxFeePerTx ${human(cap, NATIVE_DECIMALS)}`,
  );
}

function checkRate(policy: Policy, usage: Usage): Denial | undefined {
  const limit = policy.rateLimitPerMinute;
  if (limit === undefined || usage.requestsLastMinute < limit) return undefined;
  return deny("rateLimitPerMinute", `rate limit of ${limit} requests per minute reached`);
}

/** Amounts strictly above approvalAbove wait for an operator (a trusted unlimited grant too). */
function needsApproval(policy: Policy, spends: Spend[]): boolean {
  return [...totalsByScope(policy, spends).values()].some(({ scope, amount }) => {
    const threshold = scope.limit.approvalAbove;
    return threshold !== undefined && amount > threshold;
  });
}

/**
 * Decides a decoded request against a policy, given usage so far and the
 * current time. No policy means no signature.
 */
export function evaluatePolicy(
  policy: Policy | undefined,
  req: DecodedRequest,
  usage: Usage,
  now: Date,
): Decision {
  if (policy === undefined)
    return deny("no-policy", "the agent has no policy, so nothing is signed");
  const denial =
    checkValidUntil(policy, now) ??
    checkChain(policy, req) ??
    checkKind(policy, req) ??
    checkContract(policy, req) ??
    checkSpends(policy, req.spends, usage) ??
    checkFee(policy, req) ??
    checkRate(policy, usage);
  if (denial) return denial;
  return { allow: true, needsApproval: needsApproval(policy, req.spends), spends: req.spends };
}
