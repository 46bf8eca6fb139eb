/**
 * Revocation status for verifiers that poll: a W3C Bitstring Status List (v1.0). Each root
 * delegation this vault issues carries a BitstringStatusListEntry in its `meta.status`
 * (statusPurpose "revocation", its statusListIndex, and the list's URL); the list is a
 * BitstringStatusListCredential whose encodedList is the multibase (base64url, "u")
 * GZIP of a bitstring of at least 131,072 bits (16 KB, §2.1 herd privacy), bit i set when
 * entry i is revoked, most significant bit of the first byte first (§3.2). It is secured
 * as a JWT (VC-JOSE-COSE, typ "vc+jwt") signed with the vault's credential key, the key of
 * its did:key.
 */
import type { KeyObject } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { SignJWT } from "jose";

export const MIN_BITS = 131_072;

/** The GZIP'd bitstring, multibase base64url ("u" prefix, no padding). */
export function encodeList(revoked: Iterable<number>, size = MIN_BITS): string {
  let max = size;
  const set = [...revoked];
  for (const i of set) if (i + 1 > max) max = Math.ceil((i + 1) / 8) * 8;
  const bytes = new Uint8Array(max / 8);
  for (const i of set) bytes[i >> 3] = (bytes[i >> 3] ?? 0) | (0x80 >> (i & 7));
  return `u${gzipSync(bytes).toString("base64url")}`;
}

/** Whether bit `index` is set in an encodedList (for tests and verifiers in this repo). */
export function isSet(encodedList: string, index: number): boolean {
  if (!encodedList.startsWith("u")) throw new Error("encodedList must be multibase base64url");
  const bytes = gunzipSync(Buffer.from(encodedList.slice(1), "base64url"));
  return ((bytes[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}

export function statusEntry(listUrl: string, index: number) {
  return {
    id: `${listUrl}#${index}`,
    type: "BitstringStatusListEntry",
    statusPurpose: "revocation",
    statusListIndex: String(index),
    statusListCredential: listUrl,
  };
}

export function signStatusList(opts: {
  listUrl: string;
  issuer: string;
  revoked: Iterable<number>;
  key: KeyObject;
  now: number;
}): Promise<string> {
  const validFrom = new Date(opts.now).toISOString().replace(/\.\d{3}Z$/, "Z");
  const credential = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    id: opts.listUrl,
    type: ["VerifiableCredential", "BitstringStatusListCredential"],
    issuer: opts.issuer,
    validFrom,
    credentialSubject: {
      id: `${opts.listUrl}#list`,
      type: "BitstringStatusList",
      statusPurpose: "revocation",
      encodedList: encodeList(opts.revoked),
    },
  };
  const did = opts.issuer;
  return new SignJWT(credential)
    .setProtectedHeader({
      alg: "EdDSA",
      typ: "vc+jwt",
      kid: `${did}#${did.slice("did:key:".length)}`,
    })
    .setIssuer(did)
    .setIssuedAt(Math.floor(opts.now / 1000))
    .sign(opts.key);
}
