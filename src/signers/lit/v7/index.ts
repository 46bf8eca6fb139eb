/**
 * The lit-v7 backend's entry, loaded by the signer registry with a dynamic import only
 * when a lit-v7 backend is configured (issue 10: the local default loads no Lit package).
 */
export { createLitV7Backend } from "./backend.js";
export type { LitV7Config } from "./config.js";
export { isLitV7Network, LIT_V7_NETWORKS, type LitV7Network } from "./networks.js";
export type { LitV7Contracts, LitV7NodeClient, LitV7Sdk } from "./sdk.js";
