/**
 * Configuration of the JWT and verifiable-credential front doors, parsed from the
 * environment that src/config/index.ts hands over (nothing here reads process.env).
 */
import { type Env, int } from "./env.js";
import { ConfigError } from "./error.js";

export interface TrustedIssuer {
  issuer: string;
  /** One of jwksUrl (fetched, cached, refetched on an unknown kid) or an inline JWKS. */
  jwksUrl?: string;
  jwks?: { keys: Array<Record<string, unknown>> };
  /** The operator_id its tokens must carry. */
  operatorId: string;
  /** Optional ceiling: capabilities beyond these are dropped. */
  capabilities?: string[];
  /**
   * The issuer's revocation push stream (its GET /v1/events/stream) and a file holding the
   * operator API key (AUDIT) it gave this vault. With it, this vault refuses the issuer's
   * revoked tokens as soon as the event arrives, and all of its tokens while the stream
   * is stale (fail closed).
   */
  revocationFeed?: { url: string; apiKeyFile: string };
}

export interface TrustedVcIssuer {
  did: string;
  /** Optional ceiling on the capabilities its credentials grant. */
  capabilities?: string[];
}

export interface AuthConfig {
  /** This operator's name: the operator_id claim of tokens this vault issues. */
  operatorId: string;
  /** `iss` of the tokens this vault issues. */
  tokenIssuer: string;
  /** `aud` this vault requires of tokens and presentations it accepts. */
  tokenAudience: string;
  /** Other issuers whose JWTs this vault accepts (another operator's vault, an IdP). */
  trustedIssuers: TrustedIssuer[];
  /** DIDs whose AgentAuthorization credentials this vault accepts. */
  trustedVcIssuers: TrustedVcIssuer[];
  /** Extra CA (PEM file) trusted when resolving did:web over HTTPS: private PKI, tests. */
  didWebCaFile: string | undefined;
  /**
   * Signing and paying need a presentation beside the API key or token (all-of): the
   * agent's DID credential as a second factor on every request that uses its key.
   */
  signRequiresPresentation: boolean;
  /** Longest delegation chain accepted, in links (VAULT_DELEGATION_MAX_DEPTH, default 8). */
  delegationMaxDepth: number;
  /** A revocation feed silent for longer than this fails closed (VAULT_REVOCATION_STALE_MS). */
  revocationStaleMs: number;
  /**
   * Trust anchors (did:web) whose member operators' delegations this vault follows
   * (VAULT_TRUST_ANCHORS, README "Cross-operator trust").
   */
  trustAnchors: string[];
  /** Issuers of AP2 payment mandates (VAULT_TRUSTED_MANDATE_ISSUERS): {issuer, jwks}. */
  trustedMandateIssuers: Array<{ issuer: string; jwks: { keys: Array<Record<string, unknown>> } }>;
}

