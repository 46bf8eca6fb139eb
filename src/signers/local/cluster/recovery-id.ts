/**
 * The last check before the vault uses a threshold signature: it must verify under the
 * agent's key, and Ethereum needs its recovery id. DKLs23's combine returns (r, s) only.
 */
import { dataSlice, getAddress, getBytes, keccak256, Signature } from "ethers";
import { recover } from "tiny-secp256k1";
import type { DigestSignature, DigestSignRequest } from "./types.js";

/**
 * The recovery id (v) is the one whose recovered key is the agent's: the vault releases
 * nothing that does not verify under the agent's key. Recovery runs in libsecp256k1
 * (tiny-secp256k1, WebAssembly), 0.3 ms against 1.5 ms in JavaScript: it was a third of
 * the vault's CPU per signature. Half the time the first id is the right one.
 */
export function withRecoveryId(
  rs: { r: string; s: string },
  req: Pick<DigestSignRequest, "digest" | "address">,
  signers: number[],
): DigestSignature {
  const digest = getBytes(req.digest);
  const compact = getBytes(`0x${rs.r}${rs.s}`);
  for (const bit of [0, 1] as const) {
    if (recoveredAddress(compact, bit, digest) === req.address) {
      const sig = Signature.from({ r: `0x${rs.r}`, s: `0x${rs.s}`, v: 27 + bit });
      return { signature: sig.serialized, r: sig.r, s: sig.s, v: sig.v, signers };
    }
  }
  throw new Error("the combined signature does not verify under the agent's key");
}

function recoveredAddress(rs: Uint8Array, bit: 0 | 1, digest: Uint8Array) {
  try {
    const key = recover(digest, rs, bit, false);
    // The address of an uncompressed key (0x04 ‖ x ‖ y): the last 20 bytes of
    // keccak256(x ‖ y) (Ethereum Yellow Paper, appendix F); ethers' computeAddress would
    // first re-parse the point, a third of the cost of the recovery itself.
    return key ? getAddress(dataSlice(keccak256(key.subarray(1)), 12)) : undefined;
  } catch {
    return undefined; // r or s out of range: no key
  }
}
