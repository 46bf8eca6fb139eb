/**
 * `npm run circuits:setup [-- --n=64 --depth=4 --ptau=path/to/ceremony.ptau]`
 * Builds (or reuses) the compliance circuit's r1cs, wasm, zkey, verification key and
 * setup transcript under circuits/build/. Defaults come from VAULT_ZK_BATCH and
 * VAULT_ZK_DEPTH (3 and 4, which fit the shipped development ptau; production: --n=64
 * with a public ceremony --ptau).
 */
import { parseArgs } from "node:util";
import { loadZkConfig } from "./params.js";
import { ensureArtifacts } from "./setup.js";

const { values } = parseArgs({
  options: {
    n: { type: "string" },
    depth: { type: "string" },
    ptau: { type: "string" },
  },
});
const defaults = loadZkConfig();
const started = Date.now();
const art = await ensureArtifacts({
  n: values.n ? Number(values.n) : defaults.n,
  depth: values.depth ? Number(values.depth) : defaults.depth,
  ...(values.ptau ? { ptau: values.ptau } : defaults.ptau ? { ptau: defaults.ptau } : {}),
  ...(defaults.buildRoot ? { buildRoot: defaults.buildRoot } : {}),
  log: (line) => console.error(line),
});
console.log(
  JSON.stringify(
    {
      dir: art.dir,
      setup: art.setup,
      constraints: art.transcript.circuit.constraints,
      seconds: (Date.now() - started) / 1000,
    },
    null,
    2,
  ),
);
if (art.setup === "development") {
  console.error(
    "WARNING: development setup: whoever ran it could forge proofs. Use --ptau=<public ceremony file> in production.",
  );
}
process.exit(0);
