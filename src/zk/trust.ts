/**
 * The Groth16 phase-2 ceremony an auditor runs with the operator, so that the verification
 * key they check bundles against is one whose secret nobody alone knows:
 *
 *   1. the operator sends the vault's proving key (circuits/build/n<N>-d<D>/final.zkey);
 *   2. the auditor adds a contribution (`agent-vault zk contribute`), keeps the hash it prints,
 *      and returns the new key; the entropy is never stored;
 *   3. the operator installs it (`agent-vault zk install`): verified first against the vault's
 *      own r1cs and ptau, refused if it does not verify or is for another circuit;
 *   4. the auditor runs `agent-vault zk verify-setup` on that key, against an r1cs they compiled
 *      and the ptau: it checks the whole transcript, lists the contributions (theirs among them)
 *      and prints the SHA-256 of the verification key the key exports;
 *   5. `agent-vault verify-bundle --trust-vkey <that sha256>` then passes quietly only for
 *      bundles proved under that key (or `--zkey … --trust-contribution <hash>` does 4 itself).
 *
 * What a bundle says about its setup is the vault's claim; what holds is the verification key
 * its proofs verify under. So trust is decided on the key: the contribution list matters only
 * as read back from a proving key verified here.
 *
 * A PLONK setup has none of this: its key is derived from the r1cs and the ptau alone
 * (src/zk/plonk.ts), so the auditor derives it too (`zk verify-setup`, or `verify-bundle
 * --r1cs … --ptau …`) and trusts it when the ptau is a published ceremony file.
 */
import { copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VaultError } from "../errors/index.js";
import { verifyPlonkKey } from "./plonk.js";
import { checkPtau } from "./ptau.js";
import {
  type Artifacts,
  describeSetup,
  initZkeyOf,
  ptauOf,
  type SetupDescription,
  type SetupTranscript,
  sha256File,
  shippedDevelopmentPin,
} from "./setup.js";
import { loadSnarkjs } from "./snarkjs-lazy.js";
import { verifyZkey, vkeySha256 } from "./zkey.js";

export interface SetupVerification {
  ok: boolean;
  error?: string;
  code?: "ZK_SETUP_INVALID" | "ZK_CIRCUIT_MISMATCH";
  /** Set when ok: system, label (from the ptau's hash) and the contributions read back. */
  setup?: SetupDescription;
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
  vkey?: any;
  vkeySha256?: string;
  zkeySha256: string;
  r1csSha256: string;
  ptau: { path: string; sha256: string; blake2b: string; listed?: string };
}

/**
 * `snarkjs zkey verify` of `zkey` against `r1cs` and `ptau`, plus what it means: the phase-1
 * file identified by its hash (a published ceremony file, the shipped development ptau or
 * unlisted), the contributions, and the verification key the proving key exports.
 */
export async function verifySetup(opts: {
  zkey: string;
  r1cs: string;
  ptau: string;
  /**
   * The contribution-free key of `r1cs` over `ptau`, when the caller made it on this machine
   * (initZkeyOf: the local artefacts): the check then skips rebuilding it. Never one received
   * from whoever made `zkey`. Groth16 only.
   */
  init?: string;
}): Promise<SetupVerification> {
  const ptauCheck = await checkPtau(opts.ptau, { allowUnlisted: true });
  const ptauSha256 = sha256File(opts.ptau);
  const base = {
    zkeySha256: sha256File(opts.zkey),
    r1csSha256: sha256File(opts.r1cs),
    ptau: {
      path: opts.ptau,
      sha256: ptauSha256,
      blake2b: ptauCheck.blake2b,
      ...(ptauCheck.listed ? { listed: ptauCheck.listed.file } : {}),
    },
  };
  // biome-ignore lint/suspicious/noExplicitAny: snarkjs verification key JSON
  let vkey: any;
  try {
    vkey = await (await loadSnarkjs()).zKey.exportVerificationKey(opts.zkey);
  } catch (err) {
    const error = `not a proving key: ${(err as Error).message}`;
    return { ok: false, error, code: "ZK_SETUP_INVALID", ...base };
  }
  const phase1 = phase1Description(opts.ptau, ptauSha256, ptauCheck);
  if (vkey?.protocol === "plonk") {
    // No phase 2: the key is the one the r1cs and the ptau determine, or it is not.
    const check = await verifyPlonkKey({ vkey, r1cs: opts.r1cs, ptau: opts.ptau });
    if (!check.ok) {
      const error = check.error ?? "the proving key does not verify";
      const code = check.mismatch ? "ZK_CIRCUIT_MISMATCH" : "ZK_SETUP_INVALID";
      return { ok: false, error, code, ...base };
    }
    return {
      ok: true,
      setup: describeSetup("plonk", phase1, []),
      vkey: check.vkey,
      vkeySha256: check.vkeySha256 as string,
      ...base,
    };
  }
  const check = await verifyZkey(opts);
  if (!check.ok) {
    return {
      ok: false,
      error: check.error ?? "the proving key does not verify",
      code: check.circuitMismatch ? "ZK_CIRCUIT_MISMATCH" : "ZK_SETUP_INVALID",
      ...base,
    };
  }
  return {
    ok: true,
    setup: describeSetup("groth16", phase1, check.contributions),
    vkey,
    vkeySha256: vkeySha256(vkey),
    ...base,
  };
}

