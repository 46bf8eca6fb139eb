/**
 * The operator's admin key is also an Ed25519 signing authority (RFC 8032): a seed is
 * derived from it with HKDF-SHA256 and the nodes are enrolled with its public key.
 * Admin actions that nodes must honour (create an agent, change a policy) carry an
 * authorization signed with it. The vault derives the private key only while serving
 * the admin's request and keeps only the signed authorizations, which it can show to
 * a node again later; holding the vault process at rest is not enough to widen a policy.
 */
import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from "node:crypto";
import { canonicalJson } from "../audit/canonical.js";
import { importPublic, signBytes, verifyBytes } from "../transport/identity.js";

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export type AdminAction =
  | { op: "agent.create"; agentId: string; policyVersion: number; policy: unknown }
  | { op: "policy.set"; agentId: string; version: number; policy: unknown }
  /**
   * A Lit-backed agent's policy, bound to its PKP's address: the pinned Lit Action
   * verifies it against the authority key built into the action before it signs, so a
   * vault cannot hand the action another agent's (wider) policy.
   */
  | { op: "lit.policy"; agentId: string; address: string; version: number; policy: unknown };

function adminSigningKey(adminKey: string): KeyObject {
  const seed = Buffer.from(
    hkdfSync("sha256", Buffer.from(adminKey, "utf8"), "agent-vault", "admin-authority/v1", 32),
  );
  return createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
}

export function adminPublicKey(adminKey: string): string {
  return createPublicKey(adminSigningKey(adminKey))
    .export({ type: "spki", format: "der" })
    .toString("base64");
}

export function authorize(adminKey: string, action: AdminAction): string {
  return signBytes(adminSigningKey(adminKey), Buffer.from(canonicalJson(action)));
}

export function isAuthorized(publicKey: string, action: AdminAction, signature: unknown): boolean {
  if (typeof signature !== "string") return false;
  return verifyBytes(importPublic(publicKey), Buffer.from(canonicalJson(action)), signature);
}
