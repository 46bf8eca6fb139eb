/**
 * Build artefacts of the compliance circuit for one (batch size N, allowlist depth D):
 * r1cs + wasm (circom2, from circuits/compliance.circom), Groth16 proving key and
 * verification key (snarkjs), and the setup transcript shipped with the key.
 *
 * Phase 1 comes from a ptau file given by path (production: a public ceremony file such
 * as the Hermez/Polygon "powersOfTau28_hez_final_XX.ptau", already prepared for phase 2).
 * Without one the shipped development ptau (circuits/ptau/, 2^13) is used when the circuit
 * fits it, else one is generated locally (one contribution + a beacon): whoever made it
 * could forge proofs, so the key and every bundle are marked setup "development".
 * Phase 2 always gets one random contribution and a final beacon; both hashes go into
 * the transcript.
 *
 * Artefacts land in <buildRoot>/n<N>-d<D>/ and are reused while the circuit source and
 * the ptau are unchanged (circuits/build/ is gitignored).
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..").replace(
  /\/dist$/,
  "",
);
export const DEFAULT_BUILD_ROOT = join(REPO_ROOT, "circuits", "build");

/** The public signals, in the order snarkjs lists them. */
export const PUBLIC_SIGNALS = [
  "startHead",
  "endHead",
  "agentHash",
  "assetHash",
  "policyHash",
  "cap",
  "bound",
  "allowHash",
  "allowAny",
  "sumInCommit",
  "sumOutCommit",
  "spendCount",
] as const;

export type SetupKind = "development" | "ceremony";

export interface CircuitParams {
  /** Entries per batch proof. */
  n: number;
  /** Allowlist capacity: up to 2^depth recipients, checked per batch (1..8). */
  depth: number;
}

export interface Artifacts extends CircuitParams {
  dir: string;
  wasm: string;
  zkey: string;
  r1cs: string;
  vkeyPath: string;
  transcriptPath: string;
  setup: SetupKind;
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
  vkey: any;
  transcript: SetupTranscript;
}

export interface SetupTranscript {
  setup: SetupKind;
  circuit: {
    n: number;
    depth: number;
    constraints: number;
    sourceSha256: string;
    r1csSha256: string;
  };
  phase1: {
    ptau: string;
    ptauSha256: string;
    power: number;
    contributions?: Array<{ name: string }>;
    beacon?: { hash: string; iterationsExp: number };
  };
  phase2: {
    contributions: Array<{ name: string; hash: string }>;
    beacon: { name: string; hash: string; iterationsExp: number; contributionHash: string };
  };
  zkeySha256: string;
  vkeySha256: string;
  seconds: { compile: number; phase1: number; phase2: number };
  createdAt: string;
}

/**
 * snarkjs keeps a bn128 curve with worker threads alive after proving or verifying;
 * call this when done so the process can exit.
 */
export async function releaseCurve(): Promise<void> {
  const cached = (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null })
    .curve_bn128;
  if (cached) await cached.terminate();
}

export function artifactDir(params: CircuitParams, buildRoot = DEFAULT_BUILD_ROOT): string {
  return join(buildRoot, `n${params.n}-d${params.depth}`);
}

const sha256File = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** SHA-256 of the circuit source for `params`: artefacts built from other source are stale. */
export function sourceHash(params: CircuitParams): string {
  const source = readFileSync(join(REPO_ROOT, "circuits", "compliance.circom"), "utf8");
  return createHash("sha256")
    .update(`${source}\n${mainSource(params, ".")}`)
    .digest("hex");
}

function mainSource(params: CircuitParams, includeFrom: string): string {
  return `pragma circom 2.0.0;
include "${includeFrom}/compliance.circom";
component main {public [${PUBLIC_SIGNALS.join(", ")}]} = Compliance(${params.n}, ${params.depth});
`;
}

