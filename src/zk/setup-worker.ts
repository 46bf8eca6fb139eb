/**
 * The circuit setup a vault runs by itself on first start (src/services/proof-setup.ts):
 * a child process at the lowest CPU priority, so signing keeps the cores. It builds the
 * artefacts with ensureArtifacts (in a scratch folder moved in place at the end, so a
 * stop mid-way leaves nothing that loads) and posts each step as it starts.
 *
 * Without a ceremony ptau it only builds what the shipped development ptau can hold:
 * once compiled, a circuit too large for it stops the build before phase 1 (generating
 * a big ptau locally takes hours) and the parent is told the power it needs.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { basename, dirname } from "node:path";
import {
  artifactDir,
  DEFAULT_BUILD_ROOT,
  ensureArtifacts,
  type ProofSystem,
  releaseCurve,
  type SetupPhase,
  shippedDevelopmentPtau,
} from "./setup.js";

export interface SetupWorkerJob {
  n: number;
  depth: number;
  system?: ProofSystem;
  ptau?: string;
  buildRoot?: string;
}

export type SetupWorkerMessage =
  | { type: "started"; pid: number; priority: number }
  | { type: "phase"; phase: SetupPhase; constraints?: number; power?: number }
  | { type: "log"; line: string }
  | { type: "done"; dir: string; constraints: number; seconds: number }
  /** The circuit needs a ptau of 2^power and only the shipped one (2^shippedPower) is at hand. */
  | { type: "too-large"; constraints: number; power: number; shippedPower: number }
  | { type: "error"; message: string };

/** The lowest priority a process can take (nice 19). */
export const SETUP_PRIORITY = 19;

class TooLarge extends Error {
  constructor(
    readonly constraints: number,
    readonly power: number,
    readonly shippedPower: number,
  ) {
    super(`the circuit needs a 2^${power} ptau`);
  }
}

/** Scratch folders this process may have left (setup.ts names them after the pid). */
function removeScratch(job: SetupWorkerJob): void {
  const dir = artifactDir(job, job.buildRoot);
  for (const path of [`${dir}.tmp-${process.pid}`, `${DEFAULT_BUILD_ROOT}/.compile-${process.pid}`])
    rmSync(path, { recursive: true, force: true });
}

/**
 * Removes scratch folders of setups whose process is gone (a vault stopped mid-setup).
 * Called by the parent before a new setup starts.
 */
export function removeStaleScratch(job: SetupWorkerJob): void {
  const dir = artifactDir(job, job.buildRoot);
  const stale = (name: string, prefix: string) => {
    const pid = Number(name.slice(prefix.length));
    if (!name.startsWith(prefix) || !Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return false; // alive: maybe another setup of the same folder
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "ESRCH";
    }
  };
  for (const [folder, prefix] of [
    [dirname(dir), `${basename(dir)}.tmp-`],
    [DEFAULT_BUILD_ROOT, ".compile-"],
  ] as const) {
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      if (stale(name, prefix)) rmSync(`${folder}/${name}`, { recursive: true, force: true });
    }
  }
}

async function run(job: SetupWorkerJob): Promise<SetupWorkerMessage> {
  const started = Date.now();
  try {
    const art = await ensureArtifacts({
      n: job.n,
      depth: job.depth,
      ...(job.system ? { system: job.system } : {}),
      ...(job.ptau ? { ptau: job.ptau } : {}),
      ...(job.buildRoot ? { buildRoot: job.buildRoot } : {}),
      log: (line) => void send({ type: "log", line }),
      onPhase: (phase, size) => {
        if (phase === "sized" && size && !job.ptau && !shippedDevelopmentPtau(size.power)) {
          const shipped = shippedDevelopmentPtau(1);
          throw new TooLarge(size.constraints, size.power, shipped?.power ?? 0);
        }
        void send({ type: "phase", phase, ...(size ?? {}) });
      },
    });
    return {
      type: "done",
      dir: art.dir,
      constraints: art.transcript.circuit.constraints,
      seconds: (Date.now() - started) / 1000,
    };
  } catch (err) {
    removeScratch(job);
    if (err instanceof TooLarge) {
      return {
        type: "too-large",
        constraints: err.constraints,
        power: err.power,
        shippedPower: err.shippedPower,
      };
    }
    return { type: "error", message: String((err as Error)?.message ?? err) };
  } finally {
    await releaseCurve().catch(() => {});
  }
}

function send(message: SetupWorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, undefined, {}, () => resolve());
    else resolve();
  });
}

if (process.send) {
  // Lowest priority before any work: threads started later (snarkjs's workers, the
  // circom2 compiler process) inherit it.
  try {
    setPriority(SETUP_PRIORITY);
  } catch {
    // not permitted here: the setup still runs, at normal priority
  }
  // The vault went away (a crash): stop rather than build for no one.
  process.once("disconnect", () => process.exit(1));
  void send({ type: "started", pid: process.pid, priority: getPriority() });
  process.once("message", async (job: SetupWorkerJob) => {
    await send(await run(job));
    process.exit(0);
  });
}
