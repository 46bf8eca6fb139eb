/**
 * Groth16 proving keys (zkey files) as snarkjs sees them: adding a phase-2 contribution, and
 * verifying a key's whole phase-2 transcript against the circuit (r1cs) and the phase-1 file
 * (ptau), which also reads back its contributions. A contribution's name and hash are what
 * snarkjs recomputes from the key while checking it, never what anybody claims.
 */
import { createHash, randomBytes } from "node:crypto";
import { loadSnarkjs } from "./snarkjs-lazy.js";

export interface Contribution {
  /** As the contributor named it (snarkjs keeps the first 64 bytes). */
  name: string;
  /** BLAKE2b-512 of the contribution's public key, hex: what `zk contribute` prints. */
  hash: string;
  /** A beacon: its "secret" is public, it adds no secrecy. */
  beacon?: { generator: string; iterationsExp: number };
}

export interface ZkeyVerification {
  ok: boolean;
  /** Why it failed (snarkjs's own words). */
  error?: string;
  /** The failure is a circuit other than the r1cs's. */
  circuitMismatch: boolean;
  /** Oldest first; read back by snarkjs while verifying (empty when the check failed early). */
  contributions: Contribution[];
  circuitHash?: string;
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** The canonical SHA-256 of a verification key: of the JSON as written to verification_key.json. */
export function vkeySha256(vkey: unknown): string {
  return createHash("sha256")
    .update(`${JSON.stringify(vkey, null, 1)}\n`)
    .digest("hex");
}

/** snarkjs prints a 64-byte hash as a title line, then four lines of four 32-bit words. */
function parseHash(block: string): { title: string; hash: string } | undefined {
  const [title, ...rows] = block.split("\n");
  const hash = rows.join("").replace(/\s+/g, "");
  if (title === undefined || !/^[0-9a-f]{128}$/.test(hash)) return undefined;
  return { title, hash };
}

/**
 * Checks every phase-2 contribution of `zkey` against the circuit and phase 1, with snarkjs
 * (`snarkjs zkey verify`). `init` is the contribution-free key of the same circuit and ptau
 * when the caller just made it (setup); otherwise it is rebuilt from `r1cs` (verifyFromR1cs).
 */
export async function verifyZkey(opts: {
  zkey: string;
  ptau: string;
  r1cs?: string;
  init?: string;
}): Promise<ZkeyVerification> {
  const infos: string[] = [];
  const errors: string[] = [];
  const logger = {
    info: (m: string) => infos.push(String(m)),
    error: (m: string) => errors.push(String(m)),
    warn: (m: string) => errors.push(String(m)),
    debug: () => {},
  };
  // snarkjs reports a broken contribution with console.log, not the logger.
  const consoleLog = console.log;
  console.log = (...args: unknown[]) => errors.push(args.map(String).join(" "));
  let ok = false;
  try {
    const { zKey } = await loadSnarkjs();
    ok = opts.init
      ? await zKey.verifyFromInit(opts.init, opts.ptau, opts.zkey, logger)
      : await zKey.verifyFromR1cs(opts.r1cs, opts.ptau, opts.zkey, logger);
  } catch (err) {
    errors.push(String((err as Error)?.message ?? err));
    ok = false;
  } finally {
    console.log = consoleLog;
  }
  const error = ok ? undefined : (errors.at(-1) ?? "the proving key does not verify");
  const circuitMismatch =
    !ok && errors.some((e) => /circuit (does not match|parameters)|Different circuit/i.test(e));
  if (!ok) return { ok, ...(error ? { error } : {}), circuitMismatch, contributions: [] };

  // snarkjs logs the contributions newest first, each possibly followed by its beacon lines.
  const newestFirst: Contribution[] = [];
  let circuitHash: string | undefined;
  for (const line of infos) {
    const parsed = parseHash(line);
    if (parsed?.title.startsWith("Circuit Hash")) circuitHash = parsed.hash;
    const m = parsed && /^contribution #\d+ ?(.*):$/.exec(parsed.title);
    if (parsed && m) {
      newestFirst.push({ name: m[1] ?? "", hash: parsed.hash });
      continue;
    }
    const last = newestFirst.at(-1);
    const gen = /^Beacon generator: ([0-9a-f]+)$/.exec(line);
    if (gen && last) last.beacon = { generator: gen[1] as string, iterationsExp: 0 };
    const iter = /^Beacon iterations Exp: (\d+)$/.exec(line);
    if (iter && last?.beacon) last.beacon.iterationsExp = Number(iter[1]);
  }
  return {
    ok,
    circuitMismatch: false,
    contributions: newestFirst.reverse(),
    ...(circuitHash ? { circuitHash } : {}),
  };
}

/**
 * Adds one phase-2 contribution to `input`, written to `output`; returns its hash (hex). The
 * entropy comes from crypto.randomBytes and is dropped when this returns: it is the secret
 * ("toxic waste") whose loss makes the key sound, so it is never logged or stored.
 */
export async function contributeZkey(input: string, output: string, name: string): Promise<string> {
  if (!name.trim()) throw new Error("a contribution needs a name");
  const hash = await (await loadSnarkjs()).zKey.contribute(
    input,
    output,
    name,
    randomBytes(64).toString("hex"),
  );
  return hex(hash);
}
