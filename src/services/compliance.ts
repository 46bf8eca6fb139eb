/**
 * The compliance-proof service (see README "Compliance proofs"): proof jobs, the prover
 * child process, bundles. A service, not zk domain code: it holds jobs and processes and
 * asks the checkpoint service for signed heads; the pure parts stay in src/zk.
 *
 * The vault keeps a Poseidon commitment per audit entry and a Poseidon chain beside the
 * SHA-256 chain (src/audit/commitment.ts); the cluster co-signs both heads in every checkpoint.
 * A proof request names an agent and a range; the range is widened to the nearest
 * cluster-signed checkpoints, the entries go to a child process that proves them in
 * batches of N (circuits/compliance.circom), and the result is a bundle that anyone can
 * verify with verifyBundle() (src/zk/bundle.ts) or plain `snarkjs groth16 verify`.
 * Jobs are kept in memory: a restart forgets them (the bundle is the durable artefact).
 */

import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { zkHeadOf } from "../audit/checkpoints.js";
import { assetKey } from "../audit/commitment.js";
import type { AuditLog, Checkpoint } from "../audit/types.js";
import { VaultError } from "../errors/index.js";
import { DAY_MS } from "../policy/evaluate.js";
import type { VaultStore } from "../store/vault-store.js";
import {
  BUNDLE_FORMAT,
  type Bundle,
  type BundleCheckpoint,
  GENESIS_CHECKPOINT,
} from "../zk/bundle.js";
import { type Artifacts, loadArtifacts } from "../zk/setup.js";
import { capOf, per24hOf, statementText } from "../zk/statement.js";
import type { WorkerJob, WorkerMessage } from "../zk/worker.js";
import type { CheckpointService } from "./checkpoints.js";
import { policyOf } from "./policy-of.js";

export interface ProofRequest {
  agentId: string;
  fromSeq: number;
  toSeq: number;
  /** "ETH" or a token address; default: the policy's only asset, else ETH. */
  asset?: string;
  /** Bound on the total, base units; default maxPer24h × (whole days spanned + 1). */
  bound?: string;
}

export interface ProofJob {
  id: string;
  status: "queued" | "proving" | "done" | "failed";
  agentId: string;
  fromSeq: number;
  toSeq: number;
  progress: { batches: number; done: number };
  createdAt: string;
  finishedAt?: string;
  error?: { code: string; message: string; seq?: number };
  result?: {
    setup: Bundle["setup"];
    statement: string;
    spendCount: number;
    batches: number;
    provingSeconds: number;
  };
}

export interface ComplianceService {
  /** Validates the request, fixes the checkpoints and starts proving; returns the job. */
  request(req: ProofRequest, actor: string): Promise<ProofJob>;
  job(id: string): ProofJob;
  bundle(id: string): Bundle;
  /** The verification key (with its setup marker) and transcript; undefined when not set up. */
  verificationKey(): { verificationKey: unknown; transcript: unknown } | undefined;
  /** Resolves when the job settles (tests, CLI). */
  wait(id: string): Promise<ProofJob>;
  stop(): Promise<void>;
}

/** The prover child process; from TypeScript sources (tests) it runs under tsx. */
function startWorker(job: WorkerJob): ChildProcess {
  const ts = import.meta.url.endsWith(".ts");
  const child = fork(
    fileURLToPath(new URL(ts ? "../zk/worker.ts" : "../zk/worker.js", import.meta.url)),
    [],
    {
      execArgv: ts ? ["--import", "tsx"] : [],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    },
  );
  child.send(job);
  return child;
}

