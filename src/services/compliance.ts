/**
 * The compliance-proof service (see README "Compliance proofs"): proof jobs, the prover
 * child process, bundles. A service, not zk domain code: it holds jobs and processes and
 * asks the checkpoint service for signed heads; the pure parts stay in src/zk.
 *
 * The vault keeps a Poseidon chain over every audit entry's fields beside the SHA-256 chain
 * (src/audit/commitment.ts, versioned: the circuit proves zk chain v2 entries only, from the
 * log's zk v2 start on); the cluster co-signs both heads in every checkpoint.
 * A proof request names an agent and a range; the range is widened to the nearest
 * cluster-signed checkpoints, the entries go to a child process that proves them in
 * batches of N (circuits/compliance.circom), and the result is a bundle that anyone can
 * verify with verifyBundle() (src/zk/bundle.ts) or plain `snarkjs groth16 verify`.
 * Jobs are durable (src/store/proof-jobs.ts): one prover process at a time proves them
 * in FIFO order; a job a stop left queued or proving is proved again on the next start
 * from its stored request (same checkpoints, same bound), or failed with
 * PROOF_NOT_RESUMABLE; the same request while a job for it is live returns that job.
 *
 * Replicas on one database share the jobs: a job is proved by the process that claims it
 * (queued → proving, src/store/proof-jobs.ts) and under a lease that process renews while
 * its prover runs. Another replica takes a proving job back only once its lease has lapsed
 * (the holder died), so no job is proved twice, and a renewal that finds the job cancelled
 * or taken over stops the prover. Replicas look for such jobs with their periodic recovery.
 */

import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { zkHeadOf } from "../audit/checkpoints.js";
import { assetKey } from "../audit/commitment.js";
import type { AuditLog, Checkpoint } from "../audit/types.js";
import { VaultError } from "../errors/index.js";
import { DAY_MS } from "../policy/evaluate.js";
import type { Policy } from "../policy/types.js";
import type { ProofJobRow, ProofJobStatus, ProofJobStore } from "../store/proof-jobs.js";
import type { VaultStore } from "../store/vault-store.js";
import {
  BUNDLE_FORMAT,
  type Bundle,
  type BundleCheckpoint,
  GENESIS_CHECKPOINT,
} from "../zk/bundle.js";
import { rangeBeforeZkV2 } from "../zk/prover.js";
import type { Artifacts } from "../zk/setup.js";
import { capOf, per24hOf, statementText } from "../zk/statement.js";
import type { WorkerJob, WorkerMessage } from "../zk/worker.js";
import type { CheckpointService } from "./checkpoints.js";
import { createProofSetup, type ProofSetupService, type ProofSetupState } from "./proof-setup.js";

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
  status: ProofJobStatus;
  agentId: string;
  fromSeq: number;
  toSeq: number;
  progress: { batches: number; done: number };
  createdAt: string;
  startedAt?: string;
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

/** What proving a job needs, fixed when it was accepted (the `request` column). */
interface StoredRequest {
  asked: ProofRequest;
  asset: string;
  bound: string;
  policy: Policy;
  policyVersion: number;
  fromSeq: number;
  toSeq: number;
  start: BundleCheckpoint;
  end: BundleCheckpoint;
}

