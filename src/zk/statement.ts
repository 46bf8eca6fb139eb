/**
 * The public side of a compliance statement: what an auditor recomputes from the
 * policy and the claim (cap, allowlist hash, agent/asset/policy field elements) and
 * the plain-words statement. Shared by the prover and the verifier.
 */
import { parseUnits } from "ethers";
import { poseidon2 } from "poseidon-lite/poseidon2";
import { poseidon4 } from "poseidon-lite/poseidon4";
import { poseidon8 } from "poseidon-lite/poseidon8";
import { poseidon16 } from "poseidon-lite/poseidon16";
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
  /** The cap the circuit checks: circuitCap(policy's maxPerTx). */
  cap: string;
  allowHash: string;
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

/** BN254's scalar field prime p (Groth16 over bn128): circuit values are taken mod p. */
export const FIELD_P =
  21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/**
 * Width of a spend's amount in the circuit (AMOUNT_BITS() in circuits/compliance.circom).
 * 2^96 - 1 base units: 79 billion whole units of an 18-decimal token (more ETH than
 * exists), 7.9e22 USDC. A spend above it has no proof (the prover names the entry).
 */
export const ZK_AMOUNT_BITS = 96;
export const ZK_AMOUNT_MAX = (1n << BigInt(ZK_AMOUNT_BITS)) - 1n;

/**
 * The cap the circuit checks: the policy's, capped at 2^96 - 1 (a policy cap above it
 * yields the stronger claim "every spend <= 2^96 - 1", which implies the policy's).
 */
export function circuitCap(cap: bigint): bigint {
  return cap < ZK_AMOUNT_MAX ? cap : ZK_AMOUNT_MAX;
}

/**
 * The value of the allowlist slots after the real recipients (ALLOW_PAD() in the circuit):
 * p - 1. Recipients map to keccak256 >> 3 < 2^253 < p - 1, so none has it, and the circuit
 * refuses a spend whose recipient is PAD.
 */
export const ALLOW_PAD = FIELD_P - 1n;

/** Allowlist capacities the circuit supports: 2^1 .. 2^8 slots. */
export const MAX_ALLOW_DEPTH = 8;

/**
 * The allowlist's 2^depth slots as the circuit takes them: textField(address) of each
 * recipient in allowlistOf's order (sorted, lower case), then ALLOW_PAD; all PAD for "any".
 */
export function allowSlots(allow: string[] | "any", depth: number): bigint[] {
  if (!Number.isInteger(depth) || depth < 1 || depth > MAX_ALLOW_DEPTH) {
    throw new Error(`the allowlist depth must be an integer in 1..${MAX_ALLOW_DEPTH}`);
  }
  const size = 2 ** depth;
  const list = allow === "any" ? [] : allow;
  if (list.length > size) {
    throw new Error(
      `the allowlist has ${list.length} recipients; depth ${depth} holds ${size} (raise VAULT_ZK_DEPTH)`,
    );
  }
  const slots = list.map((a) => textField(a));
  while (slots.length < size) slots.push(ALLOW_PAD);
  return slots;
}

const POSEIDON: Record<number, (inputs: bigint[]) => bigint> = {
  2: poseidon2,
  4: poseidon4,
  8: poseidon8,
  16: poseidon16,
};

function poseidonN(inputs: bigint[]): bigint {
  const h = POSEIDON[inputs.length];
  if (!h) throw new Error(`no Poseidon of ${inputs.length} inputs here`);
  return h(inputs);
}

/**
 * ListHash(L) of the circuit: Poseidon(slots) for L <= 16, else Poseidon over the
 * Poseidon(16) hashes of the 16-slot chunks (L = 32..256).
 */
export function listHash(slots: bigint[]): bigint {
  if (slots.length <= 16) return poseidonN(slots);
  const chunks: bigint[] = [];
  for (let i = 0; i < slots.length; i += 16) chunks.push(poseidon16(slots.slice(i, i + 16)));
  return poseidonN(chunks);
}

/** The public allowHash: ListHash of the policy's allowlist slots. */
export function allowHash(allow: string[] | "any", depth: number): bigint {
  return listHash(allowSlots(allow, depth));
}

/** The public values an auditor derives from the policy and claim alone. */
export function expectedPublic(policy: Policy, claim: Claim): PublicValues {
  const { cap } = capOf(policy, claim.asset);
  const allow = allowlistOf(policy);
  return {
    agentHash: textField(claim.agentId).toString(),
    assetHash: textField(assetKey(claim.asset)).toString(),
    policyHash: hexField(policyHash(policy)).toString(),
    cap: circuitCap(cap).toString(),
    allowHash: allowHash(allow, claim.depth).toString(),
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