/** Loads built artefacts, or undefined when they are missing or stale. */
export function loadArtifacts(
  params: CircuitParams,
  buildRoot = DEFAULT_BUILD_ROOT,
): Artifacts | undefined {
  const dir = artifactDir(params, buildRoot);
  const files = {
    wasm: join(dir, "main_js", "main.wasm"),
    zkey: join(dir, "final.zkey"),
    r1cs: join(dir, "main.r1cs"),
    vkeyPath: join(dir, "verification_key.json"),
    transcriptPath: join(dir, "transcript.json"),
  };
  if (!Object.values(files).every((f) => existsSync(f))) return undefined;
  const transcript = JSON.parse(readFileSync(files.transcriptPath, "utf8")) as SetupTranscript;
  if (transcript.circuit.sourceSha256 !== sourceHash(params)) return undefined;
  const vkey = JSON.parse(readFileSync(files.vkeyPath, "utf8"));
  return { ...params, dir, ...files, setup: transcript.setup, vkey, transcript };
}

/** The steps of a build, in order ("sized": compiled, phase 1 not started; "phase1" only when a ptau is generated). */
export type SetupPhase =
  | "compile"
  | "sized"
  | "phase1"
  | "zkey"
  | "contribute"
  | "beacon"
  | "export";

export interface SetupOptions extends CircuitParams {
  /** A phase-2-prepared ptau file (public ceremony). Absent: a development ptau. */
  ptau?: string;
  buildRoot?: string;
  log?: (line: string) => void;
  /**
   * Called as each step starts (src/zk/setup-worker.ts reports progress with it). At
   * "sized" it gets the constraint count and the ptau power the circuit needs, and may
   * throw to stop the build before phase 1.
   */
  onPhase?: (phase: SetupPhase, size?: { constraints: number; power: number }) => void;
}

/** Builds (or reuses) the artefacts; returns them. */
export async function ensureArtifacts(opts: SetupOptions): Promise<Artifacts> {
  const params = { n: opts.n, depth: opts.depth };
  const buildRoot = opts.buildRoot ?? DEFAULT_BUILD_ROOT;
  const cached = loadArtifacts(params, buildRoot);
  const wantSetup: SetupKind = opts.ptau ? "ceremony" : "development";
  if (cached && cached.setup === wantSetup) {
    if (!opts.ptau || cached.transcript.phase1.ptauSha256 === sha256File(opts.ptau)) return cached;
  }
  await buildArtifacts(opts, buildRoot);
  const built = loadArtifacts(params, buildRoot);
  if (!built) throw new Error("circuit setup finished without its artefacts");
  return built;
}