export function createComplianceService(deps: {
  store: VaultStore;
  audit: AuditLog;
  checkpoints: CheckpointService;
  params: { n: number; depth: number; buildRoot?: string };
  log?: (line: string) => void;
}): ComplianceService {
  const { store, audit, checkpoints, params } = deps;
  const jobs = new Map<string, { job: ProofJob; bundle?: Bundle; settled: Promise<void> }>();
  const workers = new Set<ChildProcess>();
  let cachedArtifacts: Artifacts | undefined;

  const artifacts = (): Artifacts | undefined => {
    cachedArtifacts ??= loadArtifacts(params, params.buildRoot);
    return cachedArtifacts;
  };

  const asBundleCheckpoint = (cp: Checkpoint | undefined): BundleCheckpoint =>
    cp
      ? {
          seq: cp.seq,
          hash: cp.hash,
          zkHead: zkHeadOf(cp) as string,
          signature: cp.signature,
          signers: cp.signers,
          signedAt: cp.signedAt,
        }
      : { ...GENESIS_CHECKPOINT, signers: [] };

  /** Widens [fromSeq, toSeq] to cluster-signed checkpoints (signing one at the head if needed). */
  async function bounds(fromSeq: number, toSeq: number) {
    const head = audit.head().seq;
    if (toSeq > head)
      throw new VaultError("VALIDATION_FAILED", `toSeq is past the log's head (${head})`, {
        field: "toSeq",
      });
    let cps = audit.checkpoints.list().filter((cp) => zkHeadOf(cp) !== undefined);
    if (!cps.some((cp) => cp.seq >= toSeq)) {
      // No checkpoint now (no quorum): the range is refused below if none covers it.
      await checkpoints
        .checkpoint()
        .catch((err: unknown) => deps.log?.(`checkpoint for a proof: ${(err as Error).message}`));
      cps = audit.checkpoints.list().filter((cp) => zkHeadOf(cp) !== undefined);
    }
    const start = [...cps].reverse().find((cp) => cp.seq <= fromSeq - 1);
    // The newest checkpoint may stop just short of its own "checkpoint.signed" entry.
    const end = cps.find((cp) => cp.seq >= toSeq) ?? cps.at(-1);
    if (!end || end.seq < fromSeq || end.seq <= (start?.seq ?? 0)) {
      throw new VaultError("CONFLICT", "no cluster-signed checkpoint covers the range yet");
    }
    return { start, end };
  }

  function spawn(id: string, job: WorkerJob, finish: (m: WorkerMessage) => void): Promise<void> {
    return new Promise((resolve) => {
      const worker = startWorker(job);
      workers.add(worker);
      let settled = false;
      const done = (m: WorkerMessage) => {
        if (settled) return;
        settled = true;
        finish(m);
        workers.delete(worker);
        if (worker.exitCode === null) worker.kill();
        resolve();
      };
      worker.on("message", (m: WorkerMessage) => {
        const entry = jobs.get(id);
        if (m.type === "progress" && entry) {
          entry.job.status = "proving";
          entry.job.progress = { batches: m.total, done: m.done };
        } else if (m.type !== "progress") done(m);
      });
      worker.on("error", (err) =>
        done({ type: "error", code: "INTERNAL", message: String(err?.message ?? err) }),
      );
      worker.on("exit", () =>
        done({ type: "error", code: "INTERNAL", message: "the prover process stopped" }),
      );
    });
  }

  const service: ComplianceService = {
    async request(req, actor) {
      const art = artifacts();
      if (!art) throw new VaultError("PROOF_UNAVAILABLE");
      if (!store.agent(req.agentId)) throw new VaultError("AGENT_NOT_FOUND");
      const row = store.policy(req.agentId);
      const policy = policyOf(store, req.agentId);
      if (!row || !policy) throw new VaultError("CONFLICT", "the agent has no policy");
      const assets = Object.keys(policy.assets);
      const asset = assetKey(
        req.asset ?? (assets.length === 1 && assets[0] !== undefined ? assets[0] : "ETH"),
      );
      try {
        capOf(policy, asset);
      } catch (err) {
        throw new VaultError("VALIDATION_FAILED", (err as Error).message, { field: "asset" });
      }
      if (
        !Number.isSafeInteger(req.fromSeq) ||
        !Number.isSafeInteger(req.toSeq) ||
        req.fromSeq < 1 ||
        req.toSeq < req.fromSeq
      ) {
        throw new VaultError("VALIDATION_FAILED", "need 1 <= fromSeq <= toSeq", {
          field: "fromSeq",
        });
      }
      const { start, end } = await bounds(req.fromSeq, req.toSeq);
      const fromSeq = (start?.seq ?? 0) + 1;
      const entries = audit.list(fromSeq, end.seq - fromSeq + 1);
      let bound: bigint;
      if (req.bound !== undefined) {
        if (!/^[0-9]{1,39}$/.test(req.bound) || BigInt(req.bound) >= 1n << 128n) {
          throw new VaultError("VALIDATION_FAILED", "bound must be base units below 2^128", {
            field: "bound",
          });
        }
        bound = BigInt(req.bound);
      } else {
        const [first, last] = [entries[0], entries.at(-1)];
        if (!first || !last) throw new VaultError("VALIDATION_FAILED", "the range has no entries");
        const span = Date.parse(last.ts) - Date.parse(first.ts);
        bound = per24hOf(policy, asset) * BigInt(Math.floor(span / DAY_MS) + 1);
        if (bound >= 1n << 128n) bound = (1n << 128n) - 1n;
      }
      const id = `prf_${randomBytes(9).toString("base64url")}`;
      const job: ProofJob = {
        id,
        status: "queued",
        agentId: req.agentId,
        fromSeq,
        toSeq: end.seq,
        progress: { batches: Math.ceil(entries.length / params.n), done: 0 },
        createdAt: new Date().toISOString(),
      };
      audit.append({
        type: "proof.requested",
        agentId: req.agentId,
        actor,
        data: { proofId: id, fromSeq, toSeq: end.seq, asset, bound: bound.toString() },
      });
      const startCp = asBundleCheckpoint(start);
      const endCp = asBundleCheckpoint(end);
      const workerJob: WorkerJob = {
        range: {
          agentId: req.agentId,
          asset,
          policy,
          policyVersion: row.version,
          bound: bound.toString(),
          entries,
          startZkHead: startCp.zkHead,
          stored: audit.zkRange(fromSeq, end.seq),
          n: params.n,
          depth: params.depth,
        },
        wasm: art.wasm,
        zkey: art.zkey,
      };
      const slot: { job: ProofJob; bundle?: Bundle; settled: Promise<void> } = {
        job,
        settled: Promise.resolve(),
      };
      jobs.set(id, slot);
      slot.settled = spawn(id, workerJob, (m) => {
        job.finishedAt = new Date().toISOString();
        if (m.type === "done" && m.endZkHead === endCp.zkHead) {
          const bundle: Bundle = {
            format: BUNDLE_FORMAT,
            setup: art.setup,
            statement: statementText(m.claim),
            claim: m.claim,
            policy,
            clusterAddress: checkpoints.clusterAddress() ?? "",
            checkpoints: { start: startCp, end: endCp },
            batches: m.batches.map(({ seconds: _s, ...b }) => b),
            verificationKey: art.vkey,
            transcript: art.transcript,
            createdAt: job.finishedAt,
          };
          slot.bundle = bundle;
          job.status = "done";
          job.progress.done = job.progress.batches;
          job.result = {
            setup: art.setup,
            statement: bundle.statement,
            spendCount: m.claim.spendCount,
            batches: m.batches.length,
            provingSeconds: m.batches.reduce((a, b) => a + b.seconds, 0),
          };
        } else {
          job.status = "failed";
          job.error =
            m.type === "error"
              ? {
                  code: m.code,
                  message: m.message,
                  ...(typeof m.details?.seq === "number" ? { seq: m.details.seq } : {}),
                }
              : {
                  code: "INTERNAL",
                  message: "the proved zk head differs from the signed checkpoint",
                };
        }
      });
      return job;
    },

    job(id) {
      const slot = jobs.get(id);
      if (!slot) throw new VaultError("PROOF_NOT_FOUND");
      return slot.job;
    },

    bundle(id) {
      const slot = jobs.get(id);
      if (!slot) throw new VaultError("PROOF_NOT_FOUND");
      if (!slot.bundle) throw new VaultError("CONFLICT", `the proof is ${slot.job.status}`);
      return slot.bundle;
    },

    verificationKey() {
      const art = artifacts();
      return art ? { verificationKey: art.vkey, transcript: art.transcript } : undefined;
    },

    async wait(id) {
      const slot = jobs.get(id);
      if (!slot) throw new VaultError("PROOF_NOT_FOUND");
      await slot.settled;
      return slot.job;
    },

    async stop() {
      for (const w of workers) w.kill();
    },
  };
  return service;
}
