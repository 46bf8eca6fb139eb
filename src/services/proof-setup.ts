/**
 * The compliance circuit's setup as the vault sees it: ready, being set up in the
 * background, unavailable (with what to run), or failed.
 *
 * On start, when the configured size (VAULT_ZK_BATCH, VAULT_ZK_DEPTH) has no artefacts
 * and VAULT_ZK_SETUP is "auto" (the default), the vault builds them itself in a child
 * process at nice 19 (src/zk/setup-worker.ts): signing and every other route keep
 * working, proof requests queue and are proved once it is done. Without VAULT_ZK_PTAU
 * only a circuit that fits the shipped development ptau is set up (compile and phase 2:
 * about a minute at the default size); a larger one is refused after compiling, and the
 * answer is remembered for that circuit source so later starts say so at once. A setup
 * that fails, or a vault stopped mid-setup, leaves no artefacts (setup.ts builds in a
 * scratch folder) and is tried again at the next start.
 */
import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VaultError } from "../errors/index.js";
import {
  type Artifacts,
  artifactDir,
  DEFAULT_BUILD_ROOT,
  loadArtifacts,
  type ProofSystem,
  type SetupPhase,
  shippedDevelopmentPtau,
  sourceHash,
  systemOf,
} from "../zk/setup.js";
import {
  removeStaleScratch,
  type SetupWorkerJob,
  type SetupWorkerMessage,
} from "../zk/setup-worker.js";

/** The phases a client sees. */
export type PublicSetupPhase = "starting" | "compile" | "phase1" | "phase2" | "export";

export type ProofSetupState =
  | { state: "ready"; n: number; depth: number; setup: string; constraints: number }
  | {
      state: "in-progress";
      n: number;
      depth: number;
      phase: PublicSetupPhase;
      /** Estimated from the steps started so far, weighted by their measured share. */
      percent: number;
      startedAt: string;
      pid: number | undefined;
    }
  | {
      state: "unavailable";
      n: number;
      depth: number;
      hint: string;
      constraints?: number;
      ptauPower?: number;
    }
  | { state: "failed"; n: number; depth: number; message: string; hint: string };

export interface ProofSetupService {
  status(): ProofSetupState;
  /** Loaded artefacts, once ready. */
  artifacts(): Artifacts | undefined;
  /**
   * The refusal a proof route answers with now, or undefined when it may go on. New
   * proof jobs are accepted while the setup runs (`queueing`), the key is not.
   */
  refusal(opts: { queueing: boolean }): VaultError | undefined;
  /** Calls `fn` once the setup leaves "in-progress" (at once when it is not running). */
  onSettled(fn: (state: ProofSetupState) => void): void;
  /** Resolves with the state once the setup is no longer in progress. */
  settled(): Promise<ProofSetupState>;
  /** Kills a running setup (its scratch folder is removed at the next start). */
  stop(): Promise<void>;
}

export interface ProofSetupOptions {
  params: { n: number; depth: number; system?: ProofSystem; ptau?: string; buildRoot?: string };
  /** "auto": set up in the background when needed; "off": only load what is built. */
  mode: "auto" | "off";
  log?: (line: string) => void;
}

/**
 * The share of the work done when each step starts, in percent: measured at the default
 * size on the shipped ptau (104 s at nice 19 on the shared 2 cores: compile 26 s, the
 * phase-2 key 62 s, the contribution 7 s, then a beacon of 7 s that the setup no longer
 * makes, where it now verifies the key it made; the export under 1 s). The
 * percentage moves only when a step starts: it never runs ahead of the work.
 */
const STEP_START: Record<SetupPhase, number> = {
  compile: 0,
  sized: 25,
  phase1: 25,
  zkey: 25,
  contribute: 85,
  export: 99,
};

const PUBLIC_PHASE: Record<SetupPhase, PublicSetupPhase> = {
  compile: "compile",
  sized: "compile",
  phase1: "phase1",
  zkey: "phase2",
  contribute: "phase2",
  export: "export",
};

