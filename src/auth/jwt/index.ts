/**
 * Short-lived agent tokens: JWTs the vault signs (EdDSA, kid in the header) and JWTs
 * from trusted external issuers (another operator's vault, an identity provider) whose
 * keys come from a JWKS URL or an inline JWKS.
 *
 * Claims: iss, aud, iat, exp, jti, agent_id, capabilities, operator_id and, for a token
 * bound to a task, issued_for_task. A task-bound token is accepted only on requests that
 * name the same task (X-Task-Id); a request without the header is refused (fail closed).
 * Revocation is a SQLite list checked on every request (one primary-key lookup).
 */
import { randomBytes } from "node:crypto";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import type { AuditLog } from "../../audit/types.js";
import type { AuthConfig, TrustedIssuer } from "../../config/auth.js";
import { type ErrorCode, VaultError } from "../../errors/index.js";
import { addColumnIfMissing, type Db } from "../../store/db.js";
import type { Principal, Scope } from "../apikey/index.js";
import { isCapability, scopeOf, scopesFromCapabilities } from "./capabilities.js";
import type { TokenKeyStore } from "./keys.js";

export const MAX_TTL_SECONDS = 3600;
/**
 * Tokens from trusted issuers older than this are refused whatever their exp, so that a
 * revocation of a foreign jti (whose exp this vault never saw) can be forgotten after it.
 */
export const EXTERNAL_MAX_AGE_SECONDS = 86_400;
export const MAX_TOKEN_CHARS = 8192;
const EXTERNAL_ALGS = ["EdDSA", "Ed25519", "ES256", "ES384", "RS256", "PS256"];

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

export interface TokenService {
  issue(req: IssueRequest, by: Principal, actor: string): Promise<IssuedToken>;
  /** Verifies a bearer JWT; throws a VaultError with a specific code when it is refused. */
  verify(jwt: string, opts: { taskId?: string }): Promise<TokenPrincipal>;
  /** The agent an issued token belongs to, or undefined for a jti this vault never issued. */
  issuedFor(jti: string): { agentId: string } | undefined;
  revoke(jti: string, actor: string): { jti: string; revoked: boolean };
  /** Revokes every unexpired token issued against these API keys (they were revoked). */
  revokeIssuedWith(keyIds: string[], actor: string): string[];
  isRevoked(jti: string): boolean;
  rotate(actor: string): { kid: string; retired: string | undefined };
  jwks(): ReturnType<TokenKeyStore["jwks"]>;
}

function refuse(code: ErrorCode, message?: string): never {
  throw new VaultError(code, message);
}

/** Maps jose's failures onto the catalogue. */
export function joseFailure(err: unknown): VaultError {
  if (err instanceof VaultError) return err;
  const e = err as { code?: string; claim?: string; message?: string };
  switch (e.code) {
    case "ERR_JWT_EXPIRED":
      return new VaultError("TOKEN_EXPIRED");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return new VaultError("SIGNATURE_INVALID");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return new VaultError("SIGNATURE_INVALID", "no key of the issuer matches the token's kid");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (e.claim === "aud") return new VaultError("AUDIENCE_MISMATCH");
      if (e.claim === "iss") return new VaultError("ISSUER_UNKNOWN");
      return new VaultError("TOKEN_INVALID", `claim ${e.claim ?? "?"} is invalid`);
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return new VaultError("TOKEN_INVALID", "the token's algorithm is not accepted");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
    case "ERR_JOSE_NOT_SUPPORTED":
      return new VaultError("TOKEN_MALFORMED");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
      return new VaultError("TOKEN_INVALID", "the issuer's keys could not be fetched");
    default:
      return new VaultError("TOKEN_INVALID", "the token could not be verified");
  }
}

