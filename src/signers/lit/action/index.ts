/**
 * The policy Lit Action as the Lit backends deploy it (issue 10): one source
 * (check.ts, built from src/policy), two committed templates (./templates/, one per
 * runtime) whose CIDs are pinned in ./pins.ts. An operator's action is its runtime's
 * template with the operator's admin-authority public key substituted, so each operator's
 * CID is deterministic and every PKP is bound to exactly that code.
 *
 * The templates are read from ./templates next to this module: under tsx from src/, and
 * from dist/ after `npm run build` (which copies them there, scripts/build-lit-action.mjs).
 * ipfs-only-hash is imported lazily so loading this module costs no IPFS code.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BackendName } from "../../backend.js";
import { AUTHORITY_KEY_PLACEHOLDER, rawAuthorityKey } from "./check.js";

export type { ActionRefusal, ActionResult, RefusalCode } from "./check.js";
export { AUTHORITY_KEY_PLACEHOLDER } from "./check.js";
export { TEMPLATE_CIDS } from "./pins.js";

export type LitRuntime = Exclude<BackendName, "local">;

export const TEMPLATE_FILES: Record<LitRuntime, string> = {
  "lit-v7": "policy-action-v7.js",
  "lit-chipotle": "policy-action-chipotle.js",
};

const cache = new Map<LitRuntime, string>();

/** The committed template of a runtime's action (the key placeholder still in it). */
export function actionTemplate(runtime: LitRuntime): string {
  let text = cache.get(runtime);
  if (text === undefined) {
    const file = TEMPLATE_FILES[runtime];
    if (file === undefined) throw new TypeError(`unknown Lit runtime: ${String(runtime)}`);
    text = readFileSync(fileURLToPath(new URL(`./templates/${file}`, import.meta.url)), "utf8");
    cache.set(runtime, text);
  }
  return text;
}

/**
 * The action code an operator deploys: the template with `authorityKeyB64` (base64 SPKI
 * DER of an Ed25519 key, as adminPublicKey() returns it) in place of the placeholder.
 * Throws on anything else, so no other text can be spliced into the code.
 */
export function actionCode(runtime: LitRuntime, authorityKeyB64: string): string {
  if (typeof authorityKeyB64 !== "string" || rawAuthorityKey(authorityKeyB64) === undefined) {
    throw new TypeError("the authority key must be a base64 SPKI DER Ed25519 public key");
  }
  const template = actionTemplate(runtime);
  const parts = template.split(AUTHORITY_KEY_PLACEHOLDER);
  if (parts.length !== 2) throw new Error(`the ${runtime} template must hold one key placeholder`);
  return parts.join(authorityKeyB64);
}

/** The IPFS CID (v0, Qm…) of action code, as Lit computes it (ipfs-only-hash defaults). */
export async function actionCid(code: string): Promise<string> {
  const Hash = await import("ipfs-only-hash");
  return Hash.of(code);
}
