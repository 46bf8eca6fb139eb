/**
 * Signer backends, chosen per agent by name (HashiCorp Vault's factory + backend
 * pattern): "local" is the DKLs23 cluster of signer nodes, "lit-v7" a PKP on a Lit v7
 * (Datil-compatible) network, "lit-chipotle" a PKP on Lit's Chipotle REST API. Each
 * backend creates an agent's key, learns its policy, and signs a digest only after it
 * has re-derived that digest from the intent and checked the policy itself (the nodes
 * for "local", the pinned Lit Action for the Lit backends).
 */
import type { AdminAction } from "../auth/admin-authority.js";
import type { Policy, SignIntent } from "../policy/types.js";
import type { BackendName, PkpInfo } from "./types.js";

export { BACKEND_NAMES, type BackendName, isBackendName, type PkpInfo } from "./types.js";

/** A policy version with the operator's authorization for it (src/auth/admin-authority.ts). */
export interface AuthorizedPolicy {
  version: number;
  policy: Policy;
  /** Base64 Ed25519 signature by the admin authority over the backend's admin action. */
  authorization: string;
}

export interface CreatedKey {
  address: string;
  /** Uncompressed public key, 0x04… */
  publicKey: string;
  pkp?: PkpInfo;
}

export interface BackendSignRequest {
  agentId: string;
  /** The agent's next signing sequence number (local nodes record it; Lit ignores it). */
  seq: number;
  intent: SignIntent;
  /** 0x 32-byte digest the vault derived from the intent; the backend re-derives it. */
  digest: string;
  address: string;
  /**
   * Lit backends: the agent's PkpInfo and its current policy with the `lit.policy`
   * authorization, as the vault stored them (Lit backends keep no agent state of their
   * own, so a restart loses nothing). The local backend ignores both.
   */
  pkp?: PkpInfo;
  policy?: AuthorizedPolicy;
}

export interface BackendSignature {
  /** 0x r‖s‖v, 65 bytes, v 27/28. */
  signature: string;
  /** Who took part: node indices for "local", the action CID for the Lit backends. */
  signers: number[] | string;
}

export interface SignerBackend {
  readonly name: BackendName;
  /**
   * Creates the agent's key. `authorize` signs an admin action with the operator's admin
   * key while the admin's request is being served (the vault never stores that key).
   */
  createKey(input: {
    agentId: string;
    /** Local only: the signer cluster that generates and holds the key (placement). */
    cluster?: string;
    policy?: { version: number; policy: Policy };
    authorize: (action: AdminAction) => string;
    onProgress?: (line: string) => void;
  }): Promise<CreatedKey & { policyAuthorization?: string }>;
  /** Makes a new policy version binding; returns the authorization to store with it. */
  setPolicy(input: {
    agentId: string;
    address: string;
    version: number;
    policy: Policy;
    authorize: (action: AdminAction) => string;
  }): Promise<{ authorization: string }>;
  signDigest(req: BackendSignRequest): Promise<BackendSignature>;
  /** Local only: tops up presignatures after a signature or a new key. */
  refill?(agentId: string): void;
  /** Local only: whether no node recorded `seq` (so a refusal may release it). */
  seqIsFree?(agentId: string, seq: number): Promise<boolean>;
  close?(): Promise<void>;
}