export interface ComplianceService {
  /** Validates the request, fixes the checkpoints and queues it; returns the job (or the live one for the same request). */
  request(req: ProofRequest, actor: string): Promise<ProofJob>;
  job(id: string): Promise<ProofJob>;
  /** Newest first. */
  list(filter: { agentId?: string; status?: ProofJobStatus; limit: number }): Promise<ProofJob[]>;
  bundle(id: string): Promise<Bundle>;
  /** Cancels a queued job or kills its running prover; idempotent; PROOF_FINISHED when done or failed. */
  cancel(id: string, actor: string): Promise<ProofJob>;
  /** The verification key, its SHA-256, the setup description and transcript; undefined when not set up. */
  verificationKey():
    | {
        verificationKey: unknown;
        verificationKeySha256: string;
        setup: unknown;
        transcript: unknown;
      }
    | undefined;
  /** The circuit setup: ready, in progress (with a phase and percentage), unavailable or failed. */
  setup(): ProofSetupState;
  /** Why the key cannot be served now (in progress, unavailable, failed); undefined when ready. */
  keyRefusal(): VaultError | undefined;
  /**
   * Queues what no live prover holds: jobs queued by any replica, and proving jobs whose
   * lease lapsed (replicas call it periodically; the start does it once).
   */
  recover(): Promise<void>;
  /** Resolves when the job settles here (tests, CLI). */
  wait(id: string): Promise<ProofJob>;
  /** The prover process now (tests, metrics): at most one at a time. */
  prover(): {
    running: { jobId: string; pid: number | undefined } | undefined;
    maxRunning: number;
    queued: string[];
  };
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

const parse = <T>(s: string | null): T | undefined =>
  s === null ? undefined : (JSON.parse(s) as T);

function jobOf(row: ProofJobRow): ProofJob {
  const error = parse<ProofJob["error"]>(row.error);
  const result = parse<ProofJob["result"]>(row.result);
  return {
    id: row.id,
    status: row.status,
    agentId: row.agent_id,
    fromSeq: row.from_seq,
    toSeq: row.to_seq,
    progress: { batches: row.progress_batches, done: row.progress_done },
    createdAt: row.created_at,
    ...(row.started_at ? { startedAt: row.started_at } : {}),
    ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
    ...(error ? { error } : {}),
    ...(result ? { result } : {}),
  };
}

const FINAL: ReadonlySet<ProofJobStatus> = new Set(["done", "failed", "cancelled"]);
const UNFINISHED: readonly ProofJobStatus[] = ["queued", "proving"];

export async function createComplianceService(deps: {
  store: VaultStore;
  jobs: ProofJobStore;
  audit: AuditLog;
  checkpoints: CheckpointService;
  params: { n: number; depth: number; system?: "groth16" | "plonk"; buildRoot?: string };
  /** The circuit setup (src/services/proof-setup.ts); default: load what is built, build nothing. */
  setup?: ProofSetupService;
  log?: (line: string) => void;
  /**
   * Other processes share the jobs (PostgreSQL replicas): at start a proving job is taken
   * back only once its lease lapsed. Without it this process is the only one, and a proving
   * job was left by its own stop.
   */
  replicas?: boolean;
  /** How long a claim holds without renewal (renewed every third of it); default 30 s. */
  leaseMs?: number;
}): Promise<ComplianceService> {
  const { store, jobs, audit, checkpoints, params } = deps;
  const setup =
    deps.setup ?? createProofSetup({ params, mode: "off", ...(deps.log ? { log: deps.log } : {}) });
  /** FIFO of queued job ids; `running` is the one prover child. */
  const queue: string[] = [];
  let running:
    | { id: string; child: ChildProcess; exited: Promise<void>; cancelled: boolean }
    | undefined;
  /** Prover children alive now, and the most ever alive at once (tests observe it). */
  let alive = 0;
  let maxRunning = 0;
  let stopping = false;
  const waiters = new Map<string, Array<() => void>>();
  /** Requests being validated, by dedup key: a second one waits for the first's job. */
  const pending = new Map<string, Promise<ProofJob>>();
  const artifacts = (): Artifacts | undefined => setup.artifacts();

  const now = () => new Date().toISOString();
  /** This process as a lease holder (src/store/proof-jobs.ts). */
  const owner = randomBytes(8).toString("hex");
  const leaseMs = deps.leaseMs ?? 30_000;

  const row = async (id: string): Promise<ProofJobRow> => {
    const r = await jobs.get(id);
    if (!r) throw new VaultError("PROOF_NOT_FOUND");
    return r;
  };

  // A job's writes are chained, so they land in the order made (a late progress report can
  // never overwrite "done" on a database that runs statements on several connections).
  // Each write names the statuses it may leave (`from`): a job cancelled or finished by
  // another path meanwhile keeps its outcome, and the write reports false.
  const writes = new Map<string, Promise<unknown>>();
  const save = (
    r: ProofJobRow,
    from: readonly ProofJobStatus[],
    bundle?: Bundle,
    /** This process's claim must still hold (a prover's progress and outcome). */
    mine?: string,
  ): Promise<boolean> => {
    // A copy: the row may change again before an earlier write lets this one run.
    const written = { ...r, ...(bundle ? { bundle: JSON.stringify(bundle) } : {}) };
    const write = (writes.get(r.id) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => jobs.update(written, from, mine));
    writes.set(r.id, write);
    const forget = () => {
      if (writes.get(r.id) === write) writes.delete(r.id);
    };
    // Both branches handled: the caller gets the rejection, nothing is left unhandled.
    write.then(forget, forget);
    return write;
  };

  const settle = (id: string) => {
    for (const w of waiters.get(id) ?? []) w();
    waiters.delete(id);
  };

  const fail = async (
    r: ProofJobRow,
    error: NonNullable<ProofJob["error"]>,
    from: readonly ProofJobStatus[] = UNFINISHED,
    mine?: string,
  ) => {
    r.status = "failed";
    r.error = JSON.stringify(error);
    r.finished_at = now();
    await save(r, from, undefined, mine);
    settle(r.id);
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
    const head = (await audit.head()).seq;
    if (toSeq > head)
      throw new VaultError("VALIDATION_FAILED", `toSeq is past the log's head (${head})`, {
        field: "toSeq",
      });
    const signed = async () =>
      (await audit.checkpoints.list()).filter((cp) => zkHeadOf(cp) !== undefined);
    let cps = await signed();
    if (!cps.some((cp) => cp.seq >= toSeq)) {
      // No checkpoint now (no quorum): the range is refused below if none covers it.
      await checkpoints
        .checkpoint()
        .catch((err: unknown) => deps.log?.(`checkpoint for a proof: ${(err as Error).message}`));
      cps = await signed();
    }
    const start = [...cps].reverse().find((cp) => cp.seq <= fromSeq - 1);
    // The newest checkpoint may stop just short of its own "checkpoint.signed" entry.
    const end = cps.find((cp) => cp.seq >= toSeq) ?? cps.at(-1);
    if (!end || end.seq < fromSeq || end.seq <= (start?.seq ?? 0)) {
      throw new VaultError("CONFLICT", "no cluster-signed checkpoint covers the range yet");
    }
    return { start, end };
  }

  /**
   * Starts the next queued job when no prover runs. One pass at a time: a call made while a
   * pass runs asks for another once it ends.
   */
  let pumping = false;
  let pumpAgain = false;
  function pump(): void {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    void (async () => {
      try {
        do {
          pumpAgain = false;
          if (await pumpOnce()) pumpAgain = true;
        } while (pumpAgain);
      } catch (err) {
        // A job whose outcome could not be written stays queued (pumpOnce put it back);
        // the next pump (a request, a prover's exit, the setup settling) tries again.
        deps.log?.(`proof queue: ${(err as Error).message}`);
      } finally {
        pumping = false;
      }
    })();
  }

  /** True when the job taken was settled without a prover (the next one may start). */
  async function pumpOnce(): Promise<boolean> {
    // While the circuit is being set up, jobs wait in the queue; settling pumps again.
    if (stopping || running || setup.status().state === "in-progress") return false;
    const id = queue[0];
    if (id === undefined) return false;
    const r = await jobs.get(id);
    // Cancelled while it was read: cancel took it off the queue already.
    if (queue[0] !== id) return true;
    if (r?.status !== "queued") {
      queue.shift();
      return true;
    }
    return startOrSettle(id, r);
  }

  /**
   * Takes the job off the queue and fails it; on a write error it goes back (still queued,
   * the next pump tries again).
   */
  async function failQueued(id: string, r: ProofJobRow, error: NonNullable<ProofJob["error"]>) {
    queue.shift();
    try {
      // Only while still queued: a replica that claimed it meanwhile may be proving it.
      await fail(r, error, ["queued"]);
    } catch (err) {
      queue.unshift(id);
      throw err;
    }
  }

  /**
   * Fails the job when it cannot be proved here, else starts its prover (false). The job
   * stays first in the queue while its entries are read, so a cancel meanwhile finds it
   * there (and takes it off: then nothing starts).
   */
  async function startOrSettle(id: string, r: ProofJobRow): Promise<boolean> {
    const art = artifacts();
    if (!art) {
      const now = setup.status();
      await failQueued(
        id,
        r,
        now.state === "failed"
          ? { code: "PROOF_SETUP_FAILED", message: `the circuit setup failed: ${now.message}` }
          : now.state === "unavailable" && now.constraints !== undefined
            ? {
                code: "PROOF_UNAVAILABLE",
                message: `compliance proofs are not set up here: ${now.hint}`,
              }
            : {
                code: "PROOF_NOT_RESUMABLE",
                message: "compliance proofs are no longer set up here",
              },
      );
      return true;
    }
    const req = JSON.parse(r.request) as StoredRequest;
    const count = req.toSeq - req.fromSeq + 1;
    const entries = await audit.list(req.fromSeq, count);
    const head = (await audit.head()).seq;
    const held = entries.length === count && head >= req.toSeq;
    const zkV2Start = held ? await audit.zkV2Start() : 0;
    const stored = held ? await audit.zkRange(req.fromSeq, req.toSeq) : [];
    // Cancelled while those were read: cancel took it off the queue already.
    if (queue[0] !== id) return true;
    if (!held) {
      await failQueued(id, r, {
        code: "PROOF_NOT_RESUMABLE",
        message: "the audit log no longer holds the range",
      });
      return true;
    }
    const workerJob: WorkerJob = {
      range: {
        agentId: r.agent_id,
        asset: req.asset,
        policy: req.policy,
        policyVersion: req.policyVersion,
        bound: req.bound,
        entries,
        startZkHead: req.start.zkHead,
        zkV2Start,
        stored,
        n: params.n,
        depth: params.depth,
      },
      wasm: art.wasm,
      zkey: art.zkey,
      system: art.setup.system,
    };
    if (stopping) return false;
    const startedAt = now();
    if (!(await jobs.claim(id, owner, startedAt, Date.now() + leaseMs))) {
      // Cancelled, or claimed by another replica: not this process's to prove.
      if (queue[0] === id) queue.shift();
      return true;
    }
    if (stopping) return false;
    // Cancelled here while it was claimed: cancel took it off the queue and wrote "cancelled".
    if (queue[0] !== id) return true;
    queue.shift();
    r.status = "proving";
    r.started_at = startedAt;
    r.progress_done = 0;
    // From here to `running` nothing waits, so a cancel finds the job in the queue or running.
    let child: ChildProcess;
    try {
      child = startWorker(workerJob);
    } catch (err) {
      // Not started: the claim is given back, so this or another process can try again.
      await jobs.takeBack(id, Number.MAX_SAFE_INTEGER).catch(() => undefined);
      queue.unshift(id);
      throw err;
    }
    let exitedResolve = () => {};
    const exited = new Promise<void>((resolve) => {
      exitedResolve = resolve;
    });
    const slot = { id, child, exited, cancelled: false };
    running = slot;
    alive += 1;
    maxRunning = Math.max(maxRunning, alive);
    let finished = false;
    let renewed = Date.now();
    const giveUp = () => {
      if (finished || slot.cancelled) return;
      slot.cancelled = true;
      child.kill("SIGKILL");
      settle(id);
    };
    const beat = setInterval(
      () => {
        const at = Date.now();
        jobs.renew(id, owner, at + leaseMs).then(
          (mine) => {
            if (mine) renewed = at;
            // Cancelled or taken over elsewhere: whatever this prover found would be discarded.
            else giveUp();
          },
          (err: unknown) => {
            deps.log?.(`proof job ${id}: lease not renewed: ${(err as Error).message}`);
            // Replicas: past its lease another one may take the job; this prover stops first.
            if (deps.replicas && Date.now() - renewed >= leaseMs) giveUp();
          },
        );
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    beat.unref();
    const finish = (m: WorkerMessage) => {
      if (finished) return;
      finished = true;
      if (child.exitCode === null && child.signalCode === null) child.kill();
      // A stop leaves the row as it is (proving): the next start proves it again.
      if (stopping || slot.cancelled) return;
      complete(r, req, art, m).catch((err: unknown) =>
        deps.log?.(`proof job ${r.id}: ${(err as Error).message}`),
      );
    };
    child.on("message", (m: WorkerMessage) => {
      if (m.type === "progress") {
        if (finished || stopping || slot.cancelled) return;
        r.progress_batches = m.total;
        r.progress_done = m.done;
        save(r, ["proving"], undefined, owner).catch((err: unknown) =>
          deps.log?.(`proof job ${r.id}: progress not saved: ${(err as Error).message}`),
        );
      } else finish(m);
    });
    child.on("error", (err) =>
      finish({ type: "error", code: "INTERNAL", message: String(err?.message ?? err) }),
    );
    child.on("exit", () => {
      clearInterval(beat);
      finish({ type: "error", code: "INTERNAL", message: "the prover process stopped" });
      alive -= 1;
      if (running === slot) running = undefined;
      exitedResolve();
      pump();
    });
    return false;
  }

  async function complete(
    r: ProofJobRow,
    req: StoredRequest,
    art: Artifacts,
    m: WorkerMessage,
  ): Promise<void> {
    r.finished_at = now();
    if (m.type === "done" && m.endZkHead === req.end.zkHead) {
      const bundle: Bundle = {
        format: BUNDLE_FORMAT,
        setup: art.setup,
        statement: statementText(m.claim),
        claim: m.claim,
        policy: req.policy,
        clusterAddress: (await checkpoints.clusterAddress()) ?? "",
        checkpoints: { start: req.start, end: req.end },
        batches: m.batches.map(({ seconds: _s, ...b }) => b),
        verificationKey: art.vkey,
        transcript: art.transcript,
        createdAt: r.finished_at,
      };
      r.status = "done";
      r.progress_done = r.progress_batches;
      r.result = JSON.stringify({
        setup: art.setup,
        statement: bundle.statement,
        spendCount: m.claim.spendCount,
        batches: m.batches.length,
        provingSeconds: m.batches.reduce((a, b) => a + b.seconds, 0),
      });
      await save(r, ["proving"], bundle, owner);
      settle(r.id);
    } else {
      await fail(
        r,
        m.type === "error"
          ? {
              code: m.code,
              message: m.message,
              ...(typeof m.details?.seq === "number" ? { seq: m.details.seq } : {}),
            }
          : { code: "INTERNAL", message: "the proved zk head differs from the signed checkpoint" },
        ["proving"],
        owner,
      );
    }
  }

  async function accept(req: ProofRequest, asset: string, key: string, actor: string) {
    const refusal = setup.refusal({ queueing: true });
    if (refusal) throw refusal;
    const inForce = await store.policy(req.agentId);
    if (!inForce) throw new VaultError("CONFLICT", "the agent has no policy");
    const { policy } = inForce;
    const { start, end } = await bounds(req.fromSeq, req.toSeq);
    const fromSeq = (start?.seq ?? 0) + 1;
    // Widened to the checkpoint before: that one must not precede the zk v2 start either.
    const zkV2Start = await audit.zkV2Start();
    if (fromSeq < zkV2Start) throw rangeBeforeZkV2(fromSeq, zkV2Start);
    const entries = await audit.list(fromSeq, end.seq - fromSeq + 1);
    let bound: bigint;
    if (req.bound !== undefined) {
      bound = BigInt(req.bound);
    } else {
      const [first, last] = [entries[0], entries.at(-1)];
      if (!first || !last) throw new VaultError("VALIDATION_FAILED", "the range has no entries");
      const span = Date.parse(last.ts) - Date.parse(first.ts);
      bound = per24hOf(policy, asset) * BigInt(Math.floor(span / DAY_MS) + 1);
      if (bound >= 1n << 128n) bound = (1n << 128n) - 1n;
    }
    const id = `prf_${randomBytes(9).toString("base64url")}`;
    await audit.append({
      type: "proof.requested",
      agentId: req.agentId,
      actor,
      data: { proofId: id, fromSeq, toSeq: end.seq, asset, bound: bound.toString() },
    });
    const stored: StoredRequest = {
      asked: req,
      asset,
      bound: bound.toString(),
      policy,
      policyVersion: inForce.version,
      fromSeq,
      toSeq: end.seq,
      start: asBundleCheckpoint(start),
      end: asBundleCheckpoint(end),
    };
    await jobs.put({
      id,
      agent_id: req.agentId,
      dedup_key: key,
      status: "queued",
      request: JSON.stringify(stored),
      from_seq: fromSeq,
      to_seq: end.seq,
      progress_done: 0,
      progress_batches: Math.ceil(entries.length / params.n),
      created_at: now(),
    });
    queue.push(id);
    pump();
    return jobOf(await row(id));
  }

  /**
   * Queues, oldest first, what no live prover holds: queued jobs (a stop, or another
   * replica, left them) and proving jobs whose prover is gone (alone: every one, a stop
   * left it; replicas: those whose lease lapsed).
   */
  async function adopt(): Promise<void> {
    // A replica that cannot prove (no circuit yet, or its setup failed) leaves the jobs to
    // those that can; alone, it fails them as unprovable (below, in startOrSettle).
    if (deps.replicas && !artifacts()) return;
    for (const r of await jobs.unfinished()) {
      if (queue.includes(r.id) || running?.id === r.id) continue;
      let ok = false;
      try {
        const req = JSON.parse(r.request) as StoredRequest;
        ok = typeof req.start?.zkHead === "string" && typeof req.end?.zkHead === "string";
      } catch {}
      if (!ok) {
        await fail(r, {
          code: "PROOF_NOT_RESUMABLE",
          message: "the stored request cannot be read",
        });
        continue;
      }
      if (r.status === "proving") {
        const lapsedBefore = deps.replicas ? Date.now() : Number.MAX_SAFE_INTEGER;
        if (!(await jobs.takeBack(r.id, lapsedBefore))) continue;
        deps.log?.(`proof job ${r.id}: its prover is gone; queued again`);
      }
      queue.push(r.id);
    }
  }

  await adopt();
  // At once when the setup is settled, else when it settles (ready: prove; failed: fail).
  // Replicas adopt the shared jobs only once they can prove them.
  setup.onSettled(() =>
    queueMicrotask(() => {
      if (!deps.replicas) return pump();
      adopt().then(pump, (err: unknown) =>
        deps.log?.(`proof jobs not adopted: ${(err as Error).message}`),
      );
    }),
  );

  const service: ComplianceService = {
    async request(req, actor) {
      // Never provable, whatever the setup's state: the circuit states v2 entries only.
      const zkV2Start = await audit.zkV2Start();
      if (Number.isSafeInteger(req.fromSeq) && req.fromSeq >= 1 && req.fromSeq < zkV2Start)
        throw rangeBeforeZkV2(req.fromSeq, zkV2Start);
      const refusal = setup.refusal({ queueing: true });
      if (refusal) throw refusal;
      if (!(await store.agent(req.agentId))) throw new VaultError("AGENT_NOT_FOUND");
      const policy = (await store.policy(req.agentId))?.policy;
      if (!policy) throw new VaultError("CONFLICT", "the agent has no policy");
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
      if (
        req.bound !== undefined &&
        (!/^[0-9]{1,39}$/.test(req.bound) || BigInt(req.bound) >= 1n << 128n)
      ) {
        throw new VaultError("VALIDATION_FAILED", "bound must be base units below 2^128", {
          field: "bound",
        });
      }
      const bound = req.bound === undefined ? null : BigInt(req.bound).toString();
      const key = JSON.stringify([req.agentId, req.fromSeq, req.toSeq, asset, bound]);
      // Checked before and after the read: an accept may finish while it is on its way.
      const before = pending.get(key);
      if (before) return before;
      const live = await jobs.live(key);
      if (live) return jobOf(live);
      const inFlight = pending.get(key);
      if (inFlight) return inFlight;
      const accepted = accept(req, asset, key, actor);
      pending.set(key, accepted);
      try {
        return await accepted;
      } finally {
        pending.delete(key);
      }
    },

    async job(id) {
      return jobOf(await row(id));
    },

    async list(filter) {
      return (await jobs.list(filter)).map(jobOf);
    },

    async bundle(id) {
      const r = await row(id);
      const text = r.status === "done" ? await jobs.bundle(id) : undefined;
      if (!text) throw new VaultError("CONFLICT", `the proof is ${r.status}`);
      return JSON.parse(text) as Bundle;
    },

    async cancel(id, actor) {
      const r = await row(id);
      if (r.status === "cancelled") return jobOf(r);
      if (r.status === "done" || r.status === "failed")
        throw new VaultError("PROOF_FINISHED", `the proof is already ${r.status}`);
      const idx = queue.indexOf(id);
      if (idx >= 0) queue.splice(idx, 1);
      const slot = running?.id === id ? running : undefined;
      if (slot) slot.cancelled = true;
      r.status = "cancelled";
      r.finished_at = now();
      if (!(await save(r, UNFINISHED))) {
        // Finished or cancelled while this cancel was on its way: that outcome stands.
        const now = await row(id);
        if (now.status === "cancelled") return jobOf(now);
        throw new VaultError("PROOF_FINISHED", `the proof is already ${now.status}`);
      }
      await audit.append({
        type: "proof.cancelled",
        agentId: r.agent_id,
        actor,
        data: { proofId: id },
      });
      if (slot) {
        slot.child.kill("SIGKILL");
        await slot.exited;
      }
      settle(id);
      return jobOf(await row(id));
    },

    verificationKey() {
      const art = artifacts();
      return art
        ? {
            verificationKey: art.vkey,
            verificationKeySha256: art.transcript.vkeySha256,
            setup: art.setup,
            transcript: art.transcript,
          }
        : undefined;
    },

    setup: () => setup.status(),

    keyRefusal: () => setup.refusal({ queueing: false }),

    async wait(id) {
      // Registered before the read, so a settle between the two is not missed.
      let resolveSettled = () => {};
      const settled = new Promise<void>((resolve) => {
        resolveSettled = resolve;
      });
      waiters.set(id, [...(waiters.get(id) ?? []), resolveSettled]);
      const forget = () => {
        const left = (waiters.get(id) ?? []).filter((w) => w !== resolveSettled);
        if (left.length > 0) waiters.set(id, left);
        else waiters.delete(id);
      };
      let stopped = false;
      void settled.then(() => {
        stopped = true;
      });
      for (;;) {
        const r = await row(id).catch((err: unknown) => {
          forget();
          throw err;
        });
        if (stopped || FINAL.has(r.status)) {
          forget();
          return jobOf(r);
        }
        // Another replica may prove it: the row is read again every second as well.
        await Promise.race([settled, new Promise((ok) => setTimeout(ok, 1000).unref())]);
      }
    },

    async recover() {
      await adopt();
      pump();
    },

    prover() {
      return {
        running: running ? { jobId: running.id, pid: running.child.pid } : undefined,
        maxRunning,
        queued: [...queue],
      };
    },

    async stop() {
      stopping = true;
      await setup.stop();
      const slot = running;
      if (slot) {
        slot.child.kill("SIGKILL");
        await slot.exited;
      }
      for (const id of [...waiters.keys()]) settle(id);
    },
  };
  return service;
}
