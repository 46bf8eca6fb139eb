/**
 * The lit-chipotle backend's entry points. `createChipotleBackend` (./backend.ts) takes
 * the server's base URL, the account key and a loader of the operator's built action;
 * the registry (src/signers/registry.ts) gives it the action from actionCode().
 * `chipotleBackendFor` does that wiring itself from the admin authority's public key,
 * which is baked into the pinned Chipotle policy action (src/signers/lit/action), so each
 * operator's action, and CID, is its own: the live script and the end-to-end tests use it.
 */
import type { SignerBackend } from "../../backend.js";
import { actionCid, actionCode } from "../action/index.js";
import { createChipotleBackend } from "./backend.js";
import type { ChipotleClientOptions } from "./client.js";

export { type ChipotleBackendConfig, cidHash, createChipotleBackend } from "./backend.js";

export interface ChipotleBackendOptions extends Omit<ChipotleClientOptions, "baseUrl"> {
  /** The server's base URL, LIT_CHIPOTLE_URL (the client adds /core/v1/). */
  url: string;
  /** The account API key: management calls only. Secret. */
  apiKey: string;
  /** The admin authority's public key, base64 SPKI DER (adminPublicKey()). */
  authorityPublicKey: string;
  log?: (line: string) => void;
}

export function chipotleBackendFor(options: ChipotleBackendOptions): SignerBackend {
  const { url, authorityPublicKey, ...rest } = options;
  // Throws now, at load, on a key that is not an Ed25519 SPKI: no agent gets a bad action.
  const code = actionCode("lit-chipotle", authorityPublicKey);
  return createChipotleBackend({
    ...rest,
    baseUrl: url,
    loadAction: async () => ({ code, cid: await actionCid(code) }),
  });
}
