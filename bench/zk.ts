/**
 * Compliance-proof figures for `npm run bench`: constraints per entry of both proof systems
 * (from compiles at the production allowlist depth), and per system at one size: setup
 * time, one batch proved, verification, proof and bundle size. `npm run bench` measures
 * Groth16 at N=4 depth 2, and Groth16 beside PLONK at N=1 depth 1 (the sizes the shipped
 * 2^13 development ptau holds); `npm run bench -- zk <N> <depth> [--ptau=<file>
 * --unlisted-ptau] [--systems=groth16,plonk]` measures another size alone (a 64-entry
 * Groth16 setup at depth 4 needs a 2^16 ptau, about 40 min to make on these 2 cores).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { openAuditLog } from "../src/audit/log.js";
import type { Policy } from "../src/policy/types.js";
import { policyHash } from "../src/policy/validate.js";
import { openDatabase } from "../src/store/db.js";
import { createSqliteSql } from "../src/store/sql/sqlite.js";
import { checkpointDigest } from "../src/threshold/checkpoint.js";
import { BUNDLE_FORMAT, type Bundle, verifyBundle } from "../src/zk/bundle.js";
import { plonkPower, plonkSetup } from "../src/zk/plonk.js";
import { prepareRange, proveBatches } from "../src/zk/prover.js";
import {
  type Artifacts,
  compileCircuit,
  DEFAULT_BUILD_ROOT,
  ensureArtifacts,
  type ProofSystem,
  releaseCurve,
  requiredPower,
  shippedDevelopmentPtau,
} from "../src/zk/setup.js";
import { statementText } from "../src/zk/statement.js";
import { median, round } from "./stats.js";

const POLICY: Policy = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "1", maxPer24h: "1000" } },
  recipients: ["0x1111111111111111111111111111111111111111"],
};

export interface ZkBenchOptions {
  n?: number;
  depth?: number;
  ptau?: string;
  allowUnlistedPtau?: boolean;
  /** Proof systems measured at that size, side by side (default: Groth16 only). */
  systems?: ProofSystem[];
  /** Count constraints per entry too (two compiles per system, about 20 s). */
  counts?: boolean;
}

export async function runZkBench(log: (line: string) => void, opts: ZkBenchOptions = {}) {
  const n = opts.n ?? 4;
  const depth = opts.depth ?? 2;
  const systems: Record<string, unknown> = {};
  for (const system of opts.systems ?? ["groth16"]) {
    systems[system] = await benchSystem(log, { ...opts, n, depth, system });
  }
  await releaseCurve();
  if (opts.counts === false) return { measuredAt: { n, depth }, systems };
  const counts = await countPerEntry(log);
  const at64 = counts.groth16.fixed + 64 * counts.groth16.perEntry;
  const plonkAt64 = counts.plonk.fixed + 64 * counts.plonk.perEntry;
  return {
    constraintsPerEntry: counts.groth16.perEntry,
    constraintsFixed: counts.groth16.fixed,
    plonkConstraintsPerEntry: counts.plonk.perEntry,
    plonkConstraintsFixed: counts.plonk.fixed,
    productionN64: {
      constraints: at64,
      ptauPower: requiredPower(at64 + 13),
      plonkConstraints: plonkAt64,
      plonkPtauPower: plonkPower(plonkAt64),
    },
    measuredAt: { n, depth },
    systems,
  };
}

/**
 * Constraints per entry and per batch at the production depth, from compiles of N=1 and N=2:
 * R1CS at --O2 (Groth16), PLONK constraints at --O1 (counted by snarkjs's own setup).
 */
