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
