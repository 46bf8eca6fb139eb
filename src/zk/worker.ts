/**
 * Proving runs here, in a child process, so the HTTP server never stalls (a child
 * process rather than a worker thread: snarkjs spreads the proof over its own worker
 * threads, which it can only start from a main thread). The vault
 * posts the range (entries, policy, parameters) and the artefact paths; the worker
 * recomputes the commitments, refuses a policy-violating log (naming the entry), proves
 * each batch and posts progress, then the result.
 */
import { isVaultError } from "../errors/index.js";
import { prepareRange, proveBatches, type RangeInput } from "./prover.js";
import type { ProofSystem } from "./setup.js";

export interface WorkerJob {
  range: Omit<RangeInput, "bound"> & { bound: string };
  wasm: string;
  zkey: string;
  system: ProofSystem;
}

export type WorkerMessage =
  | { type: "progress"; done: number; total: number }
  | {
      type: "done";
      claim: ReturnType<typeof prepareRange>["claim"];
      endZkHead: string;
      batches: Awaited<ReturnType<typeof proveBatches>>;
    }
  | { type: "error"; code: string; message: string; details?: Record<string, unknown> };

async function run(job: WorkerJob): Promise<WorkerMessage> {
  try {
    const prepared = prepareRange({ ...job.range, bound: BigInt(job.range.bound) });
    send({ type: "progress", done: 0, total: prepared.batches.length });
    const batches = await proveBatches(prepared, job, (done, total) =>
      send({ type: "progress", done, total }),
    );
    return { type: "done", claim: prepared.claim, endZkHead: prepared.endZkHead, batches };
  } catch (err) {
    if (isVaultError(err)) {
      return {
        type: "error",
        code: err.code,
        message: err.message,
        ...(err.details ? { details: err.details as Record<string, unknown> } : {}),
      };
    }
    return { type: "error", code: "INTERNAL", message: String((err as Error)?.message ?? err) };
  }
}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, undefined, {}, () => resolve());
    else resolve();
  });
}

if (process.send) {
  process.once("message", async (job: WorkerJob) => {
    await send(await run(job));
    process.exit(0);
  });
}