async function countPerEntry(log: (line: string) => void) {
  log("zk: compiling N=1 and N=2 at depth 4 (both systems) to count constraints per entry");
  const scratch = mkdtempSync(join(DEFAULT_BUILD_ROOT, "bench-"));
  try {
    const r1cs = async (n: number) =>
      (await compileCircuit({ n, depth: 4 }, join(scratch, `g${n}`), () => {}, { wasm: false }))
        .constraints;
    const gates = async (n: number) => {
      const dir = join(scratch, `p${n}`);
      await compileCircuit({ n, depth: 4, system: "plonk" }, dir, () => {}, { wasm: false });
      const shipped = shippedDevelopmentPtau(0);
      if (!shipped) throw new Error("the shipped development ptau is missing");
      const size = await plonkSetup(join(dir, "main.r1cs"), shipped.path, join(dir, "k.zkey"));
      if (size.gates === undefined) throw new Error(`PLONK count failed: ${size.ok || size.error}`);
      return size.gates;
    };
    const [g1, g2, p1, p2] = [await r1cs(1), await r1cs(2), await gates(1), await gates(2)];
    return {
      groth16: { perEntry: g2 - g1, fixed: 2 * g1 - g2 },
      plonk: { perEntry: p2 - p1, fixed: 2 * p1 - p2 },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** One system at one size: setup (cached), one batch proved (median of 3), verified (median of 5). */
async function benchSystem(
  log: (line: string) => void,
  opts: ZkBenchOptions & { n: number; depth: number; system: ProofSystem },
) {
  const { n, depth, system } = opts;
  log(`zk: ${system} setup for N=${n} depth=${depth} (cached in circuits/build/)`);
  const t0 = Date.now();
  let art: Artifacts;
  try {
    art = await ensureArtifacts({
      n,
      depth,
      system,
      log: (l) => log(`zk: ${l}`),
      // A setup made from a given ptau (npm run circuits:setup -- --ptau=…) is reused with it.
      ...(opts.ptau ? { ptau: opts.ptau, allowUnlistedPtau: opts.allowUnlistedPtau === true } : {}),
    });
  } catch (err) {
    return { skipped: String((err as Error).message).slice(0, 300) };
  }
  const setupSeconds = (Date.now() - t0) / 1000;
  const sql = createSqliteSql(
    openDatabase(join(mkdtempSync(join(tmpdir(), "av-zk-bench-")), "v.sqlite")),
  );
  const audit = await openAuditLog(sql);
  for (let i = 0; i < n; i++) {
    await audit.append({
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
    entries: await audit.list(1, n),
    startZkHead: "0",
    zkV2Start: await audit.zkV2Start(),
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
  const zkHead = (await audit.zkHeadAt(n)) as string;
  // A stand-in cluster key signs the end checkpoint, so the bundle check runs in full.
  const cluster = Wallet.createRandom();
  const endHash = ((await audit.get(n)) as { hash: string }).hash;
  await sql.close();
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
  // One batch verified alone (stock snarkjs), then the whole bundle check.
  const snarkjs = await import("snarkjs");
  const verifier = system === "plonk" ? snarkjs.plonk : snarkjs.groth16;
  const verifyTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const ok = await verifier.verify(art.vkey, batches[0]?.publicSignals, batches[0]?.proof);
    verifyTimes.push(performance.now() - t);
    if (!ok) throw new Error("bench proof did not verify");
  }
  const t = performance.now();
  const bundleCheck = await verifyBundle(bundle, { clusterAddress: cluster.address });
  const bundleVerifyMs = performance.now() - t;
  if (!bundleCheck.ok) throw new Error(`bench bundle did not verify: ${bundleCheck.error}`);
  return {
    constraints: art.transcript.circuit.constraints,
    ...(art.transcript.circuit.plonkGates
      ? { plonkConstraints: art.transcript.circuit.plonkGates }
      : {}),
    setup: art.setup,
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
    proofBytes: Buffer.byteLength(JSON.stringify(batches[0]?.proof)),
    bundleBytes: Buffer.byteLength(JSON.stringify(bundle)),
    bundleBytesWithoutKeyAndTranscript: Buffer.byteLength(
      JSON.stringify({ ...bundle, verificationKey: undefined, transcript: undefined }),
    ),
  };
}
