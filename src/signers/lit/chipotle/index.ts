/**
 * The lit-chipotle backend as the registry loads it (src/signers/registry.ts, a dynamic
 * import so the local default never loads it): the operator's configuration
 * (LIT_CHIPOTLE_URL, the account key from LIT_CHIPOTLE_API_KEY_FILE) and the admin
 * authority's public key, which is baked into the pinned Chipotle policy action
 * (src/signers/lit/action), so each operator's action, and CID, is its own.
 */
import type { SignerBackend } from "../../backend.js";
import { actionCid, actionCode } from "../action/index.js";
import { chipotleBackend } from "./backend.js";
import type { ChipotleClientOptions } from "./client.js";

export { cidHash } from "./backend.js";

export interface ChipotleBackendOptions extends Omit<ChipotleClientOptions, "baseUrl"> {
  /** The server's base URL (the client adds /core/v1/). */
  url: string;
  /** The account API key: management calls only. Secret. */
  apiKey: string;
  /** The admin authority's public key, base64 SPKI DER (adminPublicKey()). */
  authorityPublicKey: string;
  log?: (line: string) => void;
}

export function createChipotleBackend(options: ChipotleBackendOptions): SignerBackend {
  const { url, authorityPublicKey, ...rest } = options;
  // Throws now, at load, on a key that is not an Ed25519 SPKI: no agent gets a bad action.
  const code = actionCode("lit-chipotle", authorityPublicKey);
  return chipotleBackend({
    ...rest,
    baseUrl: url,
    loadAction: async () => ({ code, cid: await actionCid(code) }),
  });
}
