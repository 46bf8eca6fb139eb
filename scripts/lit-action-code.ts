/**
 * Writes an operator's policy Lit Action and prints its CID (issue 10), so an operator
 * or an auditor can check, from source, the exact code a Lit agent's PKP is bound to:
 * the committed template (src/signers/lit/action/templates) with the operator's
 * admin-authority public key substituted (actionCode), named by ipfs-only-hash as Lit
 * names it (actionCid). The key is public: the vault keeps it as `admin_public_key`.
 *
 *   npm run lit:action -- --runtime=lit-chipotle --authority-key=<base64 SPKI> [--out=FILE]
 *
 * Prints the CID on stdout; with --out, also writes the code (e.g. to pin it on IPFS).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { actionCid, actionCode, type LitRuntime } from "../src/signers/lit/action/index.js";

const { values } = parseArgs({
  options: {
    runtime: { type: "string" },
    "authority-key": { type: "string" },
    out: { type: "string" },
  },
});
const runtime = values.runtime;
if (runtime !== "lit-v7" && runtime !== "lit-chipotle") {
  console.error("--runtime must be lit-v7 or lit-chipotle");
  process.exit(2);
}
const key = values["authority-key"] ?? "";
let code: string;
try {
  code = actionCode(runtime as LitRuntime, key);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
if (values.out !== undefined) writeFileSync(values.out, code);
console.log(await actionCid(code));
