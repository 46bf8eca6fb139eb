/**
 * Capabilities are what a token or credential lets an agent do. They map one to one
 * onto API-key scopes, in lower case: read, write, execute, spend, audit. ADMIN is never
 * a capability (tokens and credentials are bound to one agent). Unknown capabilities in
 * a presented credential are ignored (another issuer may know more); at issuance they
 * are refused.
 */
import type { Scope } from "../apikey/index.js";

export const CAPABILITIES = ["read", "write", "execute", "spend", "audit"] as const;
export type Capability = (typeof CAPABILITIES)[number];

export function isCapability(c: unknown): c is Capability {
  return typeof c === "string" && (CAPABILITIES as readonly string[]).includes(c);
}

export function scopeOf(c: Capability): Scope {
  return c.toUpperCase() as Scope;
}

/** Known capabilities of `list` as scopes, limited to `ceiling` when one is given. */
export function scopesFromCapabilities(list: unknown, ceiling?: readonly string[]): Set<Scope> {
  const out = new Set<Scope>();
  if (!Array.isArray(list)) return out;
  for (const c of list) {
    if (isCapability(c) && (ceiling === undefined || ceiling.includes(c))) out.add(scopeOf(c));
  }
  return out;
}
