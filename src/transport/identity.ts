/**
 * Ed25519 (RFC 8032) signing identities and X25519 (RFC 7748) agreement keys for the
 * vault and each signer node, through node:crypto (OpenSSL). Public keys travel as
 * base64 of their SPKI DER encoding; private keys stay in a 0600 file.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface Identity {
  signing: KeyObject;
  agreement: KeyObject;
  /** Public halves, as shared with peers. */
  publicIdentity: PublicIdentity;
}

export interface PublicIdentity {
  /** Ed25519 public key, base64 SPKI DER. */
  signingKey: string;
  /** X25519 public key, base64 SPKI DER. */
  agreementKey: string;
}

function exportPublic(key: KeyObject): string {
  return createPublicKey(key).export({ type: "spki", format: "der" }).toString("base64");
}

export function importPublic(b64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(b64, "base64"), format: "der", type: "spki" });
}

function toIdentity(signing: KeyObject, agreement: KeyObject): Identity {
  return {
    signing,
    agreement,
    publicIdentity: { signingKey: exportPublic(signing), agreementKey: exportPublic(agreement) },
  };
}

export function generateIdentity(): Identity {
  return toIdentity(
    generateKeyPairSync("ed25519").privateKey,
    generateKeyPairSync("x25519").privateKey,
  );
}

/** Loads the identity stored at `file`, creating it (mode 0600) on first use. */
export function loadOrCreateIdentity(file: string): Identity {
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, "utf8")) as { signing: string; agreement: string };
    const load = (b64: string) =>
      createPrivateKey({ key: Buffer.from(b64, "base64"), format: "der", type: "pkcs8" });
    return toIdentity(load(stored.signing), load(stored.agreement));
  }
  const identity = generateIdentity();
  const der = (k: KeyObject) => k.export({ type: "pkcs8", format: "der" }).toString("base64");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({ signing: der(identity.signing), agreement: der(identity.agreement) }),
    { mode: 0o600 },
  );
  return identity;
}

export function signBytes(key: KeyObject, data: Buffer): string {
  return sign(null, data, key).toString("base64");
}

export function verifyBytes(publicKey: KeyObject, data: Buffer, signature: string): boolean {
  try {
    return verify(null, data, publicKey, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}
