/**
 * Keys of trusted external issuers (VAULT_TRUSTED_ISSUERS): a JWKS URL fetched by jose's
 * createRemoteJWKSet (cached 10 min, refetched on an unknown kid at most every 30 s, with a
 * timeout), or an inline JWKS.
 */
import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import type { TrustedIssuer } from "../../config/auth.js";

export type IssuerKeys = Map<string, { trust: TrustedIssuer; getKey: JWTVerifyGetKey }>;

export function trustedIssuerKeys(issuers: readonly TrustedIssuer[], timeoutMs = 3000): IssuerKeys {
  const external: IssuerKeys = new Map();
  for (const trust of issuers) {
    const getKey = trust.jwksUrl
      ? createRemoteJWKSet(new URL(trust.jwksUrl), {
          timeoutDuration: timeoutMs,
          cooldownDuration: 30_000,
          cacheMaxAge: 10 * 60_000,
        })
      : createLocalJWKSet(trust.jwks as Parameters<typeof createLocalJWKSet>[0]);
    external.set(trust.issuer, { trust, getKey });
  }
  return external;
}
