/**
 * The public side of a compliance statement: what an auditor recomputes from the
 * policy and the claim (cap, allowlist root, agent/asset/policy field elements) and
 * the plain-words statement. Shared by the prover and the verifier.
 */
import { parseUnits } from "ethers";
import { poseidon2 } from "poseidon-lite";
import { assetKey, hexField, textField } from "../audit/commitment.js";
import { resolveAsset } from "../policy/assets.js";
import type { Policy } from "../policy/types.js";
import { policyHash } from "../policy/validate.js";

/** Poseidon(0, 0): the commitment the first batch of a bundle must carry in. */
export const SUM_GENESIS = poseidon2([0n, 0n]).toString();

export interface Claim {
  agentId: string;
  /** "ETH" or a lower-case token address, as the policy names it. */
  asset: string;
  symbol: string;
  decimals: number;
  /** Audit entries covered: fromSeq..toSeq (bounded by signed checkpoints). */
  fromSeq: number;
  toSeq: number;
  policyVersion: number;
  policyHash: string;
  /** Base units, decimal strings. */
  cap: string;
  bound: string;
  /** Lower-case recipient addresses, or "any" when the policy lists none. */
  allowlist: string[] | "any";
  spendCount: number;
  batchSize: number;
  depth: number;
}

export interface PublicValues {
  agentHash: string;
  assetHash: string;
  policyHash: string;
  cap: string;
  allowRoot: string;
  allowAny: string;
}

/** The per-transaction cap of `asset` under `policy`, in base units. */
export function capOf(
  policy: Policy,
  asset: string,
): { cap: bigint; symbol: string; decimals: number } {
  const key = assetKey(asset);
  const entry = Object.entries(policy.assets).find(([k]) => assetKey(k) === key)?.[1];
  if (!entry) throw new Error(`the policy sets no limits for asset ${key}`);
  const info = resolveAsset(key, entry);
  if (!info) throw new Error(`the decimals of asset ${key} are unknown`);
  return {
    cap: parseUnits(entry.maxPerTx, info.decimals),
    symbol: info.symbol,
    decimals: info.decimals,
  };
}

export function per24hOf(policy: Policy, asset: string): bigint {
  const key = assetKey(asset);
  const entry = Object.entries(policy.assets).find(([k]) => assetKey(k) === key)?.[1];
  if (!entry) throw new Error(`the policy sets no limits for asset ${key}`);
  const info = resolveAsset(key, entry);
  if (!info) throw new Error(`the decimals of asset ${key} are unknown`);
  return parseUnits(entry.maxPer24h, info.decimals);
}

export function allowlistOf(policy: Policy): string[] | "any" {
  if (!policy.recipients) return "any";
  return [...new Set(policy.recipients.map((r) => r.toLowerCase()))].sort();
}

/** Leaves of the allowlist tree: textField(address), zero-padded to 2^depth. */
export function allowTree(list: string[], depth: number): bigint[][] {
  const size = 2 ** depth;
  if (list.length > size) {
    throw new Error(`the allowlist has ${list.length} recipients; depth ${depth} holds ${size}`);
  }
  const leaves = list.map((a) => textField(a));
  while (leaves.length < size) leaves.push(0n);
  const levels = [leaves];
  for (let cur = leaves; cur.length > 1; ) {
    const next: bigint[] = [];
    for (let i = 0; i < cur.length; i += 2) {
      const [left, right] = [cur[i], cur[i + 1]];
      // Each level has 2^k nodes (leaves were padded to size), so every node has a sibling.
      if (left === undefined || right === undefined) throw new Error("allowlist tree level is odd");
      next.push(poseidon2([left, right]));
    }
    levels.push(next);
    cur = next;
  }
  return levels;
}

/** The root of a tree from allowTree (its last level holds one node). */
export function treeRoot(levels: bigint[][]): bigint {
  const root = levels.at(-1)?.[0];
  if (root === undefined) throw new Error("allowlist tree has no root");
  return root;
}

export function allowRoot(allow: string[] | "any", depth: number): bigint {
  if (allow === "any") return 0n;
  return treeRoot(allowTree(allow, depth));
}

/** Path of leaf `index` in the tree: sibling per level, and whether the node is the right child. */
export function allowPath(
  levels: bigint[][],
  index: number,
): { pathElements: bigint[]; pathIndices: number[] } {
  const pathElements: bigint[] = [];
  const pathIndices: number[] = [];
  let i = index;
  for (let d = 0; d < levels.length - 1; d++) {
    const sibling = levels[d]?.[i ^ 1];
    if (sibling === undefined) throw new Error(`leaf ${index} is outside the allowlist tree`);
    pathElements.push(sibling);
    pathIndices.push(i & 1);
    i >>= 1;
  }
  return { pathElements, pathIndices };
}

/** The public values an auditor derives from the policy and claim alone. */
export function expectedPublic(policy: Policy, claim: Claim): PublicValues {
  const { cap } = capOf(policy, claim.asset);
  const allow = allowlistOf(policy);
  return {
    agentHash: textField(claim.agentId).toString(),
    assetHash: textField(assetKey(claim.asset)).toString(),
    policyHash: hexField(policyHash(policy)).toString(),
    cap: cap.toString(),
    allowRoot: allowRoot(allow, claim.depth).toString(),
    allowAny: allow === "any" ? "1" : "0",
  };
}

function units(value: string, decimals: number, symbol: string): string {
  const v = BigInt(value);
  const whole = v / 10n ** BigInt(decimals);
  const frac = (v % 10n ** BigInt(decimals)).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${whole}${frac ? `.${frac}` : ""} ${symbol}`;
}

/** The statement in plain words, from a claim (the verifier prints it only once proven). */
export function statementText(claim: Claim): string {
  const recipients =
    claim.allowlist === "any"
      ? "any recipient (the policy lists none)"
      : `a recipient on the policy's allowlist of ${claim.allowlist.length} (${claim.allowlist.join(", ")})`;
  return (
    `Between audit entries ${claim.fromSeq} and ${claim.toSeq} (both ends cluster-signed checkpoints), ` +
    `agent ${claim.agentId} made ${claim.spendCount} signed spend(s) of ${claim.symbol} (${claim.asset}). ` +
    `Every one was signed under the policy with sha256 ${claim.policyHash} (version ${claim.policyVersion} per the vault), ` +
    `was at most the per-transaction cap of ${units(claim.cap, claim.decimals, claim.symbol)}, ` +
    `and paid ${recipients}; together they total at most ${units(claim.bound, claim.decimals, claim.symbol)}. ` +
    "No entry of this agent in the range signed several spends at once. " +
    "The individual entries, amounts, recipients and the exact total are not revealed."
  );
}