/** Phase 1 as identified by the file's hash: a published ceremony file, the shipped development ptau, or unlisted. */
function phase1Description(
  path: string,
  sha256: string,
  ptauCheck: Awaited<ReturnType<typeof checkPtau>>,
): SetupDescription["phase1"] {
  const pin = shippedDevelopmentPin();
  const source = ptauCheck.listed
    ? "listed"
    : pin?.sha256 === sha256
      ? "shipped-development"
      : "unlisted";
  // 0: an unlisted file's size is not looked into.
  const power =
    ptauCheck.listed?.power ?? (source === "shipped-development" ? (pin?.power ?? 0) : 0);
  const file =
    ptauCheck.listed?.file ?? (source === "shipped-development" ? pin?.file : path) ?? path;
  return { source, file, power, sha256, blake2b: ptauCheck.blake2b };
}

export interface Installed {
  previousVkeySha256: string;
  vkeySha256: string;
  setup: SetupDescription;
}

/**
 * Installs a contributed proving key into the vault's artefacts (`agent-vault zk install`),
 * after verifying it against their r1cs and the ptau they were built on (or `ptau`). Refuses
 * with ZK_CIRCUIT_MISMATCH a key for another circuit, with ZK_SETUP_INVALID one that does
 * not verify. The verification key and transcript are rewritten; bundles made afterwards
 * (by a vault started afterwards) carry the new key and its contributions.
 */
export async function installZkey(
  art: Artifacts,
  zkey: string,
  opts: { ptau?: string } = {},
): Promise<Installed> {
  if (art.setup.system !== "groth16") {
    throw new VaultError(
      "ZK_SETUP_INVALID",
      "a PLONK setup has no phase 2: there is no contributed key to install (its key is derived from the circuit and the ptau alone)",
    );
  }
  const ptau = opts.ptau ?? ptauOf(art);
  if (!ptau) {
    throw new VaultError(
      "VALIDATION_FAILED",
      "the ptau these artefacts were built on is gone: pass --ptau",
    );
  }
  const init = ptau === ptauOf(art) ? await initZkeyOf(art) : undefined;
  const v = await verifySetup({ zkey, r1cs: art.r1cs, ptau, ...(init ? { init } : {}) });
  if (!v.ok || !v.setup || !v.vkey || !v.vkeySha256) {
    throw new VaultError(v.code ?? "ZK_SETUP_INVALID", `${zkey}: ${v.error}`, {
      reason: v.error,
    });
  }
  if (v.setup.system !== art.setup.system) {
    throw new VaultError(
      "ZK_SETUP_INVALID",
      `${zkey} is a ${v.setup.system} key; these artefacts are ${art.setup.system}`,
    );
  }
  const previous = art.transcript;
  const at = new Date().toISOString();
  // A development ptau generated at setup reads as merely "unlisted" to verifySetup: on
  // that same file, phase 1 keeps the description it had.
  const setup =
    v.setup.phase1.source === "unlisted" && v.ptau.sha256 === previous.phase1.ptauSha256
      ? describeSetup(v.setup.system, art.setup.phase1, v.setup.contributions)
      : v.setup;
  const transcript: SetupTranscript = {
    ...previous,
    setup,
    phase1: {
      ...previous.phase1,
      ptauPath: ptau,
      ptauSha256: v.ptau.sha256,
      ptauBlake2b: v.ptau.blake2b,
    },
    phase2: {
      contributions: setup.contributions,
      installed: [
        ...(previous.phase2.installed ?? []),
        { at, zkeySha256: v.zkeySha256, vkeySha256: v.vkeySha256, replaced: previous.vkeySha256 },
      ],
    },
    zkeySha256: v.zkeySha256,
    vkeySha256: v.vkeySha256,
  };
  // Every file is written beside its target first, then moved in: the key last but one,
  // the transcript (which loadArtifacts reads first) last.
  const tmp = (name: string) => join(art.dir, `.${name}.install-${process.pid}`);
  copyFileSync(zkey, tmp("final.zkey"));
  if (sha256File(tmp("final.zkey")) !== v.zkeySha256) {
    throw new VaultError("ZK_SETUP_INVALID", `${zkey} changed while it was being installed`);
  }
  writeFileSync(tmp("verification_key.json"), `${JSON.stringify(v.vkey, null, 1)}\n`);
  writeFileSync(tmp("transcript.json"), `${JSON.stringify(transcript, null, 2)}\n`);
  renameSync(tmp("verification_key.json"), art.vkeyPath);
  renameSync(tmp("final.zkey"), art.zkey);
  renameSync(tmp("transcript.json"), art.transcriptPath);
  return { previousVkeySha256: previous.vkeySha256, vkeySha256: v.vkeySha256, setup };
}

/** The verification key of a built set of artefacts, as written (for `--trust-vkey`). */
export function artefactVkeySha256(art: Pick<Artifacts, "vkeyPath">): string {
  return vkeySha256(JSON.parse(readFileSync(art.vkeyPath, "utf8")));
}
