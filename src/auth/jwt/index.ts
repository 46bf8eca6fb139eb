/**
 * Short-lived agent tokens: JWTs the vault signs (EdDSA, kid in the header) and JWTs
 * from trusted external issuers (another operator's vault, an identity provider) whose
 * keys come from a JWKS URL or an inline JWKS.
 *
 * Claims: iss, aud, iat, exp, jti, agent_id, capabilities, operator_id and, for a token
 * bound to a task, issued_for_task. A task-bound token is accepted only on requests that
 * name the same task (X-Task-Id); a request without the header is refused (fail closed).
 * Revocation is a list in the database (behind the storage seam, src/store/sql) checked on
 * every request (one primary-key lookup).
 *
 * One factory over four parts: ledger.ts (tables, issued tokens, revocations), issue.ts,
 * verify.ts (signature and claim checks) and remote-jwks.ts (trusted issuers' keys).
 */
import type { AuditLog } from "../../audit/types.js";
import type { AuthConfig } from "../../config/auth.js";
import type { VaultError } from "../../errors/index.js";
import type { Sql } from "../../store/sql/types.js";
import type { Principal } from "../apikey/index.js";
import { issueToken } from "./issue.js";
import type { PublicJwk, TokenKeyStore } from "./keys.js";
import { openTokenLedger } from "./ledger.js";
import { type IssuerKeys, trustedIssuerKeys } from "./remote-jwks.js";
import type { IssuedToken, IssueRequest, TokenPrincipal } from "./types.js";
import { createTokenVerifier } from "./verify.js";

export {
  EXTERNAL_MAX_AGE_SECONDS,
  type IssuedToken,
  type IssueRequest,
  MAX_TOKEN_CHARS,
  MAX_TTL_SECONDS,
  type TokenPrincipal,
} from "./types.js";
export { joseFailure } from "./verify.js";

export interface TokenService {
  issue(req: IssueRequest, by: Principal, actor: string): Promise<IssuedToken>;
  /** Verifies a bearer JWT; throws a VaultError with a specific code when it is refused. */
  verify(jwt: string, opts: { taskId?: string }): Promise<TokenPrincipal>;
  /** The agent an issued token belongs to, or undefined for a jti this vault never issued. */
  issuedFor(jti: string): Promise<{ agentId: string } | undefined>;
  revoke(jti: string, actor: string): Promise<{ jti: string; revoked: boolean }>;
  /**
   * Revokes every unexpired token issued against these API keys (they were revoked); inside
   * a caller's transaction (the keys' revocation) it joins it.
   */
  revokeIssuedWith(keyIds: string[], actor: string): Promise<string[]>;
  isRevoked(jti: string): Promise<boolean>;
  rotate(actor: string): Promise<{ kid: string; retired: string | undefined }>;
  jwks(): Promise<{ keys: PublicJwk[] }>;
}

type Awaitable<T> = T | Promise<T>;

export async function createTokenService(deps: {
  /** The same Sql the audit log and the API keys use (their transactions are shared). */
  sql: Sql;
  audit: AuditLog;
  keys: TokenKeyStore;
  config: AuthConfig;
  now?: () => number;
  /** Timeout for fetching a trusted issuer's JWKS, ms. */
  jwksTimeoutMs?: number;
  /**
   * Whether the API key a token is issued against is still live, checked in the same
   * transaction that records the token: a key revoked while the token was being signed
   * cannot leave a token behind that its revocation did not see.
   */
  keyIsLive?: (keyId: string) => Promise<boolean>;
  /** Trusted issuers' keys, when the caller shares them (with the revocation feeds). */
  external?: IssuerKeys;
  /** Other issuers' revocation feeds (src/services/revocation-feeds.ts). */
  remote?: {
    refusal(issuer: string, jti: string): Awaitable<VaultError | undefined>;
    isRevoked(subject: string): Awaitable<boolean>;
  };
}): Promise<TokenService> {
  const { sql, audit, keys, config } = deps;
  const now = deps.now ?? Date.now;
  const ledger = await openTokenLedger(sql, audit, now);
  const external = deps.external ?? trustedIssuerKeys(config.trustedIssuers, deps.jwksTimeoutMs);
  const issueDeps = { sql, audit, keys, ledger, config, now, keyIsLive: deps.keyIsLive };
  return {
    issue: (req, by, actor) => issueToken(issueDeps, req, by, actor),
    verify: createTokenVerifier({ keys, ledger, external, config, now, remote: deps.remote }),
    issuedFor: ledger.issuedFor,
    revoke: ledger.revoke,
    revokeIssuedWith: ledger.revokeIssuedWith,
    isRevoked: async (jti) =>
      (await ledger.isRevoked(jti)) || ((await deps.remote?.isRevoked(`jwt:${jti}`)) ?? false),
    async rotate(actor) {
      const r = await keys.rotate();
      await audit.append({
        type: "token.keys.rotated",
        actor,
        data: { kid: r.kid, retired: r.retired ?? null },
      });
      return r;
    },
    jwks: () => keys.jwks(),
  };
}