function jsonList(env: Env, name: string): unknown[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} must be a JSON array`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError(`${name} must be a JSON array`);
  return parsed;
}

function optionalStrings(name: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((c) => typeof c !== "string"))
    throw new ConfigError(`${name}.capabilities must be an array of strings`);
  return v as string[];
}

function feedOf(name: string, v: unknown): TrustedIssuer["revocationFeed"] {
  if (v === undefined) return undefined;
  const o = (v ?? {}) as Record<string, unknown>;
  if (typeof o.url !== "string" || !/^https?:\/\/\S+$/.test(o.url))
    throw new ConfigError(`${name}.url must be an http(s) URL`);
  if (typeof o.apiKeyFile !== "string" || o.apiKeyFile === "")
    throw new ConfigError(`${name}.apiKeyFile must name a file`);
  return { url: o.url, apiKeyFile: o.apiKeyFile };
}

export function parseTrustedIssuers(env: Env): TrustedIssuer[] {
  const name = "VAULT_TRUSTED_ISSUERS";
  return jsonList(env, name).map((item, i) => {
    const o = (item ?? {}) as Record<string, unknown>;
    if (typeof o.issuer !== "string" || o.issuer === "")
      throw new ConfigError(`${name}[${i}].issuer must be a non-empty string`);
    if (typeof o.operatorId !== "string" || o.operatorId === "")
      throw new ConfigError(`${name}[${i}].operatorId must be a non-empty string`);
    const hasUrl = typeof o.jwksUrl === "string";
    const jwks = o.jwks as { keys?: unknown } | undefined;
    const hasJwks = typeof jwks === "object" && jwks !== null && Array.isArray(jwks.keys);
    if (hasUrl === hasJwks)
      throw new ConfigError(`${name}[${i}] needs exactly one of jwksUrl or jwks ({keys: [...]})`);
    if (hasUrl && !/^https?:\/\/\S+$/.test(o.jwksUrl as string))
      throw new ConfigError(`${name}[${i}].jwksUrl must be an http(s) URL`);
    const capabilities = optionalStrings(`${name}[${i}]`, o.capabilities);
    const feed = feedOf(`${name}[${i}].revocationFeed`, o.revocationFeed);
    return {
      issuer: o.issuer,
      operatorId: o.operatorId,
      ...(feed ? { revocationFeed: feed } : {}),
      ...(hasUrl ? { jwksUrl: o.jwksUrl as string } : { jwks: jwks as TrustedIssuer["jwks"] }),
      ...(capabilities ? { capabilities } : {}),
    };
  });
}

export function parseTrustedVcIssuers(env: Env): TrustedVcIssuer[] {
  const name = "VAULT_TRUSTED_VC_ISSUERS";
  return jsonList(env, name).map((item, i) => {
    const o = (typeof item === "string" ? { did: item } : (item ?? {})) as Record<string, unknown>;
    if (typeof o.did !== "string" || !/^did:[a-z0-9]+:\S+$/.test(o.did))
      throw new ConfigError(`${name}[${i}] must be a DID or {did, capabilities?}`);
    const capabilities = optionalStrings(`${name}[${i}]`, o.capabilities);
    return { did: o.did, ...(capabilities ? { capabilities } : {}) };
  });
}

export function parseMandateIssuers(env: Env): AuthConfig["trustedMandateIssuers"] {
  const name = "VAULT_TRUSTED_MANDATE_ISSUERS";
  return jsonList(env, name).map((item, i) => {
    const o = (item ?? {}) as Record<string, unknown>;
    const jwks = o.jwks as { keys?: unknown } | undefined;
    if (typeof o.issuer !== "string" || o.issuer === "")
      throw new ConfigError(`${name}[${i}].issuer must be a non-empty string`);
    if (typeof jwks !== "object" || jwks === null || !Array.isArray(jwks.keys))
      throw new ConfigError(`${name}[${i}].jwks must be a JWK set ({keys: [...]})`);
    return { issuer: o.issuer, jwks: { keys: jwks.keys as Array<Record<string, unknown>> } };
  });
}

export function parseTrustAnchors(env: Env): string[] {
  const name = "VAULT_TRUST_ANCHORS";
  return jsonList(env, name).map((d, i) => {
    if (typeof d !== "string" || !/^did:web:[A-Za-z0-9.%-]+$/.test(d))
      throw new ConfigError(`${name}[${i}] must be a did:web DID of a host (did:web:example.com)`);
    return d;
  });
}

function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? "").trim().toLowerCase();
  if (raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw new ConfigError(`${name} must be true or false`);
}

export function parseAuthConfig(env: Env): AuthConfig {
  const operatorId = env.VAULT_OPERATOR_ID || "local";
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(operatorId))
    throw new ConfigError("VAULT_OPERATOR_ID must be 1-64 characters of A-Z a-z 0-9 . _ : -");
  const tokenIssuer = env.VAULT_TOKEN_ISSUER || `urn:agent-vault:${operatorId}`;
  return {
    operatorId,
    tokenIssuer,
    tokenAudience: env.VAULT_TOKEN_AUDIENCE || tokenIssuer,
    trustedIssuers: parseTrustedIssuers(env),
    trustedVcIssuers: parseTrustedVcIssuers(env),
    didWebCaFile: env.VAULT_DID_WEB_CA_FILE || undefined,
    signRequiresPresentation: flag(env, "VAULT_SIGN_REQUIRES_PRESENTATION"),
    delegationMaxDepth: int(env, "VAULT_DELEGATION_MAX_DEPTH", 8, 1, 64),
    revocationStaleMs: int(env, "VAULT_REVOCATION_STALE_MS", 2000, 100, 600_000),
    trustAnchors: parseTrustAnchors(env),
    trustedMandateIssuers: parseMandateIssuers(env),
  };
}
