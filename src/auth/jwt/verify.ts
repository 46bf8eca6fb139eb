/**
 * Verifying bearer JWTs (RFC 7519 with jose): the vault's own (EdDSA, its token keys by
 * kid, at most MAX_TTL_SECONDS) and trusted issuers' (their JWKS, at most
 * EXTERNAL_MAX_AGE_SECONDS old). Then the claim checks: jti not revoked, agent_id,
 * capabilities (capped by the issuer's ceiling), operator_id, and a task-bound token only
 * on requests that name the same task in X-Task-Id (fail closed without the header).
 * Every refusal is a VaultError with its own code from the catalogue.
 */
import {
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { AuthConfig } from "../../config/auth.js";
import { type ErrorCode, VaultError } from "../../errors/index.js";
import { scopesFromCapabilities } from "./capabilities.js";
import type { TokenKeyStore } from "./keys.js";
import type { TokenLedger } from "./ledger.js";
import type { IssuerKeys } from "./remote-jwks.js";
import {
  EXTERNAL_MAX_AGE_SECONDS,
  MAX_TOKEN_CHARS,
  MAX_TTL_SECONDS,
  type TokenPrincipal,
} from "./types.js";

const EXTERNAL_ALGS = ["EdDSA", "Ed25519", "ES256", "ES384", "RS256", "PS256"];

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

interface Issuer {
  name: string;
  operatorId: string;
  ceiling: readonly string[] | undefined;
}

/** The claim checks once the signature verified: who the token stands for. */
async function principalFrom(
  payload: JWTPayload,
  issuer: Issuer,
  isRevoked: (jti: string) => Promise<boolean>,
  taskId: string | undefined,
): Promise<TokenPrincipal> {
  const p = payload as JWTPayload & Record<string, unknown>;
  const { jti, agent_id: agentId, operator_id: op, issued_for_task: task } = p;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 128)
    refuse("TOKEN_INVALID", "jti is missing or invalid");
  if (await isRevoked(jti)) refuse("TOKEN_REVOKED");
  if (typeof agentId !== "string" || agentId.length === 0 || agentId.length > 64)
    refuse("TOKEN_INVALID", "agent_id is missing or invalid");
  if (!Array.isArray(p.capabilities)) refuse("TOKEN_INVALID", "capabilities must be an array");
  if (op !== issuer.operatorId)
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
    scopes: scopesFromCapabilities(p.capabilities, issuer.ceiling),
    via: "jwt",
    ...(typeof task === "string" ? { taskId: task } : {}),
    jti,
    issuer: issuer.name,
  };
}

export interface VerifyDeps {
  keys: TokenKeyStore;
  ledger: TokenLedger;
  external: IssuerKeys;
  config: AuthConfig;
  now: () => number;
  /** Another issuer's revocation feed: stale (fail closed) or revoked jti (issue 13). */
  remote?:
    | {
        refusal(
          issuer: string,
          jti: string,
        ): VaultError | undefined | Promise<VaultError | undefined>;
      }
    | undefined;
}

export function createTokenVerifier(deps: VerifyDeps) {
  const { keys, ledger, external, config, now } = deps;
  const ownKey: JWTVerifyGetKey = async (header) => {
    const key = typeof header.kid === "string" ? await keys.publicKey(header.kid) : undefined;
    if (!key) throw new VaultError("SIGNATURE_INVALID", "no key of this vault has that kid");
    return key;
  };

  return async function verify(jwt: string, opts: { taskId?: string }): Promise<TokenPrincipal> {
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
    const issuer: Issuer = own
      ? { name: iss, operatorId: config.operatorId, ceiling: undefined }
      : {
          name: iss,
          operatorId: ext?.trust.operatorId as string,
          ceiling: ext?.trust.capabilities,
        };
    if (!own && typeof payload.jti === "string") {
      const refused = await deps.remote?.refusal(iss, payload.jti);
      if (refused) throw refused;
    }
    return principalFrom(payload, issuer, ledger.isRevoked, opts.taskId);
  };
}
