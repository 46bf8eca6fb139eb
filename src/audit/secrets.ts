/**
 * Last line of defence against a programming mistake that would copy a secret
 * into the audit log, where it would stay forever (the chain forbids editing
 * it out). Whole field names are matched, case- and separator-insensitively
 * ("api_key", "API-KEY", "apiKey"), at any depth; substrings are not, so
 * keyId, publicKey, tokenId, jti and scopes pass.
 */
import { VaultError } from "../errors/index.js";

/** Lower-case, without "_" or "-". */
export const SECRET_FIELD_NAMES: ReadonlySet<string> = new Set([
  "key",
  "apikey",
  "secret",
  "secretkey",
  "privatekey",
  "password",
  "passphrase",
  "token",
  "accesstoken",
  "refreshtoken",
  "share",
  "keyshare",
  "adminkey",
  "mnemonic",
  "seedphrase",
]);

export function isSecretFieldName(name: string): boolean {
  return SECRET_FIELD_NAMES.has(name.toLowerCase().replace(/[_-]/g, ""));
}

/** Throws if any object key in `value` (plain JSON, acyclic) is secret-named. */
export function assertNoSecretFields(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) assertNoSecretFields(item);
  } else if (typeof value === "object" && value !== null) {
    for (const [name, inner] of Object.entries(value)) {
      if (isSecretFieldName(name)) {
        throw new VaultError("INTERNAL", "refusing to audit a secret field");
      }
      assertNoSecretFields(inner);
    }
  }
}