/** Compiles main.circom for `params` into `dir` (r1cs + wasm); returns the constraint count. */
export async function compileCircuit(
  params: CircuitParams,
  dir: string,
  log: (line: string) => void = () => {},
): Promise<{ constraints: number; nPublic: number }> {
  // circom2 (WebAssembly) sees only its working directory: compile inside the repository
  // (from its root, with -l node_modules) and copy the output when `dir` lies elsewhere.
  const inside = !relative(REPO_ROOT, dir).startsWith("..");
  const work = inside ? dir : join(DEFAULT_BUILD_ROOT, `.compile-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const circuitsDir = relative(work, join(REPO_ROOT, "circuits")) || ".";
  writeFileSync(join(work, "main.circom"), mainSource(params, circuitsDir));
  log(`compiling compliance circuit N=${params.n} depth=${params.depth} (circom2 --O2)`);
  // WASI sees paths, not symlinks, and circom resolves no ".." in -l: with node_modules
  // linked from elsewhere (a shared install), run from the folder holding both.
  const modules = realpathSync(join(REPO_ROOT, "node_modules"));
  let base = REPO_ROOT;
  while (relative(base, modules).startsWith("..")) base = dirname(base);
  const circom = spawnSync(
    process.execPath,
    [
      join(modules, "circom2", "cli.js"),
      relative(base, join(work, "main.circom")),
      "--r1cs",
      "--wasm",
      "--O2",
      "-l",
      relative(base, modules),
      "-o",
      relative(base, work),
    ],
    { cwd: base, encoding: "utf8" },
  );
  if (circom.status !== 0) throw new Error(`circom2 failed: ${circom.stderr || circom.stdout}`);
  if (!inside) {
    mkdirSync(dir, { recursive: true });
    cpSync(work, dir, { recursive: true });
    rmSync(work, { recursive: true, force: true });
  }
  const info = await snarkjs.r1cs.info(join(dir, "main.r1cs"));
  log(`${info.nConstraints} constraints`);
  return {
    constraints: Number(info.nConstraints),
    nPublic: Number(info.nPubInputs) + Number(info.nOutputs),
  };
}

/**
 * The development ptau shipped in circuits/ptau/ (made by scripts/make-dev-ptau.ts), when
 * it is large enough for `power`: it saves a fresh machine minutes of phase 1. Checked
 * against its pinned SHA-256 first; a file that does not match is not used.
 */
export function shippedDevelopmentPtau(
  power: number,
): { path: string; file: string; power: number } | undefined {
  const dir = join(REPO_ROOT, "circuits", "ptau");
  const pinPath = join(dir, "development.json");
  if (!existsSync(pinPath)) return undefined;
  const pin = JSON.parse(readFileSync(pinPath, "utf8")) as {
    file: string;
    power: number;
    sha256: string;
  };
  const path = join(dir, pin.file);
  if (pin.power < power || !existsSync(path) || sha256File(path) !== pin.sha256) return undefined;
  return { path, file: pin.file, power: pin.power };
}

async function buildArtifacts(opts: SetupOptions, buildRoot: string): Promise<void> {
  const log = opts.log ?? (() => {});
  const params = { n: opts.n, depth: opts.depth };
  if (!Number.isInteger(params.n) || params.n < 1 || params.n > 255) {
    throw new Error("the batch size N must be an integer in 1..255");
  }
  if (!Number.isInteger(params.depth) || params.depth < 1 || params.depth > 8) {
    throw new Error("the allowlist depth must be an integer in 1..8 (up to 256 recipients)");
  }
  const dir = artifactDir(params, buildRoot);
  // Build in a scratch folder and move it in place at the end: a half-built setup is never loaded.
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const t0 = Date.now();
  opts.onPhase?.("compile");
  const { constraints, nPublic } = await compileCircuit(params, work, log);
  const r1cs = join(work, "main.r1cs");
  const compileSeconds = (Date.now() - t0) / 1000;

  // Phase 1.
  const t1 = Date.now();
  let power = 1;
  while (2 ** power < constraints + nPublic + 1) power++;
  opts.onPhase?.("sized", { constraints, power });
  let ptau = opts.ptau ? resolve(opts.ptau) : join(work, "dev.ptau");
  const phase1: SetupTranscript["phase1"] = { ptau: "", ptauSha256: "", power };
  const shipped = opts.ptau ? undefined : shippedDevelopmentPtau(power);
  if (shipped) {
    log(
      `using the shipped DEVELOPMENT ptau ${shipped.file} (2^${shipped.power}, not for production)`,
    );
    ptau = shipped.path;
    phase1.ptau = `development (shipped: circuits/ptau/${shipped.file})`;
    phase1.power = shipped.power;
  } else if (!opts.ptau) {
    log(`generating a DEVELOPMENT ptau of 2^${power} (not for production)`);
    opts.onPhase?.("phase1");
    const curve = await snarkjs.curves.getCurveFromName("bn128");
    try {
      await snarkjs.powersOfTau.newAccumulator(curve, power, join(work, "pot0.ptau"));
      await snarkjs.powersOfTau.contribute(
        join(work, "pot0.ptau"),
        join(work, "pot1.ptau"),
        "agent-vault development contribution",
        randomBytes(32).toString("hex"),
      );
      const beacon = randomBytes(32).toString("hex");
      await snarkjs.powersOfTau.beacon(
        join(work, "pot1.ptau"),
        join(work, "pot2.ptau"),
        "agent-vault development beacon",
        beacon,
        10,
      );
      await snarkjs.powersOfTau.preparePhase2(join(work, "pot2.ptau"), ptau);
      phase1.contributions = [{ name: "agent-vault development contribution" }];
      phase1.beacon = { hash: beacon, iterationsExp: 10 };
    } finally {
      await curve.terminate();
    }
    for (const f of ["pot0.ptau", "pot1.ptau", "pot2.ptau"]) rmSync(join(work, f));
    phase1.ptau = "development (generated locally)";
  } else {
    phase1.ptau = opts.ptau;
    ptau = resolve(opts.ptau);
  }
  phase1.ptauSha256 = sha256File(ptau);
  const phase1Seconds = (Date.now() - t1) / 1000;

  // Phase 2: circuit-specific key, one random contribution, then a public beacon.
  const t2 = Date.now();
  log("phase 2: groth16 setup, one contribution, beacon");
  opts.onPhase?.("zkey");
  await snarkjs.zKey.newZKey(r1cs, ptau, join(work, "z0.zkey"));
  const contributionName = `agent-vault phase-2 contribution ${new Date().toISOString()}`;
  opts.onPhase?.("contribute");
  const contribHash = await snarkjs.zKey.contribute(
    join(work, "z0.zkey"),
    join(work, "z1.zkey"),
    contributionName,
    randomBytes(32).toString("hex"),
  );
  const beaconHash = randomBytes(32).toString("hex");
  const beaconName = "agent-vault final beacon";
  opts.onPhase?.("beacon");
  const beaconContribution = await snarkjs.zKey.beacon(
    join(work, "z1.zkey"),
    join(work, "final.zkey"),
    beaconName,
    beaconHash,
    10,
  );
  rmSync(join(work, "z0.zkey"));
  rmSync(join(work, "z1.zkey"));
  const setup: SetupKind = opts.ptau ? "ceremony" : "development";
  opts.onPhase?.("export");
  const vkey = await snarkjs.zKey.exportVerificationKey(join(work, "final.zkey"));
  // snarkjs ignores keys it does not know, so the marker rides in the key itself.
  vkey.setup = setup;
  const vkeyText = `${JSON.stringify(vkey, null, 1)}\n`;
  writeFileSync(join(work, "verification_key.json"), vkeyText);
  if (!opts.ptau && !shipped) rmSync(ptau); // a generated development ptau is not needed after phase 2
  const transcript: SetupTranscript = {
    setup,
    circuit: {
      ...params,
      constraints,
      sourceSha256: sourceHash(params),
      r1csSha256: sha256File(r1cs),
    },
    phase1,
    phase2: {
      contributions: [{ name: contributionName, hash: hex(contribHash) }],
      beacon: {
        name: beaconName,
        hash: beaconHash,
        iterationsExp: 10,
        contributionHash: hex(beaconContribution),
      },
    },
    zkeySha256: sha256File(join(work, "final.zkey")),
    vkeySha256: createHash("sha256").update(vkeyText).digest("hex"),
    seconds: { compile: compileSeconds, phase1: phase1Seconds, phase2: (Date.now() - t2) / 1000 },
    createdAt: new Date().toISOString(),
  };
  writeFileSync(join(work, "transcript.json"), `${JSON.stringify(transcript, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(work, dir);
  } catch (err) {
    // A shared cache (the tests' per-machine one) may have been filled by a concurrent
    // build of the same circuit: keep that one if it loads, else report the failure.
    rmSync(work, { recursive: true, force: true });
    if (!loadArtifacts(params, buildRoot)) throw err;
  }
  log(`artefacts in ${dir} (${setup} setup)`);
}
