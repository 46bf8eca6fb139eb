/**
 * Build artefacts of the compliance circuit for one (batch size N, allowlist depth D, proof
 * system): r1cs + wasm (circom2, from circuits/compliance.circom), proving key and
 * verification key (snarkjs), and the setup transcript shipped with the key. Groth16 is
 * the default (smaller, faster proofs; a circuit-specific phase 2); PLONK needs no phase 2
 * (src/zk/plonk.ts): over a listed ceremony ptau its setup is "universal-ceremony".
 *
 * Phase 1 comes from a ptau file given by path (production: a public ceremony file, one of
 * the Hermez/Polygon "powersOfTau28_hez_final_XX.ptau", already prepared for phase 2),
 * checked against its published BLAKE2b-512 hash (src/zk/ptau.ts) before use: an unlisted
 * file is refused (PTAU_UNLISTED) unless explicitly accepted, as a development setup.
 * Without one the shipped development ptau (circuits/ptau/, 2^13, pinned by SHA-256) is used
 * when the circuit fits it, else one is generated locally: whoever made either could forge
 * proofs, so the setup is labelled "development".
 *
 * Phase 2 gets one random contribution, by whoever runs this (the operator): over a listed
 * ptau the setup is "ceremony-with-contributions", and the list says whose. The operator
 * alone knows that contribution's secret, so an auditor adds their own (`agent-vault zk
 * contribute`, src/zk/trust.ts) and trusts the resulting verification key, not the label.
 * The contributions in the transcript are read back from the key by snarkjs while it
 * verifies the key against the r1cs and the ptau (src/zk/zkey.ts), never copied from a claim.
 * No final beacon: a beacon's value would be chosen by the operator (nothing here provides
 * public randomness fixed in advance), so it would add no secrecy and only change the key.
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
import { VaultError } from "../errors/index.js";
import { plonkSetup } from "./plonk.js";
import { checkPtau, type PtauCheck } from "./ptau.js";
import { loadSnarkjs } from "./snarkjs-lazy.js";
import { type Contribution, contributeZkey, verifyZkey, vkeySha256 } from "./zkey.js";

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

export type ProofSystem = "groth16" | "plonk";

/**
 * development: phase 1 is a development ptau (shipped, generated here, or unlisted): its
 *   maker could forge proofs. universal-ceremony: PLONK over a listed public ceremony ptau,
 *   no circuit-specific secret. ceremony-with-contributions: Groth16 over a listed ptau, its
 *   phase 2 made of the contributions listed; sound if any one contributor was honest.
 */
export type SetupLabel = "development" | "universal-ceremony" | "ceremony-with-contributions";

export interface SetupDescription {
  system: ProofSystem;
  setup: SetupLabel;
  phase1: {
    source: "shipped-development" | "generated-development" | "listed" | "unlisted";
    /** The published file's name when listed, else what was used. */
    file: string;
    power: number;
    sha256: string;
    blake2b?: string;
  };
  /** Groth16 phase 2, oldest first, as snarkjs read them back from the verified key; [] for PLONK. */
  contributions: Contribution[];
}

export const TRANSCRIPT_FORMAT = "agent-vault/setup-transcript@2";

export function describeSetup(
  system: ProofSystem,
  phase1: SetupDescription["phase1"],
  contributions: Contribution[],
): SetupDescription {
  const setup: SetupLabel =
    phase1.source !== "listed"
      ? "development"
      : system === "plonk"
        ? "universal-ceremony"
        : "ceremony-with-contributions";
  return { system, setup, phase1, contributions };
}

export interface CircuitParams {
  /** Entries per batch proof. */
  n: number;
  /** Allowlist capacity: up to 2^depth recipients, checked per batch (1..8). */
  depth: number;
  /** Groth16 (the default) or PLONK (universal setup, src/zk/plonk.ts). */
  system?: ProofSystem;
}

export const systemOf = (p: Pick<CircuitParams, "system">): ProofSystem => p.system ?? "groth16";

/**
 * circom's optimisation level per system. --O2 folds linear constraints into long linear
 * combinations: fewest R1CS constraints, best for Groth16. PLONK pays a gate for every term
 * of a linear combination, so the same circuit at --O2 is 20,732 PLONK constraints (N=1,
 * depth 1) and at --O1 only 5,701: PLONK compiles at --O1.
 */
const OPTIMISATION: Record<ProofSystem, string> = { groth16: "--O2", plonk: "--O1" };

