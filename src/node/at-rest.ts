/**
 * Encryption at rest for a node's key shares and presignatures: AES-256-GCM under
 * the node's own 256-bit storage key, random 96-bit IV, with associated data naming
 * the row (so a ciphertext copied into another row does not decrypt).
 * Layout: iv (12) | tag (16) | ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface AtRestCipher {
  seal(plain: Uint8Array, rowId: string): Buffer;
  open(sealed: Buffer, rowId: string): Buffer;
}

export function createAtRestCipher(key: Buffer): AtRestCipher {
  if (key.length !== 32) throw new Error("storage key must be 32 bytes");
  return {
    seal(plain, rowId) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(rowId));
      const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), ct]);
    },
    open(sealed, rowId) {
      const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, 12));
      decipher.setAAD(Buffer.from(rowId));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
    },
  };
}

/** Reads the node's storage key from `file`, creating a random one (mode 0600) first. */
export function loadOrCreateStorageKey(file: string): Buffer {
  if (existsSync(file)) return Buffer.from(readFileSync(file, "utf8").trim(), "hex");
  const key = randomBytes(32);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, key.toString("hex"), { mode: 0o600 });
  return key;
}