export function createTokenService(deps: {
  db: Db;
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
  keyIsLive?: (keyId: string) => boolean;
}): TokenService {
  const { db, audit, keys, config } = deps;
  const now = deps.now ?? Date.now;
  db.exec(`
    CREATE TABLE IF NOT EXISTS tokens (
      jti TEXT PRIMARY KEY, agent_id TEXT NOT NULL, kid TEXT NOT NULL, capabilities TEXT NOT NULL,
      task TEXT, audience TEXT NOT NULL, issued_ms INTEGER NOT NULL, exp_ms INTEGER NOT NULL,
      actor TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS token_revocations (
      jti TEXT PRIMARY KEY, revoked_ms INTEGER NOT NULL, exp_ms INTEGER, actor TEXT NOT NULL);
  `);
  // The API key a token was issued against: revoking the key revokes its live tokens.
  addColumnIfMissing(db, "tokens", "key_id", "TEXT");
  const q = {
    put: db.prepare(
      `INSERT INTO tokens (jti, agent_id, kid, capabilities, task, audience, issued_ms, exp_ms, actor, key_id)
       VALUES (@jti, @agent_id, @kid, @capabilities, @task, @audience, @issued_ms, @exp_ms, @actor, @key_id)`,
    ),
    liveByKey: db.prepare(
      "SELECT jti, agent_id, exp_ms FROM tokens WHERE key_id = ? AND exp_ms > ?",
    ),
    get: db.prepare("SELECT agent_id, exp_ms FROM tokens WHERE jti = ?"),
    revoked: db.prepare("SELECT 1 FROM token_revocations WHERE jti = ?").pluck(),
    revoke: db.prepare(
      "INSERT OR IGNORE INTO token_revocations (jti, revoked_ms, exp_ms, actor) VALUES (?, ?, ?, ?)",
    ),
    prune: db.prepare("DELETE FROM token_revocations WHERE exp_ms < ?"),
    pruneIssued: db.prepare("DELETE FROM tokens WHERE exp_ms < ?"),
  };

  const external = new Map<string, { trust: TrustedIssuer; getKey: JWTVerifyGetKey }>();
  for (const trust of config.trustedIssuers) {
    const getKey = trust.jwksUrl
      ? createRemoteJWKSet(new URL(trust.jwksUrl), {
          timeoutDuration: deps.jwksTimeoutMs ?? 3000,
          cooldownDuration: 30_000,
          cacheMaxAge: 10 * 60_000,
        })
      : createLocalJWKSet(trust.jwks as Parameters<typeof createLocalJWKSet>[0]);
    external.set(trust.issuer, { trust, getKey });
  }

  const ownKey: JWTVerifyGetKey = (header) => {
    const key = typeof header.kid === "string" ? keys.publicKey(header.kid) : undefined;
    if (!key) throw new VaultError("SIGNATURE_INVALID", "no key of this vault has that kid");
    return key;
  };

  const isRevoked = (jti: string) => q.revoked.get(jti) !== undefined;

  const principalFrom = (
    payload: JWTPayload,
    issuer: string,
    operatorId: string,
    ceiling: readonly string[] | undefined,
    taskId: string | undefined,
  ): TokenPrincipal => {
    const p = payload as JWTPayload & Record<string, unknown>;
    const { jti, agent_id: agentId, operator_id: op, issued_for_task: task } = p;
    if (typeof jti !== "string" || jti.length === 0 || jti.length > 128)
      refuse("TOKEN_INVALID", "jti is missing or invalid");
    if (isRevoked(jti)) refuse("TOKEN_REVOKED");
    if (typeof agentId !== "string" || agentId.length === 0 || agentId.length > 64)
      refuse("TOKEN_INVALID", "agent_id is missing or invalid");
    if (!Array.isArray(p.capabilities)) refuse("TOKEN_INVALID", "capabilities must be an array");
    if (op !== operatorId)
      refuse("TOKEN_INVALID", "operator_id is not the operator this issuer is trusted for");
    if (task !== undefined && (typeof task !== "string" || task.length > 128))
      refuse("TOKEN_INVALID", "issued_for_task is invalid");
    if (typeof task === "string" && taskId !== task) {
      refuse(
        "TASK_MISMATCH",
        taskId === undefined
          ? "the token is bound to a task: name it in the X-Task-Id header"
          : "the token was issued for another task",
      );
    }
    return {
      kind: "agent",
      keyId: `jwt:${jti}`,
      agentId,
      scopes: scopesFromCapabilities(p.capabilities, ceiling),
      via: "jwt",
      ...(typeof task === "string" ? { taskId: task } : {}),
      jti,
      issuer,
    };
  };

  return {
    async issue(req, by, actor) {
      if (
        !Number.isInteger(req.ttlSeconds) ||
        req.ttlSeconds < 1 ||
        req.ttlSeconds > MAX_TTL_SECONDS
      )
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
      const { kid, privateKey } = keys.active();
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
      db.transaction(() => {
        if (deps.keyIsLive && !deps.keyIsLive(by.keyId))
          throw new VaultError("INVALID_CREDENTIALS", "the key was revoked");
        // Expired an hour ago: no longer verifiable, nothing left to revoke.
        q.pruneIssued.run(now() - 3_600_000);
        q.put.run({
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
        keys.noteIssued(kid, exp * 1000);
        audit.append({
          type: "token.issued",
          agentId: req.agentId,
          actor,
          data: {
            jti,
            kid,
            capabilities: caps,
            task: req.task ?? null,
            audience,
            expiresAt: exp,
          },
        });
      }).immediate();
      return { token, jti, kid, expiresAt: new Date(exp * 1000).toISOString() };
    },

    async verify(jwt, opts) {
      if (jwt.length > MAX_TOKEN_CHARS) refuse("TOKEN_MALFORMED", "the token is too long");
      let unverified: JWTPayload;
      try {
        decodeProtectedHeader(jwt);
        unverified = decodeJwt(jwt);
      } catch {
        return refuse("TOKEN_MALFORMED");
      }
      const iss = unverified.iss;
      if (typeof iss !== "string") refuse("TOKEN_INVALID", "the token names no issuer");
      const own = iss === config.tokenIssuer;
      const ext = own ? undefined : external.get(iss);
      if (!own && !ext) refuse("ISSUER_UNKNOWN");
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(jwt, own ? ownKey : (ext?.getKey as JWTVerifyGetKey), {
          issuer: iss,
          audience: config.tokenAudience,
          algorithms: own ? ["EdDSA"] : EXTERNAL_ALGS,
          requiredClaims: ["exp", "iat", "jti"],
          currentDate: new Date(now()),
          clockTolerance: own ? 0 : 5,
          maxTokenAge: own ? MAX_TTL_SECONDS : EXTERNAL_MAX_AGE_SECONDS,
        }));
      } catch (err) {
        throw joseFailure(err);
      }
      if (own && (payload.exp as number) - (payload.iat as number) > MAX_TTL_SECONDS)
        refuse("TOKEN_INVALID", "the token lives longer than this vault issues");
      return principalFrom(
        payload,
        iss,
        own ? config.operatorId : (ext?.trust.operatorId as string),
        own ? undefined : ext?.trust.capabilities,
        opts.taskId,
      );
    },

    issuedFor(jti) {
      const row = q.get.get(jti) as { agent_id: string } | undefined;
      return row ? { agentId: row.agent_id } : undefined;
    },

    revoke(jti, actor) {
      const row = q.get.get(jti) as { agent_id: string; exp_ms: number } | undefined;
      const revoked = db
        .transaction(() => {
          q.prune.run(now());
          // A foreign jti's exp is unknown: keep its revocation as long as such a token lives.
          const exp = row?.exp_ms ?? now() + (EXTERNAL_MAX_AGE_SECONDS + 60) * 1000;
          const changed = q.revoke.run(jti, now(), exp, actor).changes === 1;
          if (changed) {
            audit.append({
              type: "token.revoked",
              agentId: row?.agent_id ?? null,
              actor,
              data: { jti, issuedHere: row !== undefined },
            });
          }
          return changed;
        })
        .immediate();
      return { jti, revoked: revoked || isRevoked(jti) };
    },

    revokeIssuedWith(keyIds, actor) {
      return db.transaction(() => {
        const jtis: string[] = [];
        for (const keyId of keyIds) {
          const live = q.liveByKey.all(keyId, now()) as Array<{
            jti: string;
            agent_id: string;
            exp_ms: number;
          }>;
          for (const t of live) {
            if (q.revoke.run(t.jti, now(), t.exp_ms, actor).changes !== 1) continue;
            audit.append({
              type: "token.revoked",
              agentId: t.agent_id,
              actor,
              data: { jti: t.jti, issuedHere: true, because: keyId },
            });
            jtis.push(t.jti);
          }
        }
        return jtis;
      })();
    },

    isRevoked,

    rotate(actor) {
      const r = keys.rotate();
      audit.append({
        type: "token.keys.rotated",
        actor,
        data: { kid: r.kid, retired: r.retired ?? null },
      });
      return r;
    },

    jwks: () => keys.jwks(),
  };
}
