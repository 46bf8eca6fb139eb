/**
 * Secrets (API keys, the admin key) are random 256-bit strings shown once and stored
 * only as SHA-256 digests; comparisons are constant-time (crypto.timingSafeEqual).
 * High-entropy keys need no slow KDF: a digest cannot be brute-forced back.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** True when `secret` hashes to `expectedHash`, in time independent of where they differ. */
export function secretMatches(secret: string, expectedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), "hex");
  const expected = Buffer.from(expectedHash, "hex");
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}
