/**
 * Policy evaluation: default deny, pure and synchronous, so the vault and every
 * signer node reach the same decision from the same inputs.
 *
 * Amounts are compared in base units (wei, or ERC-20 token units scaled by the
 * token's decimals); limits are converted with ethers parseUnits and reported
 * back in human units with formatUnits. The 24 h limit is a rolling window.
 */

import { formatUnits, parseUnits } from "ethers";
import { NATIVE_ASSET, NATIVE_DECIMALS, resolveAsset } from "./assets.js";
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

interface ResolvedLimit {
  symbol: string;
  decimals: number;
  maxPerTx: bigint;
  maxPer24h: bigint;
  approvalAbove?: bigint;
}

function deny(rule: PolicyRule, message: string): Denial {
  return { allow: false, rule, message };
}

/** "ETH" as is, token addresses lower case, so keys from any source compare equal. */
function assetKey(asset: string): AssetKey {
  return asset === NATIVE_ASSET ? asset : asset.toLowerCase();
}

function includesAddress(list: string[], address: string): boolean {
  return list.some((item) => item.toLowerCase() === address.toLowerCase());
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
 * Rolling-window usage from past requests: spends with ts in (now - 24 h, ...]
 * and the number of requests with ts in (now - 60 s, ...]. Records stamped after
 * `now` (clock skew between processes) still count: erring towards the limit.
 */
export function usageFromRecords(
  records: Array<{ ts: number; spends: Spend[] }>,
  now: Date,
): Usage {
  const nowMs = now.getTime();
  const inDay = records.filter((r) => r.ts > nowMs - DAY_MS);
  const totals = spendTotalsByAsset(inDay.flatMap((r) => r.spends));
  return {
    spentLast24h: Object.fromEntries(totals),
    requestsLastMinute: records.filter((r) => r.ts > nowMs - MINUTE_MS).length,
  };
}

/** The policy's limits for an asset in base units; undefined if absent or unusable. */
function limitFor(policy: Policy, asset: AssetKey): ResolvedLimit | undefined {
  const entry = Object.entries(policy.assets).find(([key]) => assetKey(key) === asset);
  if (entry === undefined) return undefined;
  const [key, limit] = entry;
  const info = resolveAsset(key, limit);
  if (info === undefined) return undefined;
  try {
    const parse = (amount: string) => parseUnits(amount, info.decimals);
    return {
      symbol: info.symbol,
      decimals: info.decimals,
      maxPerTx: parse(limit.maxPerTx),
      maxPer24h: parse(limit.maxPer24h),
      ...(limit.approvalAbove === undefined ? {} : { approvalAbove: parse(limit.approvalAbove) }),
    };
  } catch {
    return undefined; // an unvalidated, unparseable limit denies rather than throws
  }
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

function checkChain(policy: Policy, req: DecodedRequest): Denial | undefined {
  if (req.chainId === undefined || policy.chains.includes(req.chainId)) return undefined;
  return deny("chains", `chain ${req.chainId} is not in the policy's chains`);
}

function checkKind(policy: Policy, req: DecodedRequest): Denial | undefined {
  if (req.kind === "message" && policy.allowMessageSigning !== true) {
    return deny("allowMessageSigning", "message signing is not allowed by the policy");
  }
  if (req.kind === "typed-data" && !(policy.allowTypedData ?? []).includes(req.primaryType ?? "")) {
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
  if (limitFor(policy, assetKey(spend.asset)) === undefined) {
    return deny("assets", `asset ${spend.asset} is not in the policy's assets`);
  }
  if (policy.recipients !== undefined && !includesAddress(policy.recipients, spend.recipient)) {
    return deny("recipients", `recipient ${spend.recipient} is not in the policy's recipients`);
  }
  return undefined;
}

/**
 * Per-request amounts are summed per asset before comparing with maxPerTx: a
 * request carrying two spends of one asset is still one transaction.
 */
function checkAmount(limit: ResolvedLimit, amount: bigint, spent: bigint): Denial | undefined {
  const fmt = (n: bigint) => human(n, limit.decimals);
  if (amount > limit.maxPerTx) {
    return deny(
      "maxPerTx",
      `${limit.symbol} amount ${fmt(amount)} exceeds maxPerTx ${fmt(limit.maxPerTx)}`,
    );
  }
  if (spent + amount > limit.maxPer24h) {
    return deny(
      "maxPer24h",
      `${limit.symbol} amount ${fmt(amount)} plus ${fmt(spent)} spent in the last 24h exceeds maxPer24h ${fmt(limit.maxPer24h)}`,
    );
  }
  return undefined;
}

function checkSpends(policy: Policy, spends: Spend[], usage: Usage): Denial | undefined {
  for (const spend of spends) {
    const denial = checkSpendTarget(policy, spend);
    if (denial) return denial;
  }
  for (const [asset, amount] of spendTotalsByAsset(spends)) {
    const limit = limitFor(policy, asset) as ResolvedLimit; // present: checked above
    const denial = checkAmount(limit, amount, usage.spentLast24h[asset] ?? 0n);
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

/** Amounts strictly above approvalAbove wait for an operator. */
function needsApproval(policy: Policy, spends: Spend[]): boolean {
  return [...spendTotalsByAsset(spends)].some(([asset, amount]) => {
    const threshold = limitFor(policy, asset)?.approvalAbove;
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
