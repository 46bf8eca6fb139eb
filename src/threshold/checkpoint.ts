/**
 * Audit checkpoints signed by the cluster's own threshold key, as EIP-712 typed
 * data so any EIP-712 tool can check them. Version 2 (current):
 * Checkpoint { seq, head, zkHead }, where head is the SHA-256 audit chain head at
 * that sequence number and zkHead the Poseidon chain head beside it (src/audit/commitment.ts).
 * Version 1, Checkpoint { seq, head }, is still verified for checkpoints signed before
 * the Poseidon chain existed (they carry no zkHead).
 */
import { recoverAddress, TypedDataEncoder, toBeHex } from "ethers";

export const CLUSTER_KEY_ID = "cluster";

export const CHECKPOINT_DOMAIN = { name: "agent-vault checkpoint", version: "2" } as const;
export const CHECKPOINT_TYPES = {
  Checkpoint: [
    { name: "seq", type: "uint256" },
    { name: "head", type: "bytes32" },
    { name: "zkHead", type: "uint256" },
  ],
};
export const CHECKPOINT_DOMAIN_V1 = { name: "agent-vault checkpoint", version: "1" } as const;
export const CHECKPOINT_TYPES_V1 = {
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
  /** Poseidon chain head (decimal); absent only in version-1 checkpoints. */
  zkHead?: string;
}

export function checkpointDigest(seq: number, head: string, zkHead?: string): string {
  if (zkHead === undefined) {
    return TypedDataEncoder.hash(CHECKPOINT_DOMAIN_V1, CHECKPOINT_TYPES_V1, {
      seq,
      head: `0x${head}`,
    });
  }
  return TypedDataEncoder.hash(CHECKPOINT_DOMAIN, CHECKPOINT_TYPES, {
    seq,
    head: `0x${head}`,
    zkHead: toBeHex(BigInt(zkHead)),
  });
}

export function checkpointSigner(
  seq: number,
  head: string,
  signature: string,
  zkHead?: string,
): string {
  return recoverAddress(checkpointDigest(seq, head, zkHead), signature);
}
