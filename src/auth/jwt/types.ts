/** Agent-token types and limits shared by the ledger, issuing and verification (see index.ts). */
import type { Principal } from "../apikey/index.js";

export const MAX_TTL_SECONDS = 3600;
/**
 * Tokens from trusted issuers older than this are refused whatever their exp, so that a
 * revocation of a foreign jti (whose exp this vault never saw) can be forgotten after it.
 */
export const EXTERNAL_MAX_AGE_SECONDS = 86_400;
export const MAX_TOKEN_CHARS = 8192;

export interface IssueRequest {
  agentId: string;
  capabilities: string[];
  task?: string;
  ttlSeconds: number;
  /** Defaults to this vault's own audience; another vault's to mint a token for it. */
  audience?: string;
}

export interface IssuedToken {
  token: string;
  jti: string;
  kid: string;
  expiresAt: string;
}

/** What a verified token stands for; `issuer` and `jti` go into the audit log. */
export interface TokenPrincipal extends Principal {
  jti: string;
  issuer: string;
}
