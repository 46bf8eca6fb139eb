/**
 * `npm run circuits:setup [-- --n=64 --depth=4 [--system=plonk] --ptau=path/to/ceremony.ptau [--unlisted-ptau]]`
 * Builds (or reuses) the compliance circuit's r1cs, wasm, zkey, verification key and
 * setup transcript under circuits/build/. Defaults come from VAULT_ZK_BATCH and
 * VAULT_ZK_DEPTH (7 and 4, which fit the shipped development ptau; production: --n=64
 * with a public ceremony --ptau). A --ptau file must be one of the published ceremony files
 * (checked by its BLAKE2b-512 hash, src/zk/ptau.ts) unless --unlisted-ptau accepts it as a
 * development setup. --system=plonk (or VAULT_ZK_SYSTEM=plonk) builds a PLONK key instead of
 * a Groth16 one: no phase 2, so over a listed ptau nothing but the public ceremony's secret
 * exists ("universal-ceremony").
 */
import { parseArgs } from "node:util";
import { isVaultError } from "../errors/index.js";
import { loadZkConfig } from "./params.js";
import { ensureArtifacts, releaseCurve } from "./setup.js";

const { values } = parseArgs({
  options: {
    n: { type: "string" },
    depth: { type: "string" },
    system: { type: "string" },
    ptau: { type: "string" },
    "unlisted-ptau": { type: "boolean", default: false },
  },
});
const defaults = loadZkConfig();
const started = Date.now();
const system = values.system ?? defaults.system;
if (system !== "groth16" && system !== "plonk") {
  console.error(`--system must be groth16 or plonk (got ${system})`);
  process.exit(2);
}
try {
  const art = await ensureArtifacts({
    n: values.n ? Number(values.n) : defaults.n,
    depth: values.depth ? Number(values.depth) : defaults.depth,
    system,
    ...(values.ptau ? { ptau: values.ptau } : defaults.ptau ? { ptau: defaults.ptau } : {}),
    ...(defaults.buildRoot ? { buildRoot: defaults.buildRoot } : {}),
    allowUnlistedPtau: values["unlisted-ptau"] === true,
    log: (line) => console.error(line),
  });
  await releaseCurve();
  console.log(
    JSON.stringify(
      {
        dir: art.dir,
        system: art.setup.system,
        setup: art.setup.setup,
        phase1: art.setup.phase1.file,
        contributions: art.setup.contributions,
        verificationKeySha256: art.transcript.vkeySha256,
        constraints: art.transcript.circuit.constraints,
        ...(art.transcript.circuit.plonkGates
          ? { plonkConstraints: art.transcript.circuit.plonkGates }
          : {}),
        seconds: (Date.now() - started) / 1000,
      },
      null,
      2,
    ),
  );
  if (art.setup.setup === "development") {
    console.error(
      "WARNING: development setup: whoever made its ptau could forge proofs. Use --ptau=<a published powersOfTau28_hez_final_XX.ptau> in production.",
    );
  } else if (art.setup.system === "groth16") {
    console.error(
      "NOTE: phase 2 holds only this machine's contribution: an auditor should add theirs (agent-vault zk contribute, then zk install).",
    );
  }
  process.exit(0);
} catch (err) {
  if (!isVaultError(err)) throw err;
  console.error(`${err.code}: ${err.message}`);
  process.exit(1);
}
