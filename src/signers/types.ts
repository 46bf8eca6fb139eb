/**
 * The one signer seam both backends sit behind, below ethers: "sign this 32-byte
 * digest for this agent; here is the intent it encodes". Whoever implements it must
 * re-derive the digest from the intent and refuse a mismatch, so policy is always
 * checked against what is really being signed. Serialisation (EIP-191, EIP-712,
 * EIP-1559) stays in ethers, see ethers-signer.ts.
 */
import type { Signature } from "ethers";
import type { SignIntent } from "../policy/types.js";

export interface DigestSignRequest {
  agentId: string;
  /** 0x-prefixed 32-byte digest. */
  digest: string;
  intent: SignIntent;
  /** Who asks, for the audit log (defaults to the agent itself). */
  actor?: string;
}

export interface DigestSigningSeam {
  signDigest(req: DigestSignRequest): Promise<Signature>;
}

export const BACKEND_NAMES = ["local", "lit-v7", "lit-chipotle"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export function isBackendName(value: unknown): value is BackendName {
  return typeof value === "string" && (BACKEND_NAMES as readonly string[]).includes(value);
}

/** How a Lit-backed agent's key is held: shown by GET /v1/agents/:id, kept with the agent. */
export interface PkpInfo {
  /** v7: the PKP NFT token id (decimal string). */
  tokenId?: string;
  /** Chipotle: the wallet id returned by /create_wallet. */
  pkpId?: string;
  /** Uncompressed secp256k1 public key, 0x04… */
  publicKey: string;
  /** The Lit Action CID (IPFS v0, Qm…) the PKP is bound to, and nothing else. */
  actionCid: string;
  /** Chipotle: the group that holds exactly this PKP and this CID. */
  groupId?: string;
}

/** What a signature becomes for its caller (src/services/sign-result.ts shapes it). */
export type SignResult =
  | { kind: "message" | "typed-data"; signature: string; address: string }
  | { kind: "transaction"; signedTransaction: string; hash: string; address: string };