const SETUP_COMMAND = "npm run circuits:setup";

/** The command that builds the configured size (the same env reaches it). */
function setupCommand(p: ProofSetupOptions["params"], ptau = p.ptau): string {
  const system = systemOf(p) === "plonk" ? " --system=plonk" : "";
  return `${SETUP_COMMAND} -- --n=${p.n} --depth=${p.depth}${system}${ptau ? ` --ptau=${ptau}` : ""}`;
}

/** Remembers, per circuit source, a size too large for the shipped development ptau. */
function sizeFile(p: ProofSetupOptions["params"]): string {
  return `${artifactDir(p, p.buildRoot ?? DEFAULT_BUILD_ROOT)}.size.json`;
}

interface SizeRecord {
  sourceSha256: string;
  constraints: number;
  power: number;
  shippedPower: number;
}

function readSize(p: ProofSetupOptions["params"]): SizeRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(sizeFile(p), "utf8")) as SizeRecord;
    return rec.sourceSha256 === sourceHash(p) ? rec : undefined;
  } catch {
    return undefined;
  }
}

function tooLargeHint(p: ProofSetupOptions["params"], rec: Omit<SizeRecord, "sourceSha256">) {
  return (
    `N=${p.n} depth=${p.depth} is ${rec.constraints.toLocaleString("en-US")} ${systemOf(p) === "plonk" ? "PLONK " : ""}constraints and needs a ` +
    `2^${rec.power} ptau, larger than the shipped development one (2^${rec.shippedPower}): run ` +
    `${setupCommand(p, `powersOfTau28_hez_final_${rec.power}.ptau`)} with a public ceremony file ` +
    "(or set VAULT_ZK_PTAU to it and restart), or choose a smaller VAULT_ZK_BATCH"
  );
}

/**
 * Artefacts of `size`, or undefined when missing, stale or unreadable (a broken transcript,
 * no circuits/ folder): a vault must start whatever the build folder holds.
 */
function tryLoad(
  size: { n: number; depth: number; system?: ProofSystem },
  root?: string,
): Artifacts | undefined {
  try {
    return loadArtifacts(size, root);
  } catch {
    return undefined;
  }
}

/** Sizes already built in the build folder (say, N=64 from before the default changed). */
function otherBuiltSizes(p: ProofSetupOptions["params"]): string[] {
  const root = p.buildRoot ?? DEFAULT_BUILD_ROOT;
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((name) => {
    const m = /^(plonk-)?n(\d+)-d(\d+)$/.exec(name);
    const system: ProofSystem = m?.[1] ? "plonk" : "groth16";
    const size = { n: Number(m?.[2]), depth: Number(m?.[3]), system };
    if (!m || (size.n === p.n && size.depth === p.depth && system === systemOf(p))) return [];
    const vars = `VAULT_ZK_BATCH=${size.n} VAULT_ZK_DEPTH=${size.depth}`;
    return tryLoad(size, root) ? [m[1] ? `${vars} VAULT_ZK_SYSTEM=plonk` : vars] : [];
  });
}

const tryShipped = (power: number) => {
  try {
    return shippedDevelopmentPtau(power);
  } catch {
    return undefined;
  }
};

const sha256File = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/**
 * The setup child process; from TypeScript sources (tests) it runs under tsx. It leads its
 * own process group, so a stop also ends the circom2 compiler it may be waiting on.
 */
function startSetupWorker(job: SetupWorkerJob): ChildProcess {
  const ts = import.meta.url.endsWith(".ts");
  const child = fork(
    fileURLToPath(new URL(ts ? "../zk/setup-worker.ts" : "../zk/setup-worker.js", import.meta.url)),
    [],
    {
      execArgv: ts ? ["--import", "tsx"] : [],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      detached: true,
    },
  );
  child.send(job);
  return child;
}

