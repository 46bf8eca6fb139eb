/**
 * Which limits a spend counts against, and how much has been counted.
 *
 * A spend of asset A on chain C counts against `assets[A]` (one budget shared by
 * every chain the policy lists) and against `assetsByChain[C][A]` (that chain
 * only), whichever exist; both must hold. Usage is summed per scope: by asset
 * key for the first, by "<chainId>/<asset key>" for the second.
 *
 * Unlimited grants (Spend.unlimited) to a spender the policy trusts with them
 * (`unlimitedAllowanceSpenders`) are not counted: they could never fit a cap,
 * and the operator listed the spender for that reason. Every other spend is.
 */

import { parseUnits } from "ethers";
import { NATIVE_ASSET, resolveAsset } from "./assets.js";
import type { AssetKey, AssetLimit, Policy, Spend, Usage } from "./types.js";

export interface ResolvedLimit {
  symbol: string;
  decimals: number;
  maxPerTx: bigint;
  maxPer24h: bigint;
  approvalAbove?: bigint;
}

/** One budget a spend counts against. */
export interface Scope {
  /** Usage key: the asset key, or "<chainId>/<asset key>" for a chain-scoped limit. */
  key: string;
  asset: AssetKey;
  chainId?: number;
  limit: ResolvedLimit;
}

/** "ETH" as is, token addresses lower case, so keys from any source compare equal. */
export function assetKey(asset: string): AssetKey {
  return asset === NATIVE_ASSET ? asset : asset.toLowerCase();
}

export function includesAddress(list: string[], address: string): boolean {
  return list.some((item) => item.toLowerCase() === address.toLowerCase());
}

export const chainKey = (chainId: number, asset: string): string => `${chainId}/${assetKey(asset)}`;

/** The limits of an entry in base units; undefined if absent or unusable. */
function resolve(entries: Record<string, AssetLimit> | undefined, asset: AssetKey) {
  const entry = Object.entries(entries ?? {}).find(([key]) => assetKey(key) === asset);
  if (entry === undefined) return undefined;
  const [key, limit] = entry;
  const info = resolveAsset(key, limit);
  if (info === undefined) return undefined;
  try {
    const parse = (amount: string) => parseUnits(amount, info.decimals);
    const resolved: ResolvedLimit = {
      symbol: info.symbol,
      decimals: info.decimals,
      maxPerTx: parse(limit.maxPerTx),
      maxPer24h: parse(limit.maxPer24h),
    };
    if (limit.approvalAbove !== undefined) resolved.approvalAbove = parse(limit.approvalAbove);
    return resolved;
  } catch {
    return undefined; // an unvalidated, unparseable limit denies rather than throws
  }
}

/** The budgets a spend of `asset` on `chainId` counts against ([] means: not allowed). */
export function scopesFor(policy: Policy, chainId: number, asset: string): Scope[] {
  const key = assetKey(asset);
  const scopes: Scope[] = [];
  const global = resolve(policy.assets, key);
  if (global) scopes.push({ key, asset: key, limit: global });
  const scoped = resolve(policy.assetsByChain?.[String(chainId)], key);
  if (scoped) scopes.push({ key: chainKey(chainId, key), asset: key, chainId, limit: scoped });
  return scopes;
}

/** True when the spend is an unlimited grant the policy explicitly allows (and does not count). */
export function trustedUnlimited(policy: Policy, spend: Spend): boolean {
  return (
    spend.unlimited === true &&
    includesAddress(policy.unlimitedAllowanceSpenders ?? [], spend.recipient)
  );
}

/** Per scope: the scope and the sum of the request's amounts counted against it. */
export function totalsByScope(
  policy: Policy,
  spends: Spend[],
): Map<string, { scope: Scope; amount: bigint }> {
  const totals = new Map<string, { scope: Scope; amount: bigint }>();
  for (const spend of spends) {
    for (const scope of scopesFor(policy, spend.chainId, spend.asset)) {
      const prior = totals.get(scope.key)?.amount ?? 0n;
      totals.set(scope.key, { scope, amount: prior + spend.amount });
    }
  }
  return totals;
}

/** What the rolling window has already counted against a scope. */
export function spentIn(usage: Usage, scope: Scope): bigint {
  if (scope.chainId === undefined) return usage.spentLast24h[scope.asset] ?? 0n;
  // Without per-chain usage the all-chains sum is the safe stand-in (never smaller).
  if (usage.spentLast24hByChain === undefined) return usage.spentLast24h[scope.asset] ?? 0n;
  return usage.spentLast24hByChain[scope.key] ?? 0n;
}
