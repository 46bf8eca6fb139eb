/**
 * Compliance bundles: one JSON document an auditor downloads and checks without trusting
 * the vault. verifyBundle() checks every proof with snarkjs, that each batch's
 * public signals are the ones the policy and claim determine, that the batches link
 * (zk heads and the committed running total), that the first and last heads are those
 * of cluster-signed checkpoints (EIP-712, recovered against the cluster address), and
 * that the spend count adds up. Then, and only then, it returns the statement.
 *
 * Whether the proofs mean anything depends on the verification key: it must be the
 * compliance circuit's, from a setup whose secret nobody alone holds. The bundle's `setup`
 * (system, label, contributions) is the vault's description of it, a claim; the check that
 * holds is the key's SHA-256 against keys the auditor trusts (src/zk/trust.ts). Unless the
 * key is trusted, and always for a development setup, the check carries a warning.
 */
import { ZK_GENESIS } from "../audit/commitment.js";
import type { Policy } from "../policy/types.js";
import { policyHash } from "../policy/validate.js";
import { checkpointSigner } from "../threshold/checkpoint.js";
import type { ProvedBatch } from "./prover.js";
import { PUBLIC_SIGNALS, type SetupDescription, type SetupTranscript } from "./setup.js";
import { loadSnarkjs } from "./snarkjs-lazy.js";
import {
  allowlistOf,
  type Claim,
  capOf,
  expectedPublic,
  SUM_GENESIS,
  statementText,
} from "./statement.js";
import { vkeySha256 } from "./zkey.js";

/**
 * Format 3: the checkpoints' zk heads and the proofs follow zk chain version 2
 * (src/audit/commitment.ts: one Poseidon(10) per entry). The document's shape is format 2's.
 */
export const BUNDLE_FORMAT = "agent-vault/compliance-bundle@3";
/**
 * Format 2: the same shape over zk chain version 1 (Poseidon(9) commitments linked by
 * Poseidon(2)). Still verified as before: its proofs check against its own verification key,
 * which is the earlier circuit's, and its heads against the checkpoints signed then.
 */
export const BUNDLE_FORMAT_V2 = "agent-vault/compliance-bundle@2";
/** The first format: `setup` a bare "development" | "ceremony" marker, also in the key. */
export const BUNDLE_FORMAT_V1 = "agent-vault/compliance-bundle@1";

export interface BundleCheckpoint {
  seq: number;
  /** SHA-256 chain head (hex). */
  hash: string;
  /** Poseidon chain head (decimal). */
  zkHead: string;
  /** EIP-712 Checkpoint{seq, head, zkHead} signature by the cluster key; "" for genesis. */
  signature: string;
  signers: number[];
  signedAt: string;
}

/** The empty log's head: the start of every chain, needing no signature. */
export const GENESIS_CHECKPOINT: Readonly<BundleCheckpoint> = Object.freeze({
  seq: 0,
  hash: "0".repeat(64),
  zkHead: ZK_GENESIS,
  signature: "",
  signers: [],
  signedAt: "",
});

export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  /** The proof system and the setup, as the vault describes them (see the top). */
  setup: SetupDescription;
  statement: string;
  claim: Claim;
  policy: Policy;
  clusterAddress: string;
  checkpoints: { start: BundleCheckpoint; end: BundleCheckpoint };
  batches: Array<Omit<ProvedBatch, "seconds">>;
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
  verificationKey: any;
  transcript: SetupTranscript;
  createdAt: string;
}

export interface BundleCheck {
  ok: boolean;
  /** Set when ok: the statement, rebuilt from what was verified. */
  statement?: string;
  /** Set when ok: the bundle's description of its setup (a claim, see `trusted`). */
  setup?: SetupDescription;
  /**
   * The verification key is one the caller trusts (`trustedVkeys`) and the setup is not
   * labelled development: only then is the check free of setup warnings.
   */
  trusted: boolean;
  /** The first reason verification failed. */
  error?: string;
  batches: number;
  verificationKeySha256: string;
  warnings: string[];
}

const sig = (signals: string[], name: (typeof PUBLIC_SIGNALS)[number]) =>
  signals[PUBLIC_SIGNALS.indexOf(name)];

export { vkeySha256 };

