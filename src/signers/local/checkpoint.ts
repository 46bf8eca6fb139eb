/**
 * Audit checkpoints signed by the cluster's own threshold key, as EIP-712 typed
 * data so any EIP-712 tool can check them: Checkpoint { seq, head }, where head
 * is the SHA-256 audit chain head at that sequence number.
 */
import { recoverAddress, TypedDataEncoder } from "ethers";

export const CLUSTER_KEY_ID = "cluster";

export const CHECKPOINT_DOMAIN = { name: "agent-vault checkpoint", version: "1" } as const;
export const CHECKPOINT_TYPES = {
  Checkpoint: [
    { name: "seq", type: "uint256" },
    { name: "head", type: "bytes32" },
  ],
};

export interface CheckpointIntent {
  kind: "checkpoint";
  seq: number;
  /** 64 hex chars, no 0x. */
  head: string;
}

export function checkpointDigest(seq: number, head: string): string {
  return TypedDataEncoder.hash(CHECKPOINT_DOMAIN, CHECKPOINT_TYPES, { seq, head: `0x${head}` });
}

export function checkpointSigner(seq: number, head: string, signature: string): string {
  return recoverAddress(checkpointDigest(seq, head), signature);
}