export interface Artifacts extends CircuitParams {
  dir: string;
  wasm: string;
  zkey: string;
  r1cs: string;
  vkeyPath: string;
  transcriptPath: string;
  setup: SetupDescription;
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
  vkey: any;
  transcript: SetupTranscript;
}

export interface SetupTranscript {
  format: typeof TRANSCRIPT_FORMAT;
  setup: SetupDescription;
  circuit: {
    n: number;
    depth: number;
    constraints: number;
    sourceSha256: string;
    r1csSha256: string;
    /** PLONK constraints (gates), which size a PLONK setup. */
    plonkGates?: number;
  };
  phase1: {
    ptau: string;
    /** Absolute path of the ptau file, to verify contributions against later. */
    ptauPath: string;
    ptauSha256: string;
    ptauBlake2b?: string;
    power: number;
    /** A locally generated development ptau: its one contribution and beacon. */
    contributions?: Array<{ name: string }>;
    beacon?: { hash: string; iterationsExp: number };
  };
  phase2: {
    /** The same list as setup.contributions. */
    contributions: Contribution[];
    /** Keys installed later (`agent-vault zk install`), oldest first. */
    installed?: Array<{ at: string; zkeySha256: string; vkeySha256: string; replaced: string }>;
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
  const prefix = systemOf(params) === "plonk" ? "plonk-" : "";
  return join(buildRoot, `${prefix}n${params.n}-d${params.depth}`);
}

export const sha256File = (path: string) =>
  createHash("sha256").update(readFileSync(path)).digest("hex");

/** SHA-256 of the circuit source for `params`: artefacts built from other source are stale. */
export function sourceHash(params: CircuitParams): string {
  const source = readFileSync(join(REPO_ROOT, "circuits", "compliance.circom"), "utf8");
  // The optimisation level changes the r1cs: a Groth16 build (no suffix, as before) and a
  // PLONK one of the same source are different circuits.
  const level = systemOf(params) === "groth16" ? "" : `\n${OPTIMISATION[systemOf(params)]}`;
  return createHash("sha256")
    .update(`${source}\n${mainSource(params, ".")}${level}`)
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
  // A transcript of an older format (a bare "development"/"ceremony" marker) is rebuilt.
  if (transcript.format !== TRANSCRIPT_FORMAT) return undefined;
  if (transcript.circuit.sourceSha256 !== sourceHash(params)) return undefined;
  const vkey = JSON.parse(readFileSync(files.vkeyPath, "utf8"));
  return {
    ...params,
    system: transcript.setup.system,
    dir,
    ...files,
    setup: transcript.setup,
    vkey,
    transcript,
  };
}

/** The steps of a build, in order ("sized": compiled, phase 1 not started; "phase1" only when a ptau is generated). */
export type SetupPhase = "compile" | "sized" | "phase1" | "zkey" | "contribute" | "export";

export interface SetupOptions extends CircuitParams {
  /** A phase-2-prepared ptau file (public ceremony, checked by hash). Absent: a development ptau. */
  ptau?: string;
  /** Accept a ptau whose hash is not a published one; the setup is then "development". */
  allowUnlistedPtau?: boolean;
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
  const params = { n: opts.n, depth: opts.depth, system: systemOf(opts) };
  const buildRoot = opts.buildRoot ?? DEFAULT_BUILD_ROOT;
  const cached = loadArtifacts(params, buildRoot);
  if (cached) {
    const source = cached.setup.phase1.source;
    const devNow = source === "shipped-development" || source === "generated-development";
    if (!opts.ptau ? devNow : cached.transcript.phase1.ptauSha256 === sha256File(opts.ptau))
      return cached;
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
  /** Without the witness generator: half the time, when only the size is wanted. */
  { wasm = true }: { wasm?: boolean } = {},
): Promise<{ constraints: number; nPublic: number }> {
  // circom2 (WebAssembly) sees only its working directory: compile inside the repository
  // (from its root, with -l node_modules) and copy the output when `dir` lies elsewhere.
  const inside = !relative(REPO_ROOT, dir).startsWith("..");
  const work = inside ? dir : join(DEFAULT_BUILD_ROOT, `.compile-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const circuitsDir = relative(work, join(REPO_ROOT, "circuits")) || ".";
  writeFileSync(join(work, "main.circom"), mainSource(params, circuitsDir));
  const level = OPTIMISATION[systemOf(params)];
  log(`compiling compliance circuit N=${params.n} depth=${params.depth} (circom2 ${level})`);
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
      ...(wasm ? ["--wasm"] : []),
      level,
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
  const info = await (await loadSnarkjs()).r1cs.info(join(dir, "main.r1cs"));
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
export function shippedDevelopmentPin():
  | { file: string; power: number; sha256: string }
  | undefined {
  const pinPath = join(REPO_ROOT, "circuits", "ptau", "development.json");
  if (!existsSync(pinPath)) return undefined;
  return JSON.parse(readFileSync(pinPath, "utf8")) as {
    file: string;
    power: number;
    sha256: string;
  };
}

export function shippedDevelopmentPtau(
  power: number,
): { path: string; file: string; power: number } | undefined {
  const pin = shippedDevelopmentPin();
  if (!pin) return undefined;
  const path = join(REPO_ROOT, "circuits", "ptau", pin.file);
  if (pin.power < power || !existsSync(path) || sha256File(path) !== pin.sha256) return undefined;
  return { path, file: pin.file, power: pin.power };
}

/**
 * The contribution-free Groth16 key of the artefacts' r1cs over their ptau (`snarkjs zkey
 * new`: deterministic, no secret), made at setup and kept as init.zkey; made now when missing.
 * Checking a contributed key from it is the same check as from the r1cs, minus rebuilding it.
 */
export const INIT_ZKEY = "init.zkey";

export async function initZkeyOf(
  art: Pick<Artifacts, "dir" | "r1cs" | "transcript" | "setup">,
): Promise<string | undefined> {
  if (art.setup.system !== "groth16") return undefined;
  const path = join(art.dir, INIT_ZKEY);
  if (existsSync(path)) return path;
  const ptau = ptauOf(art);
  if (!ptau) return undefined;
  const tmp = `${path}.tmp-${process.pid}`;
  await (await loadSnarkjs()).zKey.newZKey(art.r1cs, ptau, tmp);
  renameSync(tmp, path);
  return path;
}

/** The ptau a set of artefacts was built on (to verify its proving key against), if still here. */
export function ptauOf(art: Pick<Artifacts, "transcript" | "setup">): string | undefined {
  const path = art.transcript.phase1.ptauPath;
  if (path && existsSync(path)) return path;
  if (art.setup.phase1.source === "shipped-development") {
    const shipped = shippedDevelopmentPtau(0);
    if (shipped && sha256File(shipped.path) === art.transcript.phase1.ptauSha256)
      return shipped.path;
  }
  return undefined;
}

async function buildArtifacts(opts: SetupOptions, buildRoot: string): Promise<void> {
  const log = opts.log ?? (() => {});
  const params = { n: opts.n, depth: opts.depth, system: systemOf(opts) };
  if (!Number.isInteger(params.n) || params.n < 1 || params.n > 255) {
    throw new Error("the batch size N must be an integer in 1..255");
  }
  if (!Number.isInteger(params.depth) || params.depth < 1 || params.depth > 8) {
    throw new Error("the allowlist depth must be an integer in 1..8 (up to 256 recipients)");
  }
  // A ceremony ptau is checked by its published hash before anything is built.
  const ptauCheck: PtauCheck | undefined = opts.ptau
    ? await checkPtau(resolve(opts.ptau), { allowUnlisted: opts.allowUnlistedPtau === true })
    : undefined;
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

  const ctx: BuildContext = { opts, log, work, r1cs, ptauCheck };
  const keys =
    params.system === "plonk"
      ? await plonkKeys(ctx)
      : await groth16Keys(ctx, { constraints, power: requiredPower(constraints + nPublic + 1) });
  opts.onPhase?.("export");
  const vkey = await (await loadSnarkjs()).zKey.exportVerificationKey(join(work, "final.zkey"));
  const vkeyText = `${JSON.stringify(vkey, null, 1)}\n`;
  writeFileSync(join(work, "verification_key.json"), vkeyText);
  const { phase1 } = keys;
  // A development ptau generated here stays beside the key, to verify it against later.
  phase1.ptauPath = existsSync(join(work, "dev.ptau")) ? join(dir, "dev.ptau") : keys.ptau;
  const setup = describeSetup(
    params.system,
    {
      source: keys.source,
      file: ptauCheck?.listed?.file ?? phase1.ptau,
      power: phase1.power,
      sha256: phase1.ptauSha256,
      ...(phase1.ptauBlake2b ? { blake2b: phase1.ptauBlake2b } : {}),
    },
    keys.contributions,
  );
  const transcript: SetupTranscript = {
    format: TRANSCRIPT_FORMAT,
    setup,
    circuit: {
      n: params.n,
      depth: params.depth,
      constraints,
      sourceSha256: sourceHash(params),
      r1csSha256: sha256File(r1cs),
      ...(keys.gates ? { plonkGates: keys.gates } : {}),
    },
    phase1,
    phase2: { contributions: keys.contributions },
    zkeySha256: sha256File(join(work, "final.zkey")),
    vkeySha256: vkeySha256(vkey),
    seconds: {
      compile: compileSeconds,
      phase1: keys.phase1Seconds,
      phase2: keys.phase2Seconds,
    },
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
  log(`artefacts in ${dir} (${setup.system}, ${setup.setup} setup)`);
}

/** The smallest power of two holding `size`. */
export function requiredPower(size: number): number {
  let power = 1;
  while (2 ** power < size) power++;
  return power;
}

interface BuildContext {
  opts: SetupOptions;
  log: (line: string) => void;
  work: string;
  r1cs: string;
  ptauCheck: PtauCheck | undefined;
}

/** What a system's key generation hands back: final.zkey is written in ctx.work. */
interface Keys {
  ptau: string;
  source: SetupDescription["phase1"]["source"];
  phase1: SetupTranscript["phase1"];
  contributions: Contribution[];
  gates?: number;
  phase1Seconds: number;
  phase2Seconds: number;
}

/**
 * Phase 1 for a circuit needing 2^power: the given ceremony ptau (its size checked), else the
 * shipped development ptau when large enough, else a development ptau generated in ctx.work.
 */
async function phase1For(
  ctx: BuildContext,
  power: number,
): Promise<Pick<Keys, "ptau" | "source" | "phase1">> {
  const { opts, log, work, ptauCheck } = ctx;
  const phase1: SetupTranscript["phase1"] = { ptau: "", ptauPath: "", ptauSha256: "", power };
  let ptau = opts.ptau ? resolve(opts.ptau) : join(work, "dev.ptau");
  let source: SetupDescription["phase1"]["source"] = "generated-development";
  const shipped = opts.ptau ? undefined : shippedDevelopmentPtau(power);
  if (shipped) {
    log(
      `using the shipped DEVELOPMENT ptau ${shipped.file} (2^${shipped.power}, not for production)`,
    );
    ptau = shipped.path;
    phase1.ptau = `development (shipped: circuits/ptau/${shipped.file})`;
    phase1.power = shipped.power;
    source = "shipped-development";
  } else if (!opts.ptau) {
    opts.onPhase?.("phase1");
    Object.assign(phase1, await generateDevelopmentPtau(power, work, ptau, log));
  } else if (ptauCheck) {
    phase1.ptau = opts.ptau;
    ptau = ptauCheck.path;
    phase1.ptauBlake2b = ptauCheck.blake2b;
    source = ptauCheck.listed ? "listed" : "unlisted";
    if (ptauCheck.listed) {
      if (ptauCheck.listed.power < power) {
        throw new VaultError(
          "VALIDATION_FAILED",
          `${ptauCheck.listed.file} serves 2^${ptauCheck.listed.power} constraints; this circuit needs 2^${power}`,
        );
      }
      phase1.power = ptauCheck.listed.power;
      log(`phase 1: ${ptauCheck.listed.file} (BLAKE2b-512 matches the published hash)`);
    } else {
      log("phase 1: an UNLISTED ptau, accepted on request: the setup is labelled development");
    }
  }
  phase1.ptauSha256 = sha256File(ptau);
  return { ptau, source, phase1 };
}

async function generateDevelopmentPtau(
  power: number,
  work: string,
  out: string,
  log: (line: string) => void,
): Promise<Partial<SetupTranscript["phase1"]>> {
  log(`generating a DEVELOPMENT ptau of 2^${power} (not for production)`);
  const { curves, powersOfTau } = await loadSnarkjs();
  const curve = await curves.getCurveFromName("bn128");
  const beacon = randomBytes(32).toString("hex");
  try {
    await powersOfTau.newAccumulator(curve, power, join(work, "pot0.ptau"));
    await powersOfTau.contribute(
      join(work, "pot0.ptau"),
      join(work, "pot1.ptau"),
      "agent-vault development contribution",
      randomBytes(32).toString("hex"),
    );
    await powersOfTau.beacon(
      join(work, "pot1.ptau"),
      join(work, "pot2.ptau"),
      "agent-vault development beacon",
      beacon,
      10,
    );
    await powersOfTau.preparePhase2(join(work, "pot2.ptau"), out);
  } finally {
    await curve.terminate();
  }
  for (const f of ["pot0.ptau", "pot1.ptau", "pot2.ptau"]) rmSync(join(work, f));
  return {
    ptau: "development (generated locally)",
    contributions: [{ name: "agent-vault development contribution" }],
    beacon: { hash: beacon, iterationsExp: 10 },
  };
}

/** Groth16: phase 1, then the circuit-specific key and one random contribution (no beacon: see the top). */
async function groth16Keys(
  ctx: BuildContext,
  size: { constraints: number; power: number },
): Promise<Keys> {
  const { opts, log, work, r1cs } = ctx;
  const t1 = Date.now();
  opts.onPhase?.("sized", size);
  const p1 = await phase1For(ctx, size.power);
  const phase1Seconds = (Date.now() - t1) / 1000;
  const t2 = Date.now();
  log("phase 2: groth16 setup, one contribution");
  opts.onPhase?.("zkey");
  await (await loadSnarkjs()).zKey.newZKey(r1cs, p1.ptau, join(work, INIT_ZKEY));
  const contributionName = `agent-vault operator ${new Date().toISOString()}`;
  opts.onPhase?.("contribute");
  await contributeZkey(join(work, INIT_ZKEY), join(work, "final.zkey"), contributionName);
  // Read the contributions back from the key, verifying it against the ptau and the
  // contribution-free key of this r1cs (just made, so no need to rebuild it). That key
  // stays (no secret in it): later checks of contributed keys against this r1cs and ptau
  // start from it instead of rebuilding it (minutes at N=64).
  const check = await verifyZkey({
    init: join(work, INIT_ZKEY),
    ptau: p1.ptau,
    zkey: join(work, "final.zkey"),
  });
  if (!check.ok) throw new Error(`the new proving key does not verify: ${check.error}`);
  return {
    ...p1,
    contributions: check.contributions,
    phase1Seconds,
    phase2Seconds: (Date.now() - t2) / 1000,
  };
}

/**
 * PLONK: no phase 2 and no contribution; the key is derived from the r1cs and the ptau.
 * snarkjs counts the PLONK constraints (which size the setup) as it starts, so the setup is
 * first tried on the ptau it would use anyway (the given one, else the shipped development
 * one) and, only when that is too small and none was given, repeated on a development ptau
 * generated at the size it reported.
 */
async function plonkKeys(ctx: BuildContext): Promise<Keys> {
  const { opts, log, work, r1cs, ptauCheck } = ctx;
  const out = join(work, "final.zkey");
  const first = ptauCheck?.path ?? shippedDevelopmentPtau(0)?.path;
  if (!first) {
    throw new Error(
      "a PLONK development setup needs the shipped development ptau (circuits/ptau/) or --ptau",
    );
  }
  log("PLONK setup: the key is derived from the circuit and the ptau, no contribution");
  const onSized = (size: { gates: number; power: number }) => {
    log(`${size.gates} PLONK constraints: needs a 2^${size.power} ptau`);
    opts.onPhase?.("sized", { constraints: size.gates, power: size.power });
    opts.onPhase?.("zkey");
  };
  const t = Date.now();
  let made = await plonkSetup(r1cs, first, out, onSized);
  let phase1Seconds = 0;
  const power = made.power;
  if (!made.ok && (!made.tooBig || power === undefined || opts.ptau)) {
    // A listed file too small gets phase1For's message naming both sizes.
    if (made.tooBig && power !== undefined) await phase1For(ctx, power);
    throw new VaultError("VALIDATION_FAILED", `PLONK setup failed: ${made.error}`);
  }
  const p1 = await phase1For(ctx, power as number);
  if (!made.ok) {
    phase1Seconds = (Date.now() - t) / 1000;
    opts.onPhase?.("zkey");
    made = await plonkSetup(r1cs, p1.ptau, out);
    if (!made.ok) throw new Error(`PLONK setup failed: ${made.error}`);
  }
  return {
    ...p1,
    contributions: [],
    gates: made.gates,
    phase1Seconds,
    phase2Seconds: (Date.now() - t) / 1000 - phase1Seconds,
  };
}
