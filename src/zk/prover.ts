/**
 * Turns a range of the audit log into circuit inputs, one batch of N entries at a time,
 * refusing up front (with the offending entry named) what the circuit would refuse:
 * a log that breaks the policy has no proof. proveBatches() then runs snarkjs (Groth16 or
 * PLONK, as the artefacts were set up).
 */
import { randomBytes } from "node:crypto";
import { poseidon2 } from "poseidon-lite/poseidon2";
import {
  assetKey,
  chainFieldsV2,
  type EntryFields,
  entryFields,
  hexField,
  textField,
} from "../audit/commitment.js";
import type { AuditEntry } from "../audit/types.js";
import { VaultError } from "../errors/index.js";
import type { Policy } from "../policy/types.js";
import { policyHash as policySha } from "../policy/validate.js";
import type { Artifacts, ProofSystem } from "./setup.js";
import { loadSnarkjs } from "./snarkjs-lazy.js";
import {
  allowlistOf,
  allowSlots,
  type Claim,
  capOf,
  circuitCap,
  listHash,
  SUM_GENESIS,
  ZK_AMOUNT_BITS,
  ZK_AMOUNT_MAX,
} from "./statement.js";
import { computeWitness, memFile } from "./witness.js";

export interface RangeInput {
  agentId: string;
  asset: string;
  policy: Policy;
  policyVersion: number;
  /** Base units; the bound on the total of the range. */
  bound: bigint;
  /** The entries fromSeq..toSeq, in order, with the zk head before the first. */
  entries: AuditEntry[];
  startZkHead: string;
  /**
   * The log's zk v2 start (AuditLog.zkV2Start()): the circuit proves v2 entries only, so a
   * range starting before it is refused (PROOF_RANGE_BEFORE_ZK_V2).
   */
  zkV2Start: number;
  /** Stored zk heads (checked against the recomputed ones). */
  stored?: Array<{ seq: number; commitment: string; zkHead: string }>;
  n: number;
  depth: number;
  /**
   * false skips the policy pre-check, handing a violating log to the circuit itself
   * (tests use it to show the circuit refuses what the pre-check would name).
   */
  check?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: circuit input JSON
export type CircuitInput = Record<string, any>;

export interface PreparedBatch {
  fromSeq: number;
  toSeq: number;
  input: CircuitInput;
}

export interface Prepared {
  claim: Claim;
  batches: PreparedBatch[];
  endZkHead: string;
}

/** The error a policy-violating log yields; names the entry. */
export function violation(seq: number, what: string): VaultError {
  return new VaultError(
    "PROOF_IMPOSSIBLE",
    `audit entry ${seq} ${what}: no compliance proof exists`,
    {
      seq,
    },
  );
}

/** A range that starts before the log's zk v2 start: the circuit cannot state it. */
export function rangeBeforeZkV2(fromSeq: number, zkV2Start: number): VaultError {
  return new VaultError(
    "PROOF_RANGE_BEFORE_ZK_V2",
    `the range starts at audit entry ${fromSeq}, before ${zkV2Start}, the first entry of the zk chain version the circuit proves`,
    { fromSeq, zkV2Start },
  );
}

const randomField = () => BigInt(`0x${randomBytes(31).toString("hex")}`);

export function prepareRange(r: RangeInput): Prepared {
  const first = r.entries[0];
  const last = r.entries.at(-1);
  if (!first || !last) throw new VaultError("VALIDATION_FAILED", "the range holds no entries");
  if (first.seq < r.zkV2Start) throw rangeBeforeZkV2(first.seq, r.zkV2Start);
  const asset = assetKey(r.asset);
  const { cap, symbol, decimals } = capOf(r.policy, asset);
  const allow = allowlistOf(r.policy);
  // One list per batch: the slots are private inputs, their hash the public allowHash.
  const slots = allowSlots(allow, r.depth);
  const slotHash = listHash(slots).toString();
  const zkCap = circuitCap(cap);
  if (r.bound < 0n || r.bound >= 1n << 128n) {
    throw new VaultError("VALIDATION_FAILED", "bound must be base units below 2^128", {
      field: "bound",
    });
  }
  const agentF = textField(r.agentId);
  const assetF = textField(asset);
  const polHex = policySha(r.policy);
  const polF = hexField(polHex);
  const storedBySeq = new Map((r.stored ?? []).map((s) => [s.seq, s]));

  // Recompute the chain, and check each spend of this agent in this asset against the policy.
  let zk = r.startZkHead;
  let total = 0n;
  let count = 0;
  const fields: EntryFields[] = [];
  for (const entry of r.entries) {
    const f = entryFields(entry);
    zk = chainFieldsV2(zk, f);
    const stored = storedBySeq.get(entry.seq);
    if (stored && stored.zkHead !== zk) {
      throw new VaultError(
        "AUDIT_UNAVAILABLE",
        `audit entry ${entry.seq}: zk chain does not recompute`,
      );
    }
    fields.push(f);
    if (r.check === false || f.agent !== agentF) continue;
    if (f.kind === 2n)
      throw violation(
        entry.seq,
        "records several spends (or an amount of 2^128 or more) in one signature",
      );
    if (f.kind !== 1n || f.asset !== assetF) continue;
    if (f.policy !== polF) {
      throw violation(
        entry.seq,
        `was signed under policy version ${String(entry.data.policyVersion)}, not version ${r.policyVersion} (${polHex})`,
      );
    }
    if (f.amount > cap)
      throw violation(
        entry.seq,
        `spends ${f.amount} base units, over the per-transaction cap of ${cap}`,
      );
    if (f.amount > zkCap)
      throw violation(
        entry.seq,
        `spends ${f.amount} base units, more than the circuit's ${ZK_AMOUNT_BITS}-bit amounts hold (at most ${ZK_AMOUNT_MAX})`,
      );
    const recipient = String(
      (entry.data.spends as Array<{ recipient: string }>)[0]?.recipient,
    ).toLowerCase();
    if (allow !== "any" && !allow.includes(recipient)) {
      throw violation(entry.seq, `pays ${recipient}, which is not on the policy's allowlist`);
    }
    total += f.amount;
    count++;
    if (total > r.bound) {
      throw violation(
        entry.seq,
        `brings the total to ${total} base units, over the bound of ${r.bound}`,
      );
    }
  }

  const batches: PreparedBatch[] = [];
  let head = r.startZkHead;
  let sumIn = 0n;
  let saltIn = 0n;
  for (let start = 0; start < r.entries.length; start += r.n) {
    const slice = r.entries.slice(start, start + r.n);
    const sliceFields = fields.slice(start, start + r.n);
    const input: CircuitInput = {
      startHead: head,
      agentHash: agentF.toString(),
      assetHash: assetF.toString(),
      policyHash: polF.toString(),
      cap: zkCap.toString(),
      bound: r.bound.toString(),
      allowHash: slotHash,
      allowAny: allow === "any" ? "1" : "0",
      allowList: slots.map(String),
      active: [],
      kind: [],
      agent: [],
      asset: [],
      amount: [],
      recipient: [],
      time: [],
      policyVersion: [],
      policy: [],
      salt: [],
    };
    let sum = sumIn;
    let spends = 0;
    for (let i = 0; i < r.n; i++) {
      const f = sliceFields[i];
      const entry = slice[i];
      if (!f || !entry) {
        // Padding after the last entry: inactive, chains nothing.
        input.active.push(0);
        for (const k of [
          "kind",
          "agent",
          "asset",
          "amount",
          "recipient",
          "time",
          "policyVersion",
          "policy",
          "salt",
        ]) {
          input[k].push("0");
        }
        continue;
      }
      head = chainFieldsV2(head, f);
      const isSpend = f.kind === 1n && f.agent === agentF && f.asset === assetF;
      if (isSpend) {
        sum += f.amount;
        spends++;
      }
      input.active.push(1);
      input.kind.push(f.kind.toString());
      input.agent.push(f.agent.toString());
      input.asset.push(f.asset.toString());
      input.amount.push(f.amount.toString());
      input.recipient.push(f.recipient.toString());
      input.time.push(f.time.toString());
      input.policyVersion.push(f.policyVersion.toString());
      input.policy.push(f.policy.toString());
      input.salt.push(f.salt.toString());
    }
    const saltOut = randomField();
    input.endHead = head;
    input.sumIn = sumIn.toString();
    input.sumInSalt = saltIn.toString();
    input.sumInCommit = start === 0 ? SUM_GENESIS : undefined;
    input.sumOutSalt = saltOut.toString();
    input.spendCount = spends.toString();
    input.sumOutCommit = sumCommit(sum, saltOut);
    if (start > 0) input.sumInCommit = sumCommit(sumIn, saltIn);
    const [first, last] = [slice[0], slice.at(-1)];
    // start < entries.length, so no slice is empty.
    if (!first || !last) throw new Error(`batch at ${start} holds no entries`);
    batches.push({ fromSeq: first.seq, toSeq: last.seq, input });
    sumIn = sum;
    saltIn = saltOut;
  }

  const claim: Claim = {
    agentId: r.agentId,
    asset,
    symbol,
    decimals,
    fromSeq: first.seq,
    toSeq: last.seq,
    policyVersion: r.policyVersion,
    policyHash: polHex,
    cap: cap.toString(),
    bound: r.bound.toString(),
    allowlist: allow,
    spendCount: count,
    batchSize: r.n,
    depth: r.depth,
  };
  return { claim, batches, endZkHead: zk };
}

function sumCommit(sum: bigint, salt: bigint): string {
  return poseidon2([sum, salt]).toString();
}

export interface ProvedBatch {
  fromSeq: number;
  toSeq: number;
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs proof JSON
  proof: any;
  publicSignals: string[];
  seconds: number;
}

/** Proves every batch (snarkjs, Groth16 unless `system` says PLONK); `progress` after each one. */
export async function proveBatches(
  prepared: Prepared,
  artifacts: Pick<Artifacts, "wasm" | "zkey"> & { system?: ProofSystem },
  progress?: (done: number, total: number) => void,
): Promise<ProvedBatch[]> {
  const out: ProvedBatch[] = [];
  const snarkjs = await loadSnarkjs();
  const prover = artifacts.system === "plonk" ? snarkjs.plonk : snarkjs.groth16;
  for (const batch of prepared.batches) {
    const t = Date.now();
    let result: { proof: unknown; publicSignals: string[] };
    try {
      const wtns = await computeWitness(artifacts.wasm, batch.input);
      result = await prover.prove(artifacts.zkey, memFile(wtns));
    } catch (err) {
      const message = String((err as Error)?.message ?? err);
      // A failed assertion is the circuit refusing the witness: the log breaks the statement.
      if (!/Assert Failed/.test(message)) throw err;
      throw new VaultError(
        "PROOF_IMPOSSIBLE",
        `entries ${batch.fromSeq}..${batch.toSeq}: the circuit refused the witness (${message.slice(0, 200)})`,
      );
    }
    out.push({
      fromSeq: batch.fromSeq,
      toSeq: batch.toSeq,
      proof: result.proof,
      publicSignals: result.publicSignals,
      seconds: (Date.now() - t) / 1000,
    });
    progress?.(out.length, prepared.batches.length);
  }
  return out;
}