/** A format-1 bundle's setup marker, described in today's terms (still only the vault's word). */
function legacySetup(bundle: { setup?: unknown; transcript?: SetupTranscript }): SetupDescription {
  const phase2 = (bundle.transcript?.phase2 ?? {}) as {
    contributions?: Array<{ name: string; hash: string }>;
  };
  return {
    system: "groth16",
    setup: bundle.setup === "ceremony" ? "ceremony-with-contributions" : "development",
    phase1: {
      source: bundle.setup === "ceremony" ? "listed" : "shipped-development",
      file: String(bundle.transcript?.phase1?.ptau ?? ""),
      power: Number(bundle.transcript?.phase1?.power ?? 0),
      sha256: String(bundle.transcript?.phase1?.ptauSha256 ?? ""),
    },
    contributions: (phase2.contributions ?? []).map((c) => ({ name: c.name, hash: c.hash })),
  };
}

function checkpointOk(cp: BundleCheckpoint, clusterAddress: string): boolean {
  if (cp.seq === 0) return cp.zkHead === ZK_GENESIS && cp.hash === "0".repeat(64);
  try {
    return (
      checkpointSigner(cp.seq, cp.hash, cp.signature, cp.zkHead).toLowerCase() ===
      clusterAddress.toLowerCase()
    );
  } catch {
    return false;
  }
}

/**
 * Verifies a bundle. `clusterAddress` is the cluster key the auditor trusts (from the
 * operator, out of band); without it the bundle's own is used and a warning says so.
 * `verificationKey`, likewise, pins the key the auditor expects.
 */
