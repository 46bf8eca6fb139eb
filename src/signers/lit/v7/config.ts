/**
 * What the lit-v7 backend is built from. The seam (src/config, src/signers/registry.ts)
 * reads LIT_V7_NETWORK, LIT_V7_RPC_URL and LIT_V7_OPERATOR_KEY_FILE (secrets from files,
 * never argv) and passes them here; `sdk` is for tests only.
 */
import type { LitV7Network } from "./networks.js";
import type { LitV7Sdk } from "./sdk.js";

export interface LitV7Config {
  network: LitV7Network;
  /** Chronicle Yellowstone JSON-RPC URL for minting; the SDK's default when absent. */
  rpcUrl?: string;
  /** 0x secp256k1 private key of the operator's wallet: pays for minting, signs sessions. */
  operatorKey: string;
  /** The admin authority public key (base64, adminPublicKey()) baked into the action. */
  authorityKey: string;
  /** Capacity Credits NFT owned by the operator (datil-test, datil); none on datil-dev. */
  capacityTokenId?: string;
  /** Test seam: fakes for the SDK objects. Defaults load @lit-protocol lazily. */
  sdk?: Partial<LitV7Sdk>;
}
