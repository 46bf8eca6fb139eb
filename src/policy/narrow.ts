/**
 * Credential limits narrow a policy, never widen it: given per-request caps
 * (asset → amount in the asset's units), each asset's maxPerTx becomes the smaller of
 * the policy's and every cap's, and assets no cap names are dropped (a credential that
 * caps spending names what it lets the agent spend). Pure; the result goes to the same
 * evaluator, so a denial still names the rule ("maxPerTx" or "assets").
 *
 * A capped credential also loses the policy's `unlimitedAllowanceSpenders`: a trusted
 * unlimited grant is not counted against any cap, so keeping the list would let a
 * credential capped at 3 USDC sign an allowance of 2^256-1 (rule "unlimitedAllowance").
 */
import { parseUnits } from "ethers";
import { normaliseAssetKey, resolveAsset } from "./assets.js";
import type { Policy } from "./types.js";

export type SpendCaps = Record<string, string>;

function amount(value: string, decimals: number): bigint | undefined {
  try {
    const v = parseUnits(value, decimals);
    return v < 0n ? undefined : v;
  } catch {
    return undefined;
  }
}

type Assets = Policy["assets"];

function narrowAssets(entries: Assets, caps: SpendCaps[]): Assets {
  const assets: Assets = {};
  for (const [key, limit] of Object.entries(entries)) {
    const info = resolveAsset(key, limit);
    const norm = normaliseAssetKey(key);
    if (!info || !norm) continue;
    let maxPerTx = amount(limit.maxPerTx, info.decimals);
    let text = limit.maxPerTx;
    let named = true;
    for (const cap of caps) {
      const entry = Object.entries(cap).find(([k]) => normaliseAssetKey(k) === norm);
      if (!entry) {
        named = false;
        break;
      }
      const c = amount(entry[1], info.decimals);
      // An unparseable cap allows nothing rather than everything.
      if (c === undefined || maxPerTx === undefined || c < maxPerTx) {
        maxPerTx = c ?? 0n;
        text = c === undefined ? "0" : entry[1];
      }
    }
    if (named) assets[key] = { ...limit, maxPerTx: text };
  }
  return assets;
}

/** Chain-scoped limits are narrowed the same way, or they would widen what a cap allows. */
export function narrowPolicy(policy: Policy | undefined, caps: SpendCaps[]): Policy | undefined {
  if (policy === undefined || caps.length === 0) return policy;
  const { unlimitedAllowanceSpenders: _uncapped, ...rest } = policy;
  const narrowed: Policy = { ...rest, assets: narrowAssets(policy.assets, caps) };
  if (policy.assetsByChain !== undefined) {
    narrowed.assetsByChain = Object.fromEntries(
      Object.entries(policy.assetsByChain).map(([chain, a]) => [chain, narrowAssets(a, caps)]),
    );
  }
  return narrowed;
}

/** Lists a delegation may narrow: recipients (and the contracts callable), chains. */
export interface ScopeNarrowing {
  recipients?: string[];
  chains?: number[];
}

const lower = (xs: string[]) => xs.map((x) => x.toLowerCase());

/** The policy with recipients, callable contracts and chains cut to the given lists. */
export function narrowScope(policy: Policy | undefined, scope: ScopeNarrowing): Policy | undefined {
  if (policy === undefined) return policy;
  const out: Policy = { ...policy };
  if (scope.chains !== undefined) {
    const allowed = scope.chains;
    out.chains = policy.chains.filter((c) => allowed.includes(c));
  }
  if (scope.recipients !== undefined) {
    const allowed = lower(scope.recipients);
    out.recipients = policy.recipients
      ? policy.recipients.filter((r) => allowed.includes(r.toLowerCase()))
      : allowed;
    out.contracts = (policy.contracts ?? []).filter((c) => allowed.includes(c.toLowerCase()));
  }
  return out;
}

/**
 * The policy a delegation link's own budget is checked with, against the spends made
 * through that link: only the assets it caps may move, each within the link's per-tx and
 * 24 h caps (a whole-asset entry across chains, so per-chain entries cannot add up past it).
 */
export function linkCapsPolicy(
  policy: Policy,
  caps: Record<string, { maxPerTx: string; maxPer24h: string }>,
): Policy {
  const named = new Map(Object.entries(caps).map(([k, v]) => [normaliseAssetKey(k), v]));
  const entryFor = (norm: string) => {
    const all = [policy.assets, ...Object.values(policy.assetsByChain ?? {})];
    for (const a of all) {
      const hit = Object.entries(a).find(([k]) => normaliseAssetKey(k) === norm);
      if (hit) return hit[1];
    }
    return undefined;
  };
  const assets: Policy["assets"] = {};
  for (const [norm, cap] of named) {
    const entry = norm ? entryFor(norm) : undefined;
    if (!norm || !entry) continue; // the agent's own policy refuses it anyway
    const { approvalAbove: _parkedByTheAgentPolicy, ...rest } = entry;
    assets[norm] = { ...rest, maxPerTx: cap.maxPerTx, maxPer24h: cap.maxPer24h };
  }
  const keep = (a: Policy["assets"]) =>
    Object.fromEntries(Object.entries(a).filter(([k]) => named.has(normaliseAssetKey(k))));
  const { unlimitedAllowanceSpenders: _uncapped, ...rest } = policy;
  const out: Policy = { ...rest, assets };
  if (policy.assetsByChain !== undefined) {
    out.assetsByChain = Object.fromEntries(
      Object.entries(policy.assetsByChain).map(([chain, a]) => [chain, keep(a)]),
    );
  }
  return out;
}