export async function verifyBundle(
  bundle: Bundle,
  opts: {
    clusterAddress?: string;
    // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
    verificationKey?: any;
    /** SHA-256s (vkeySha256) of verification keys the auditor trusts. */
    trustedVkeys?: readonly string[];
  } = {},
): Promise<BundleCheck> {
  const warnings: string[] = [];
  const vk = bundle?.verificationKey;
  const vkHash = vk ? vkeySha256(vk) : "";
  const legacy = (bundle?.format as string) === BUNDLE_FORMAT_V1;
  const setup: SetupDescription | undefined = legacy ? legacySetup(bundle) : bundle?.setup;
  const trusted =
    !!vk &&
    setup?.setup !== "development" &&
    (opts.trustedVkeys ?? []).map((h) => h.toLowerCase()).includes(vkHash);
  const result = (error?: string): BundleCheck => ({
    ok: error === undefined,
    ...(error === undefined ? { statement: statementText(bundle.claim), setup } : { error }),
    trusted: error === undefined && trusted,
    batches: Array.isArray(bundle?.batches) ? bundle.batches.length : 0,
    verificationKeySha256: vkHash,
    warnings,
  });
  try {
    if (
      bundle?.format !== BUNDLE_FORMAT &&
      (bundle?.format as string) !== BUNDLE_FORMAT_V2 &&
      !legacy
    )
      return result("not an agent-vault compliance bundle (or a format this version cannot read)");
    const { claim, policy, batches, checkpoints } = bundle;
    if (!Array.isArray(batches) || batches.length === 0) return result("the bundle has no batches");
    if (!setup || typeof setup !== "object")
      return result("the bundle does not describe its setup");
    if (opts.verificationKey && vkeySha256(opts.verificationKey) !== vkHash) {
      return result("the verification key is not the one expected");
    }
    const system = setup.system;
    if (system !== "groth16" && system !== "plonk")
      return result(`unknown proof system ${String(system)}`);
    if (vk?.protocol !== system)
      return result(
        `the bundle says ${system} but its verification key is ${String(vk?.protocol)}`,
      );
    if (legacy) {
      warnings.push(
        "a format-1 bundle: its setup marker is the vault's word; the key alone can be trusted",
      );
    }
    if (setup.setup === "development") {
      warnings.push(
        "development setup: phase 1 is a development ptau (not a published ceremony file); whoever made it could forge proofs",
      );
    }
    if (!trusted && system === "plonk") {
      warnings.push(
        `untrusted setup: the verification key (sha256 ${vkHash}) is not one you trust. A PLONK key is derived from the circuit and the ptau alone: derive it yourself (agent-vault verify-bundle … --r1cs=<the circuit you compiled> --ptau=<the published ceremony file>) or pass --trust-vkey=<its sha256>`,
      );
    } else if (!trusted) {
      const names = setup.contributions.map((c) => `"${c.name}"`).join(", ");
      warnings.push(
        `untrusted setup: the verification key (sha256 ${vkHash}) is not one you trust${
          setup.setup === "ceremony-with-contributions" && names
            ? `; the bundle says its phase 2 holds the contribution(s) ${names}, which only a proving key checked with \`agent-vault zk verify-setup\` shows`
            : ""
        }. Anyone who knows its setup's secret could forge these proofs: add your own contribution (agent-vault zk contribute), check the installed key (agent-vault zk verify-setup) and pass --trust-vkey=<its sha256>`,
      );
    }
    const clusterAddress = opts.clusterAddress ?? bundle.clusterAddress;
    if (!opts.clusterAddress) {
      warnings.push(
        "the cluster address was taken from the bundle itself; pass the one the operator published",
      );
    }

    // The public values the policy and claim determine.
    if (policyHash(policy) !== claim.policyHash)
      return result("the policy does not hash to the claim's policyHash");
    const expected = expectedPublic(policy, claim);
    // Everything the statement prints must come from the policy or the proofs.
    const asset = capOf(policy, claim.asset);
    if (claim.cap !== asset.cap.toString())
      return result("the claimed cap is not the policy's maxPerTx");
    if (claim.symbol !== asset.symbol || claim.decimals !== asset.decimals) {
      return result("the claimed asset symbol or decimals are not the policy's");
    }
    if (JSON.stringify(claim.allowlist) !== JSON.stringify(allowlistOf(policy))) {
      return result("the claimed allowlist is not the policy's");
    }

    // The checkpoints at both ends, signed by the cluster key.
    if (checkpoints.start.seq !== claim.fromSeq - 1 || checkpoints.end.seq !== claim.toSeq) {
      return result("the checkpoints do not bound the claimed range");
    }
    if (!checkpointOk(checkpoints.start, clusterAddress)) {
      return result(
        `the start checkpoint (seq ${checkpoints.start.seq}) is not signed by the cluster key`,
      );
    }
    if (!checkpointOk(checkpoints.end, clusterAddress)) {
      return result(
        `the end checkpoint (seq ${checkpoints.end.seq}) is not signed by the cluster key`,
      );
    }

    let head = checkpoints.start.zkHead;
    let carried = SUM_GENESIS;
    let spends = 0;
    let seq = claim.fromSeq;
    for (const [i, batch] of batches.entries()) {
      const s = batch.publicSignals;
      if (!Array.isArray(s) || s.length !== PUBLIC_SIGNALS.length) {
        return result(`batch ${i}: wrong number of public signals`);
      }
      if (
        batch.fromSeq !== seq ||
        batch.toSeq < batch.fromSeq ||
        batch.toSeq - batch.fromSeq >= claim.batchSize
      ) {
        return result(`batch ${i}: its entries do not follow the previous batch's`);
      }
      seq = batch.toSeq + 1;
      // allowHash: the hash of the policy's recipients (allowSlots), recomputed here, so a
      // proof made against any other list fails, and the auditor reads the list in the policy.
      for (const name of [
        "allowHash",
        "allowAny",
        "agentHash",
        "assetHash",
        "policyHash",
        "cap",
      ] as const) {
        if (sig(s, name) !== expected[name])
          return result(`batch ${i}: public signal ${name} does not match the policy/claim`);
      }
      if (sig(s, "bound") !== claim.bound)
        return result(`batch ${i}: public signal bound does not match the claim`);
      if (sig(s, "startHead") !== head)
        return result(`batch ${i}: its start head does not link to the previous head`);
      if (sig(s, "sumInCommit") !== carried)
        return result(`batch ${i}: its carried total does not link to the previous batch`);
      const { plonk, groth16 } = await loadSnarkjs();
      const ok = await (system === "plonk" ? plonk : groth16).verify(vk, s, batch.proof);
      if (!ok)
        return result(
          `batch ${i} (entries ${batch.fromSeq}..${batch.toSeq}): the proof does not verify`,
        );
      head = sig(s, "endHead") as string;
      carried = sig(s, "sumOutCommit") as string;
      spends += Number(sig(s, "spendCount"));
    }
    if (seq !== claim.toSeq + 1) return result("the batches do not cover the claimed range");
    if (head !== checkpoints.end.zkHead)
      return result("the last batch does not end at the signed checkpoint's zk head");
    if (spends !== claim.spendCount)
      return result("the batches' spend counts do not add up to the claim");
    return result();
  } catch (err) {
    return result(`malformed bundle: ${String((err as Error)?.message ?? err).slice(0, 200)}`);
  }
}