export function createProofSetup(opts: ProofSetupOptions): ProofSetupService {
  const { params, mode } = opts;
  const log = opts.log ?? (() => {});
  const size = { n: params.n, depth: params.depth, system: systemOf(params) };
  const label = `N=${params.n} depth=${params.depth}${size.system === "plonk" ? " PLONK" : ""}`;
  let state: ProofSetupState;
  let art: Artifacts | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  const listeners: Array<(s: ProofSetupState) => void> = [];

  const settle = (next: ProofSetupState) => {
    state = next;
    for (const fn of listeners.splice(0)) fn(next);
  };

  const ready = (a: Artifacts): ProofSetupState => ({
    state: "ready",
    ...size,
    setup: a.setup.setup,
    constraints: a.transcript.circuit.constraints,
  });

  art = tryLoad(size, params.buildRoot);
  const known = readSize(params);
  if (!art) {
    const built = otherBuiltSizes(params);
    if (built.length > 0)
      log(
        `compliance proofs: artefacts of other sizes are built (${built.join("; ")}): set those variables to use them`,
      );
  }
  if (art) {
    state = ready(art);
    log(
      `compliance proofs: ${label} ready (${art.setup.setup} setup, ${art.transcript.circuit.constraints} constraints)`,
    );
    if (params.ptau && existsSync(params.ptau)) {
      const built = (art.transcript as { phase1?: { ptauSha256?: string } }).phase1?.ptauSha256;
      let given: string | undefined;
      try {
        given = sha256File(params.ptau);
      } catch {}
      if (built !== given)
        log(
          `compliance proofs: the ${label} artefacts were not built from VAULT_ZK_PTAU; rebuild them with ${setupCommand(params)}`,
        );
    }
  } else if (mode === "off") {
    const hint = `run ${setupCommand(params)}`;
    state = { state: "unavailable", ...size, hint };
    log(`compliance proofs: not set up for ${label} (VAULT_ZK_SETUP=off): ${hint}`);
  } else if (params.ptau && !existsSync(params.ptau)) {
    const message = `VAULT_ZK_PTAU names ${params.ptau}, which does not exist`;
    const hint = `give the path of a public ceremony ptau and restart, or run ${setupCommand(params, "<ceremony.ptau>")}`;
    state = { state: "failed", ...size, message, hint };
    log(`compliance proofs: cannot set up ${label}: ${message}; ${hint}`);
  } else if (!params.ptau && known && !tryShipped(known.power)) {
    state = {
      state: "unavailable",
      ...size,
      hint: tooLargeHint(params, known),
      constraints: known.constraints,
      ptauPower: known.power,
    };
    log(`compliance proofs: unavailable: ${state.hint}`);
  } else {
    state = {
      state: "in-progress",
      ...size,
      phase: "starting",
      percent: 0,
      startedAt: new Date().toISOString(),
      pid: undefined,
    };
    start();
  }

  function start(): void {
    const job: SetupWorkerJob = {
      ...size,
      ...(params.ptau ? { ptau: params.ptau } : {}),
      ...(params.buildRoot ? { buildRoot: params.buildRoot } : {}),
    };
    try {
      removeStaleScratch(job);
      mkdirSync(params.buildRoot ?? DEFAULT_BUILD_ROOT, { recursive: true });
    } catch (err) {
      log(
        `compliance proofs: cannot prepare ${params.buildRoot ?? DEFAULT_BUILD_ROOT}: ${(err as Error).message}`,
      );
    }
    const started = Date.now();
    const from = params.ptau ? `the ceremony ptau ${params.ptau}` : "the shipped development ptau";
    log(
      `compliance proofs: no setup for ${label} yet; building it in the background from ${from} (nice 19). Signing works meanwhile; proof requests queue until it is done`,
    );
    const c = startSetupWorker(job);
    child = c;
    exited = new Promise((resolve) => c.once("exit", () => resolve()));
    const secs = () => Math.round((Date.now() - started) / 1000);
    let finished = false;
    const finish = (m: SetupWorkerMessage) => {
      if (finished) return;
      finished = true;
      child = undefined;
      if (stopping) return;
      if (m.type === "done") {
        art = tryLoad(size, params.buildRoot);
        if (art) {
          log(
            `compliance proofs: ${label} set up in ${secs()} s (${art.setup.setup} setup, ${m.constraints} constraints); queued proofs start now`,
          );
          settle(ready(art));
          return;
        }
        m = { type: "error", message: "the setup finished but its artefacts do not load" };
      }
      if (m.type === "too-large") {
        const rec = { constraints: m.constraints, power: m.power, shippedPower: m.shippedPower };
        try {
          writeFileSync(
            sizeFile(params),
            `${JSON.stringify({ sourceSha256: sourceHash(params), ...rec }, null, 2)}\n`,
          );
        } catch {
          // only a cache: the next start compiles again to find out
        }
        const hint = tooLargeHint(params, rec);
        log(`compliance proofs: unavailable: ${hint}`);
        settle({
          state: "unavailable",
          ...size,
          hint,
          constraints: m.constraints,
          ptauPower: m.power,
        });
        return;
      }
      const message = m.type === "error" ? m.message : "the setup process stopped";
      const hint = `the vault tries again at its next start; ${setupCommand(params)} shows the error`;
      log(`compliance proofs: setup of ${label} failed after ${secs()} s: ${message}; ${hint}`);
      settle({ state: "failed", ...size, message, hint });
    };
    c.on("message", (m: SetupWorkerMessage) => {
      if (stopping || state.state !== "in-progress") return;
      if (m.type === "started") {
        state = { ...state, pid: m.pid };
        log(`compliance proofs: setup process ${m.pid} at priority ${m.priority}`);
      } else if (m.type === "phase") {
        const percent = STEP_START[m.phase];
        state = { ...state, phase: PUBLIC_PHASE[m.phase], percent };
        const what = m.phase === "sized" ? `compiled: ${m.constraints} constraints` : m.phase;
        log(`compliance proofs: setup ${percent}% (${what}) after ${secs()} s`);
      } else if (m.type !== "log") {
        finish(m);
      }
    });
    c.on("error", (err) => finish({ type: "error", message: String(err?.message ?? err) }));
    c.on("exit", (code, signal) =>
      finish({
        type: "error",
        message: `the setup process exited (${signal ?? `code ${code}`}) before it finished`,
      }),
    );
  }

  const onSettled = (fn: (s: ProofSetupState) => void) => {
    if (state.state === "in-progress") listeners.push(fn);
    else fn(state);
  };

  return {
    status: () => state,
    artifacts: () => art,
    refusal({ queueing }) {
      const s = state;
      switch (s.state) {
        case "ready":
          return undefined;
        case "in-progress":
          return queueing
            ? undefined
            : new VaultError("PROOF_SETUP_IN_PROGRESS", undefined, {
                phase: s.phase,
                percent: s.percent,
                startedAt: s.startedAt,
                n: s.n,
                depth: s.depth,
              });
        case "unavailable":
          return new VaultError(
            "PROOF_UNAVAILABLE",
            `Compliance proofs are not set up here: ${s.hint}.`,
            { hint: s.hint, n: s.n, depth: s.depth },
          );
        case "failed":
          return new VaultError("PROOF_SETUP_FAILED", undefined, {
            reason: s.message,
            hint: s.hint,
            n: s.n,
            depth: s.depth,
          });
      }
    },
    onSettled,
    settled: () => new Promise((resolve) => onSettled(resolve)),
    async stop() {
      stopping = true;
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        try {
          if (c.pid === undefined) throw new Error("no pid");
          process.kill(-c.pid, "SIGKILL");
        } catch {
          c.kill("SIGKILL");
        }
      }
      await exited;
      listeners.splice(0);
    },
  };
}
