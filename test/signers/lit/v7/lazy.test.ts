/**
 * Loading the lit-v7 entry (what the signer registry imports when a lit-v7 backend is
 * configured) and building the backend loads no Lit package and no IPFS hashing: they
 * load on the first createKey / signDigest (issue 10: Lit packages only when used).
 * Checked in a child process, whose module cache is its own.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { it } from "node:test";

const PROBE = `
const { createRequire } = await import("node:module");
const { createLitV7Backend } = await import("./src/signers/lit/v7/index.ts");
createLitV7Backend({
  network: "datil-dev",
  operatorKey: "0x" + "11".repeat(32),
  authorityKey: "MCowBQYDK2VwAyEA" + "A".repeat(43) + "=",
});
const require = createRequire(import.meta.url);
console.log(JSON.stringify(Object.keys(require.cache)));
`;

it("the lit-v7 entry loads no @lit-protocol package and no ipfs-only-hash", () => {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", PROBE],
    {
      encoding: "utf8",
    },
  );
  const loaded = JSON.parse(out.trim().split("\n").at(-1) ?? "[]") as string[];
  assert.ok(loaded.length > 0, "the probe sees the module cache");
  assert.deepEqual(
    loaded.filter((p) => /@lit-protocol|ipfs-only-hash/.test(p)),
    [],
  );
});
