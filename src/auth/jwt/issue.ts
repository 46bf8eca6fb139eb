/**
 * Issuing agent tokens: EdDSA JWTs (RFC 7519, signed with jose) with kid in the header and
 * the claims agent_id, capabilities, operator_id and, for a task-bound token,
 * issued_for_task. A token carries only capabilities within its issuer's scopes, and is
 * recorded and audited in the same transaction that checks the issuing key is still live
 * (under the lock the API keys' revocation takes, so the two cannot interleave on any engine).
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import type { AuditLog } from "../../audit/types.js";
import type { AuthConfig } from "../../config/auth.js";
import { VaultError } from "../../errors/index.js";
import type { Sql } from "../../store/sql/types.js";
import { KEY_REVOCATION_LOCK, type Principal, type Scope } from "../apikey/index.js";
import { isCapability, scopeOf } from "./capabilities.js";
import type { TokenKeyStore } from "./keys.js";
import type { TokenLedger } from "./ledger.js";
import { type IssuedToken, type IssueRequest, MAX_TTL_SECONDS } from "./types.js";

export interface IssueDeps {
  sql: Sql;
  audit: AuditLog;
  keys: TokenKeyStore;
  ledger: TokenLedger;
  config: AuthConfig;
  now: () => number;
  keyIsLive?: (keyId: string) => Promise<boolean>;
}

/** The request's capabilities, deduplicated, once they are valid and within `by`'s scopes. */
function checkedCapabilities(req: IssueRequest, by: Principal): string[] {
  if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 1 || req.ttlSeconds > MAX_TTL_SECONDS)
    throw new VaultError("VALIDATION_FAILED", `ttlSeconds must be 1..${MAX_TTL_SECONDS}`, {
      field: "ttlSeconds",
    });
  const caps = [...new Set(req.capabilities)];
  if (caps.length === 0 || !caps.every(isCapability)) {
    throw new VaultError(
      "VALIDATION_FAILED",
      "capabilities must be a non-empty subset of read, write, execute, spend, audit",
      { field: "capabilities" },
    );
  }
  if (!by.scopes.has("ADMIN") && caps.some((c) => !by.scopes.has(scopeOf(c) as Scope))) {
    throw new VaultError(
      "FORBIDDEN_SCOPE",
      "a token can only carry capabilities within the issuer's own scopes",
    );
  }
  return caps;
}

export async function issueToken(
  deps: IssueDeps,
  req: IssueRequest,
  by: Principal,
  actor: string,
): Promise<IssuedToken> {
  const { sql, audit, keys, ledger, config, now } = deps;
  const caps = checkedCapabilities(req, by);
  const { kid, privateKey } = await keys.active();
  const jti = `tok_${randomBytes(12).toString("base64url")}`;
  const iat = Math.floor(now() / 1000);
  const exp = iat + req.ttlSeconds;
  const audience = req.audience ?? config.tokenAudience;
  const token = await new SignJWT({
    agent_id: req.agentId,
    capabilities: caps,
    operator_id: config.operatorId,
    ...(req.task ? { issued_for_task: req.task } : {}),
  })
    .setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" })
    .setIssuer(config.tokenIssuer)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(privateKey);
  await sql.transaction(async (tx) => {
    if (deps.keyIsLive) {
      // A revocation of the key either committed before (it is seen here) or waits for this
      // transaction (and then sees the token and revokes it too).
      await tx.lock(KEY_REVOCATION_LOCK);
      if (!(await deps.keyIsLive(by.keyId)))
        throw new VaultError("INVALID_CREDENTIALS", "the key was revoked");
    }
    await ledger.record({
      jti,
      agent_id: req.agentId,
      kid,
      capabilities: caps.join(","),
      task: req.task ?? null,
      audience,
      issued_ms: iat * 1000,
      exp_ms: exp * 1000,
      actor,
      key_id: by.keyId,
    });
    await keys.noteIssued(kid, exp * 1000);
    await audit.append({
      type: "token.issued",
      agentId: req.agentId,
      actor,
      data: { jti, kid, capabilities: caps, task: req.task ?? null, audience, expiresAt: exp },
    });
  });
  return { token, jti, kid, expiresAt: new Date(exp * 1000).toISOString() };
}
