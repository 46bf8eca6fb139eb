/**
 * Compliance-proof figures for `npm run bench`: constraints per entry (from two compiles
 * at the production allowlist depth), and for the largest batch size whose setup is
 * built (`npm run bench -- <N> <depth>`, default 4 and 2; a 64-entry setup at depth 4
 * needs a 2^16 ptau, about 40 min to make on these 2 cores): setup time, one batch
 * proved, verification, bundle size.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { createAuditLog } from "../src/audit/log.js";
import type { Policy } from "../src/policy/types.js";
import { policyHash } from "../src/policy/validate.js";
import { openDatabase } from "../src/store/db.js";
import { checkpointDigest } from "../src/threshold/checkpoint.js";
import { BUNDLE_FORMAT, type Bundle, verifyBundle } from "../src/zk/bundle.js";
import { prepareRange, proveBatches } from "../src/zk/prover.js";
import {
  compileCircuit,
  DEFAULT_BUILD_ROOT,
  ensureArtifacts,
  releaseCurve,
} from "../src/zk/setup.js";
import { statementText } from "../src/zk/statement.js";
import { median, round } from "./stats.js";

const POLICY: Policy = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "1", maxPer24h: "1000" } },
  recipients: ["0x1111111111111111111111111111111111111111"],
};

export async function runZkBench(
  log: (line: string) => void,
  opts: { n?: number; depth?: number; ptau?: string; allowUnlistedPtau?: boolean } = {},
) {
  const n = opts.n ?? 4;
  const depth = opts.depth ?? 2;
  log("zk: compiling N=1 and N=2 at depth 4 to count constraints per entry");
  const scratch = mkdtempSync(join(DEFAULT_BUILD_ROOT, "bench-"));
  const one = await compileCircuit({ n: 1, depth: 4 }, join(scratch, "n1"));
  const two = await compileCircuit({ n: 2, depth: 4 }, join(scratch, "n2"));
  rmSync(scratch, { recursive: true, force: true });
  const perEntry = two.constraints - one.constraints;
  const fixed = one.constraints - perEntry;
  const at64 = fixed + 64 * perEntry;
  let ptau64 = 1;
  while (2 ** ptau64 < at64 + 13) ptau64++;

  log(`zk: setup for N=${n} depth=${depth} (cached in circuits/build/)`);
  const t0 = Date.now();
  const art = await ensureArtifacts({
    n,
    depth,
    log: (l) => log(`zk: ${l}`),
    // A setup made from a given ptau (npm run circuits:setup -- --ptau=…) is reused with it.
    ...(opts.ptau ? { ptau: opts.ptau, allowUnlistedPtau: opts.allowUnlistedPtau === true } : {}),
  });
  const setupSeconds = (Date.now() - t0) / 1000;

  const audit = createAuditLog(
    openDatabase(join(mkdtempSync(join(tmpdir(), "av-zk-bench-")), "v.sqlite")),
  );
  for (let i = 0; i < n; i++) {
    audit.append({
      type: "sign.signed",
      agentId: "agt_bench",
      data: {
        spends: [
          { chainId: 84532, asset: "ETH", amount: "1000", recipient: POLICY.recipients?.[0] },
        ],
        policyVersion: 1,
        policyHash: policyHash(POLICY),
      },
    });
  }
  const prepared = prepareRange({
    agentId: "agt_bench",
    asset: "ETH",
    policy: POLICY,
    policyVersion: 1,
    bound: 10n ** 21n,
    entries: audit.list(1, n),
    startZkHead: "0",
    zkV2Start: audit.zkV2Start(),
    n,
    depth,
  });
  const proveTimes: number[] = [];
  let batches: Awaited<ReturnType<typeof proveBatches>> = [];
  for (let i = 0; i < 3; i++) {
    const t = Date.now();
    batches = await proveBatches(prepared, art);
    proveTimes.push(Date.now() - t);
  }
  const zkHead = audit.zkHeadAt(n) as string;
  // A stand-in cluster key signs the end checkpoint, so the bundle check runs in full.
  const cluster = Wallet.createRandom();
  const endHash = (audit.get(n) as { hash: string }).hash;
  const endSig = cluster.signingKey.sign(checkpointDigest(n, endHash, zkHead)).serialized;
  const bundle: Bundle = {
    format: BUNDLE_FORMAT,
    setup: art.setup,
    statement: statementText(prepared.claim),
    claim: prepared.claim,
    policy: POLICY,
    clusterAddress: "0x0000000000000000000000000000000000000000",
    checkpoints: {
      start: {
        seq: 0,
        hash: "0".repeat(64),
        zkHead: "0",
        signature: "",
        signers: [],
        signedAt: "",
      },
      end: { seq: n, hash: endHash, zkHead, signature: endSig, signers: [0, 1], signedAt: "" },
    },
    batches: batches.map(({ seconds: _s, ...b }) => b),
    verificationKey: art.vkey,
    transcript: art.transcript,
    createdAt: new Date().toISOString(),
  };
  // Groth16 verification of one batch alone, then the whole bundle check.
  const snarkjs = await import("snarkjs");
  const verifyTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const ok = await snarkjs.groth16.verify(art.vkey, batches[0]?.publicSignals, batches[0]?.proof);
    verifyTimes.push(performance.now() - t);
    if (!ok) throw new Error("bench proof did not verify");
  }
  const t = performance.now();
  const bundleCheck = await verifyBundle(bundle, { clusterAddress: cluster.address });
  const bundleVerifyMs = performance.now() - t;
  if (!bundleCheck.ok) throw new Error(`bench bundle did not verify: ${bundleCheck.error}`);
  await releaseCurve();
  return {
    constraintsPerEntry: perEntry,
    constraintsFixed: fixed,
    productionN64:
      n === 64 && depth === 4
        ? { constraints: at64, ptauPower: ptau64, note: "measured: see proveOneBatchMs" }
        : {
            constraints: at64,
            ptauPower: ptau64,
            note: "estimated from this run's size; `npm run bench -- 64 4` measures it once its setup is built (see README)",
            proveMsEstimate: Math.round(
              (median(proveTimes) * at64) / art.transcript.circuit.constraints,
            ),
          },
    measuredAt: { n, depth, constraints: art.transcript.circuit.constraints, setup: art.setup },
    setupSeconds: {
      thisRun: round(setupSeconds),
      asBuilt: art.transcript.seconds,
    },
    proveOneBatchMs: { median: round(median(proveTimes)), samples: proveTimes },
    verifyOneBatchMs: {
      median: round(median(verifyTimes)),
      samples: verifyTimes.map((x) => round(x)),
    },
    verifyBundleMs: round(bundleVerifyMs),
    bundleBytes: Buffer.byteLength(JSON.stringify(bundle)),
    bundleBytesWithoutKeyAndTranscript: Buffer.byteLength(
      JSON.stringify({ ...bundle, verificationKey: undefined, transcript: undefined }),
    ),
  };
}
