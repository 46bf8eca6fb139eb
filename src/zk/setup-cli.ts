/**
 * `npm run circuits:setup [-- --n=64 --depth=4 --ptau=path/to/ceremony.ptau [--unlisted-ptau]]`
 * Builds (or reuses) the compliance circuit's r1cs, wasm, zkey, verification key and
 * setup transcript under circuits/build/. Defaults come from VAULT_ZK_BATCH and
 * VAULT_ZK_DEPTH (7 and 4, which fit the shipped development ptau; production: --n=64
 * with a public ceremony --ptau). A --ptau file must be one of the published ceremony files
 * (checked by its BLAKE2b-512 hash, src/zk/ptau.ts) unless --unlisted-ptau accepts it as a
 * development setup.
 */
import { parseArgs } from "node:util";
import { isVaultError } from "../errors/index.js";
import { loadZkConfig } from "./params.js";
import { ensureArtifacts, releaseCurve } from "./setup.js";

const { values } = parseArgs({
  options: {
    n: { type: "string" },
    depth: { type: "string" },
    ptau: { type: "string" },
    "unlisted-ptau": { type: "boolean", default: false },
  },
});
const defaults = loadZkConfig();
const started = Date.now();
try {
  const art = await ensureArtifacts({
    n: values.n ? Number(values.n) : defaults.n,
    depth: values.depth ? Number(values.depth) : defaults.depth,
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
  } else {
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
