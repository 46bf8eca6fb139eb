/**
 * Turns a threshold signature into what each endpoint returns: the 65-byte signature
 * for messages and typed data, and for transactions the signed EIP-1559 serialisation
 * built by ethers (never by hand) with its hash.
 */
import { Signature, type Transaction } from "ethers";
import { buildTransaction } from "../policy/decode.js";
import type { SignIntent } from "../policy/types.js";
import type { SignResult } from "../signers/types.js";

export type { SignResult } from "../signers/types.js";

export function shapeResult(intent: SignIntent, signature: string, address: string): SignResult {
  if (intent.kind !== "transaction") return { kind: intent.kind, signature, address };
  const tx: Transaction = buildTransaction(intent.tx);
  tx.signature = Signature.from(signature);
  // No second recovery here: the cluster already checked this signature against the
  // agent's address over tx.unsignedHash.
  return {
    kind: "transaction",
    signedTransaction: tx.serialized,
    hash: tx.hash as string,
    address,
  };
}
