/**
 * The Poseidon commitment every audit entry gets (README "Compliance proofs"): how audit
 * entries become field elements of BN254 (the scalar field p of Groth16 over
 * bn128), and the Poseidon commitment chain beside the SHA-256 chain.
 *
 * Hash-to-field, one rule for every text (agent id, asset key, recipient address in lower
 * case, policy SHA-256 hex, entry SHA-256 hex): take 256 bits and drop the low 3, i.e.
 *   textField(s)  = uint256(keccak256(utf8(s))) >> 3        (agent id, asset key, recipient)
 *   hexField(h)   = uint256(h) >> 3                         (SHA-256 hex: policy hash, entry salt)
 * A 253-bit value is always < p (p > 2^253), so no reduction is needed and the map is
 * plain to recompute in any language. Amounts are base units and must be < 2^128 to be
 * committed as a spend (kind 1; the compliance circuit itself states spends up to 2^96 - 1,
 * ZK_AMOUNT_BITS in src/zk/statement.ts); time is Unix seconds of the entry's ts.
 *
 * commitment = Poseidon9(kind, agent, asset, amount, recipient, time, policyVersion,
 *                        policy, salt)
 *   kind 1: a "sign.signed" entry carrying exactly one spend, all fields filled;
 *   kind 2: a "sign.signed" entry carrying several spends: agent and salt only;
 *   kind 0: any other entry: agent (0 when none) and salt only.
 * salt is the entry's own SHA-256 hash, so each commitment binds its entry and the
 * private fields cannot be found by guessing from the public heads.
 * The chain has two versions (issue 11 item 3), chosen by seq against the log's "zk v2
 * start" S (the `zk_v2_start` row of the meta table, pinned when the log is first opened by
 * code that knows version 2: 1 for a new log, last seq + 1 for an existing one):
 *   zkHead_0 = 0;
 *   seq <  S (v1): zkHead_i = Poseidon2(zkHead_{i-1}, commitment_i), the commitment above;
 *   seq >= S (v2): zkHead_i = Poseidon10(kind, agent, asset, amount, recipient, time,
 *                             policyVersion, policy, salt, zkHead_{i-1}).
 * v2 folds the commitment and the link into one hash (one Poseidon(10) per entry in the
 * circuit instead of a Poseidon(9) and a Poseidon(2)); it binds the same fields. A v2 entry
 * has no separate commitment: the log stores "" in its commitment column. The compliance
 * circuit proves v2 entries only. Poseidon as circomlib defines it (poseidon-lite).
 * It lives in src/audit because the log computes it for every entry (src/audit/log.ts);
 * src/zk reads the same encoding from here to build circuit inputs.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { poseidon2 } from "poseidon-lite/poseidon2";
import { poseidon9 } from "poseidon-lite/poseidon9";
import { poseidon10 } from "poseidon-lite/poseidon10";
import type { AuditEntry } from "./types.js";

export const ZK_GENESIS = "0";
/** The meta-table key holding the log's zk v2 start seq (see the top). */
export const ZK_V2_START_KEY = "zk_v2_start";
export const AMOUNT_BITS = 128n;

export function textField(text: string): bigint {
  return BigInt(keccak256(toUtf8Bytes(text))) >> 3n;
}

export function hexField(hex: string): bigint {
  return BigInt(`0x${hex.replace(/^0x/, "")}`) >> 3n;
}

export interface EntryFields {
  kind: 0n | 1n | 2n;
  agent: bigint;
  asset: bigint;
  amount: bigint;
  recipient: bigint;
  time: bigint;
  policyVersion: bigint;
  policy: bigint;
  salt: bigint;
}

interface SpendData {
  asset?: unknown;
  amount?: unknown;
  recipient?: unknown;
}

/** The one spend a "sign.signed" entry records, if it records exactly one. */
export function spendsOf(entry: Pick<AuditEntry, "type" | "data">): SpendData[] {
  if (entry.type !== "sign.signed" || !Array.isArray(entry.data.spends)) return [];
  return entry.data.spends as SpendData[];
}

export function entryFields(entry: Omit<AuditEntry, "prevHash">): EntryFields {
  const agent = entry.agentId ? textField(entry.agentId) : 0n;
  const salt = hexField(entry.hash);
  const zero = { asset: 0n, amount: 0n, recipient: 0n, time: 0n, policyVersion: 0n, policy: 0n };
  const [s, ...more] = spendsOf(entry);
  if (s === undefined) return { kind: 0n, agent, salt, ...zero };
  if (more.length > 0) return { kind: 2n, agent, salt, ...zero };
  const amount = BigInt(String(s.amount));
  if (amount < 0n || amount >= 1n << AMOUNT_BITS) {
    // Still committed (as a 2-kind entry it could not be hidden); the circuit refuses it.
    return { kind: 2n, agent, salt, ...zero };
  }
  const version = Number(entry.data.policyVersion ?? 0);
  const policyHash = typeof entry.data.policyHash === "string" ? entry.data.policyHash : "";
  return {
    kind: 1n,
    agent,
    asset: textField(assetKey(String(s.asset))),
    amount,
    recipient: textField(String(s.recipient).toLowerCase()),
    time: BigInt(Math.floor(Date.parse(entry.ts) / 1000)),
    policyVersion: BigInt(Number.isSafeInteger(version) ? version : 0),
    policy: policyHash ? hexField(policyHash) : 0n,
    salt,
  };
}

/** The nine fields in the order both chain rules hash them. */
function fieldList(f: EntryFields): bigint[] {
  return [
    f.kind,
    f.agent,
    f.asset,
    f.amount,
    f.recipient,
    f.time,
    f.policyVersion,
    f.policy,
    f.salt,
  ];
}

export function commitFields(f: EntryFields): bigint {
  return poseidon9(fieldList(f));
}

/** The Poseidon commitment of an entry (decimal string). */
export function entryCommitment(entry: Omit<AuditEntry, "prevHash">): string {
  return commitFields(entryFields(entry)).toString();
}

/** The v1 link: Poseidon2(zkHead_{i-1}, commitment_i). */
export function nextZkHead(prev: string, commitment: string): string {
  return poseidon2([BigInt(prev), BigInt(commitment)]).toString();
}

/** The v2 head: Poseidon10(the entry's nine fields, zkHead_{i-1}) (decimal string). */
export function chainFieldsV2(prev: string, f: EntryFields): string {
  return poseidon10([...fieldList(f), BigInt(prev)]).toString();
}

/**
 * One step of the versioned chain: entry.seq < v2Start chains by the v1 rule (and has a
 * commitment), else by the v2 rule (commitment ""). Throws what entryFields throws.
 */
export function zkStep(
  prev: string,
  entry: Omit<AuditEntry, "prevHash">,
  v2Start: number,
): { commitment: string; zkHead: string } {
  const f = entryFields(entry);
  if (entry.seq >= v2Start) return { commitment: "", zkHead: chainFieldsV2(prev, f) };
  const commitment = commitFields(f).toString();
  return { commitment, zkHead: nextZkHead(prev, commitment) };
}

/** The asset key as policies name it: "ETH" or a lower-case token address. */
export function assetKey(asset: string): string {
  return asset.toLowerCase() === "eth" ? "ETH" : asset.toLowerCase();
}
