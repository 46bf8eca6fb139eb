/**
 * PLONK keys (snarkjs `plonk setup`, Gabizon–Williamson–Ciobotaru 2019): the proving and
 * verification keys are computed from the circuit (r1cs) and a universal powers of tau
 * alone, with no circuit-specific contribution and so no secret beyond phase 1's. Over a
 * public ceremony ptau (src/zk/ptau.ts) nobody, the operator included, can forge a proof
 * unless every phase-1 contributor colluded, and anybody holding the r1cs and the ptau
 * derives the same verification key: that is how an auditor checks one (verifyPlonkKey).
 *
 * snarkjs reports failures through its logger and returns -1 rather than throwing; this
 * module turns both into results.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSnarkjs } from "./snarkjs-lazy.js";
import { vkeySha256 } from "./zkey.js";

/**
 * The ptau power a circuit of `gates` PLONK constraints needs: snarkjs's own rule
 * (floor(log2(gates - 1)) + 1, at least 3).
 */
export function plonkPower(gates: number): number {
  const power = Math.floor(Math.log2(Math.max(gates - 1, 1))) + 1;
  return Math.max(power, 3);
}

export type PlonkSetup =
  | { ok: true; gates: number; power: number }
  | { ok: false; gates?: number; power?: number; tooBig: boolean; error: string };

/**
 * `snarkjs plonk setup r1cs ptau out`. `onSized` is called with the PLONK constraint count
 * and the power it needs as soon as snarkjs has counted them, before the heavy work (it may
 * throw to stop the setup there).
 */
export async function plonkSetup(
  r1cs: string,
  ptau: string,
  out: string,
  onSized?: (size: { gates: number; power: number }) => void,
): Promise<PlonkSetup> {
  const errors: string[] = [];
  let gates: number | undefined;
  const logger = {
    info: (m: string) => {
      const match = /^Plonk constraints: (\d+)$/.exec(String(m));
      if (!match) return;
      gates = Number(match[1]);
      onSized?.({ gates, power: plonkPower(gates) });
    },
    error: (m: string) => errors.push(String(m)),
    warn: () => {},
    debug: () => {},
  };
  const result = await (await loadSnarkjs()).plonk.setup(r1cs, ptau, out, logger);
  const size = gates === undefined ? {} : { gates, power: plonkPower(gates) };
  if (result === -1 || errors.length > 0) {
    const error = errors.at(-1) ?? "snarkjs plonk setup failed";
    return { ok: false, ...size, tooBig: /too big/.test(error), error };
  }
  if (gates === undefined) return { ok: false, tooBig: false, error: "no constraint count" };
  return { ok: true, gates, power: plonkPower(gates) };
}

export interface PlonkKeyCheck {
  ok: boolean;
  error?: string;
  /** The key is not the one `r1cs` and `ptau` determine (another circuit or another ptau). */
  mismatch: boolean;
  gates?: number;
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
  vkey?: any;
  vkeySha256?: string;
}

/**
 * Checks a PLONK proving key the only way one can be: derives the key from `r1cs` and `ptau`
 * here and compares the verification keys (what proofs are checked against). `vkey` is the
 * verification key the proving key exports (snarkjs zKey.exportVerificationKey).
 */
export async function verifyPlonkKey(opts: {
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
  vkey: any;
  r1cs: string;
  ptau: string;
}): Promise<PlonkKeyCheck> {
  const given = opts.vkey;
  if (given?.protocol !== "plonk")
    return { ok: false, mismatch: false, error: `not a PLONK key (${String(given?.protocol)})` };
  const derived = await derivePlonkKey(opts);
  if (!derived.ok) return derived;
  if (derived.vkeySha256 !== vkeySha256(given)) {
    return {
      ok: false,
      mismatch: true,
      ...(derived.gates ? { gates: derived.gates } : {}),
      error:
        "the key is not the one this circuit (r1cs) and ptau determine: another circuit, another ptau or a doctored key",
    };
  }
  return derived;
}

/** The PLONK verification key `r1cs` and `ptau` determine, derived here. */
export async function derivePlonkKey(opts: { r1cs: string; ptau: string }): Promise<PlonkKeyCheck> {
  const dir = mkdtempSync(join(tmpdir(), "av-plonk-"));
  try {
    const path = join(dir, "derived.zkey");
    const made = await plonkSetup(opts.r1cs, opts.ptau, path);
    if (!made.ok) return { ok: false, mismatch: false, error: made.error };
    const vkey = await (await loadSnarkjs()).zKey.exportVerificationKey(path);
    return { ok: true, mismatch: false, gates: made.gates, vkey, vkeySha256: vkeySha256(vkey) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The proof system a proving key is for, from its header. */
export async function zkeyProtocol(zkey: string): Promise<string> {
  const vk = await (await loadSnarkjs()).zKey.exportVerificationKey(zkey);
  return String(vk?.protocol);
}
