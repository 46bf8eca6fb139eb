/**
 * Verifiable credentials with DID anchors.
 *
 * An agent authenticates by presenting a JWT Verifiable Presentation, signed by its own
 * DID key (did:key, did:web, did:pkh eip155), whose nonce is a one-time challenge from
 * this vault and whose aud is this vault's audience. The presentation carries a JWT VC of
 * type AgentAuthorization from a trusted issuer DID, whose subject is the presenting DID:
 *   { id: <agent DID>, agentId, operator, capabilities: [...], spendLimit?: {asset: amount},
 *     humanPrincipal? }
 * Challenges are stored in the vault's database (store.ts), expire after `challengeTtlMs`
 * and are used once, whichever process handed them out.
 *
 * The vault also issues each agent a credential (type AgentVaultBinding) binding the
 * agent's DID to its vault address, signed by the vault's own did:key, so third parties
 * can check where an address comes from with any did:key resolver.
 */
import { randomBytes } from "node:crypto";
import { bytesToMultibase, decodeJWT, EdDSASigner } from "did-jwt";
import { createVerifiableCredentialJwt, verifyCredential, verifyPresentation } from "did-jwt-vc";
import { Resolver } from "did-resolver";
import { getResolver as keyResolver } from "key-did-resolver";
import { getResolver as pkhResolver } from "pkh-did-resolver";
import type { AuthConfig } from "../../config/auth.js";
import { type ErrorCode, VaultError } from "../../errors/index.js";
import type { Sql } from "../../store/sql/types.js";
import type { Principal } from "../apikey/index.js";
import { scopesFromCapabilities } from "../jwt/capabilities.js";
import type { TokenKeyStore } from "../jwt/keys.js";
import { createWebDidResolver, type WebDidOptions } from "./did-web.js";
import { openCredentialStore, TooManyChallenges } from "./store.js";

export const AGENT_AUTHORIZATION = "AgentAuthorization";
export const AGENT_VAULT_BINDING = "AgentVaultBinding";
export const MAX_PRESENTATION_CHARS = 65_536;

export interface Challenge {
  challenge: string;
  audience: string;
  expiresAt: string;
}

export interface VcPrincipal extends Principal {
  did: string;
  credentialIssuer: string;
}

export interface CredentialService {
  /** The vault's own DID (did:key of its Ed25519 credential key). */
  readonly did: string;
  challenge(): Promise<Challenge>;
  /** Verifies a presentation; throws a VaultError with a specific code when it is refused. */
  authenticate(presentation: string): Promise<VcPrincipal>;
  /**
   * Revokes a holder DID (every presentation it makes) or a credential id (a VC's `id` /
   * `jti`); true if it was not revoked before. The caller audits it (credential.revoked).
   */
  revoke(id: string, actor: string): Promise<boolean>;
  /** True once `id` (a holder DID or a credential id) is revoked. */
  isRevoked(id: string): Promise<boolean>;
  /** A JWT VC binding the agent's DID (or did:pkh of its address) to its vault address. */
  agentCredential(agent: { id: string; address: string }): Promise<{
    credential: string;
    issuer: string;
    subject: string;
  }>;
}

function refuse(code: ErrorCode, message?: string): never {
  throw new VaultError(code, message);
}

/** Maps did-jwt / did-jwt-vc failures (prefixed messages) onto the catalogue. */
export function didJwtFailure(err: unknown, expired: ErrorCode = "CREDENTIAL_EXPIRED"): VaultError {
  if (err instanceof VaultError) return err;
  const msg = String((err as Error)?.message ?? "");
  if (/JWT has expired/.test(msg)) return new VaultError(expired);
  if (/^invalid_config/.test(msg)) return new VaultError("AUDIENCE_MISMATCH");
  if (/^(invalid_signature|no_suitable_keys)/.test(msg)) return new VaultError("SIGNATURE_INVALID");
  if (/^resolver_error/.test(msg)) return new VaultError("DID_UNRESOLVABLE");
  if (/Incorrect format JWT|invalid_argument/.test(msg))
    return new VaultError("CREDENTIAL_MALFORMED");
  if (/^auth_error/.test(msg)) return new VaultError("CHALLENGE_INVALID");
  return new VaultError("CREDENTIAL_INVALID", "the presentation or its credential is not valid");
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function didKeyOf(publicKeyRaw: Uint8Array): string {
  return `did:key:${bytesToMultibase(publicKeyRaw, "base58btc", "ed25519-pub")}`;
}

/** The credential service over the vault's database (its tables migrated first). */
export async function createCredentialService(deps: {
  sql: Sql;
  config: AuthConfig;
  keys: TokenKeyStore;
  web?: WebDidOptions;
  challengeTtlMs?: number;
  /** Outstanding (unused, unexpired) challenges allowed at once. */
  maxOutstanding?: number;
  now?: () => number;
}): Promise<CredentialService> {
  const { config, keys } = deps;
  const now = deps.now ?? Date.now;
  const ttl = deps.challengeTtlMs ?? 120_000;
  const maxOutstanding = deps.maxOutstanding ?? 10_000;
  const resolver = new Resolver({
    ...keyResolver(),
    ...pkhResolver(),
    ...createWebDidResolver(deps.web),
  });
  const trusted = new Map(config.trustedVcIssuers.map((t) => [t.did, t]));
  const store = await openCredentialStore(deps.sql);
  const isRevoked = (id: string) => store.isRevoked(id);

  const credKey = await keys.credentialKey();
  const rawPublic = Buffer.from(
    (credKey.publicKey.export({ format: "jwk" }) as { x: string }).x,
    "base64url",
  );
  const vaultDid = didKeyOf(rawPublic);
  const signer = EdDSASigner(
    Buffer.from((credKey.privateKey.export({ format: "jwk" }) as { d: string }).d, "base64url"),
  );
  const options = { skewTime: 5 };

  const checkChallenge = async (nonce: unknown) => {
    if (typeof nonce !== "string" || nonce.length > 128)
      refuse("CHALLENGE_INVALID", "the presentation carries no challenge (nonce)");
    const row = await store.challenge(nonce);
    if (!row) refuse("CHALLENGE_INVALID");
    if (row.used_ms !== null) refuse("CHALLENGE_REPLAYED");
    if (row.expires_ms <= now()) refuse("CHALLENGE_EXPIRED");
    return nonce;
  };

  const checkAuthorization = async (vcJwt: unknown, holder: string) => {
    if (typeof vcJwt !== "string") refuse("CREDENTIAL_INVALID", "credentials must be JWT VCs");
    let iss: string;
    try {
      iss = decodeJWT(vcJwt).payload.iss as string;
    } catch {
      return refuse("CREDENTIAL_MALFORMED", "the credential is not a well-formed JWT");
    }
    const trust = trusted.get(iss);
    if (!trust) refuse("ISSUER_UNKNOWN", "the credential's issuer DID is not trusted");
    let verified: Awaited<ReturnType<typeof verifyCredential>>;
    try {
      verified = await verifyCredential(vcJwt, resolver, options);
    } catch (err) {
      throw didJwtFailure(err);
    }
    const vc = verified.verifiableCredential;
    const credentialId = vc.id ?? (verified.payload as { jti?: unknown }).jti;
    if (typeof credentialId === "string" && (await isRevoked(credentialId)))
      refuse("CREDENTIAL_REVOKED");
    if (!asArray(vc.type).includes(AGENT_AUTHORIZATION))
      refuse("CREDENTIAL_INVALID", `the credential is not an ${AGENT_AUTHORIZATION}`);
    const s = vc.credentialSubject as Record<string, unknown>;
    if (s.id !== holder)
      refuse("CREDENTIAL_INVALID", "the credential's subject is not the presenting DID");
    if (s.operator !== config.operatorId)
      refuse("CREDENTIAL_INVALID", "the credential is for another operator");
    if (typeof s.agentId !== "string" || s.agentId.length === 0 || s.agentId.length > 64)
      refuse("CREDENTIAL_INVALID", "the credential names no agentId");
    if (!Array.isArray(s.capabilities))
      refuse("CREDENTIAL_INVALID", "the credential's capabilities must be an array");
    const limit = s.spendLimit;
    if (
      limit !== undefined &&
      (typeof limit !== "object" ||
        limit === null ||
        Array.isArray(limit) ||
        Object.values(limit).some((v) => typeof v !== "string" || !/^\d+(\.\d+)?$/.test(v)))
    )
      refuse("CREDENTIAL_INVALID", "spendLimit must map assets to decimal amounts");
    if (s.humanPrincipal !== undefined && typeof s.humanPrincipal !== "string")
      refuse("CREDENTIAL_INVALID", "humanPrincipal must be a string");
    return {
      iss,
      agentId: s.agentId,
      scopes: scopesFromCapabilities(s.capabilities, trust.capabilities),
      spendLimit: limit as Record<string, string> | undefined,
      humanPrincipal: s.humanPrincipal as string | undefined,
    };
  };

  return {
    did: vaultDid,

    async challenge() {
      const at = now();
      const challenge = randomBytes(24).toString("base64url");
      try {
        await store.putChallenge(challenge, at + ttl, at, {
          pruneBefore: at - 10 * ttl,
          maxOutstanding,
        });
      } catch (err) {
        if (err instanceof TooManyChallenges)
          throw new VaultError("RATE_LIMITED", "too many outstanding challenges");
        throw err;
      }
      return {
        challenge,
        audience: config.tokenAudience,
        expiresAt: new Date(at + ttl).toISOString(),
      };
    },

    async authenticate(presentation) {
      if (presentation.length > MAX_PRESENTATION_CHARS)
        refuse("CREDENTIAL_MALFORMED", "the presentation is too long");
      let payload: Record<string, unknown>;
      try {
        payload = decodeJWT(presentation).payload as Record<string, unknown>;
      } catch {
        return refuse("CREDENTIAL_MALFORMED");
      }
      if (typeof payload.vp !== "object" || payload.vp === null)
        refuse("CREDENTIAL_MALFORMED", "the JWT is not a verifiable presentation");
      // Cheap checks first: nothing is resolved over the network for a stale or foreign request.
      const challenge = await checkChallenge(payload.nonce);
      if (!asArray(payload.aud as string | string[] | undefined).includes(config.tokenAudience))
        refuse("AUDIENCE_MISMATCH");
      const vcs = asArray(
        (payload.vp as { verifiableCredential?: unknown }).verifiableCredential as unknown[],
      );
      if (vcs.length === 0) refuse("CREDENTIAL_INVALID", "the presentation holds no credential");
      if (vcs.length > 4)
        refuse("CREDENTIAL_INVALID", "the presentation holds too many credentials");
      for (const vc of vcs) {
        let iss: unknown;
        try {
          iss = typeof vc === "string" ? decodeJWT(vc).payload.iss : undefined;
        } catch {
          refuse("CREDENTIAL_MALFORMED", "a credential is not a well-formed JWT");
        }
        if (typeof iss !== "string") refuse("CREDENTIAL_INVALID", "credentials must be JWT VCs");
        if (!trusted.has(iss))
          refuse("ISSUER_UNKNOWN", "the credential's issuer DID is not trusted");
      }
      const holder = payload.iss;
      if (typeof holder !== "string" || !holder.startsWith("did:") || holder.length > 512)
        refuse("CREDENTIAL_MALFORMED", "the presentation names no holder DID");
      if (await isRevoked(holder)) refuse("CREDENTIAL_REVOKED");
      // Used up before any signature is checked: each challenge buys one verification, so
      // forged presentations cannot make the vault verify signatures for free.
      if (!(await store.useChallenge(challenge, now()))) {
        await checkChallenge(challenge); // names why: replayed (a concurrent use) or expired
        refuse("CHALLENGE_REPLAYED");
      }
      // The credentials first (their issuers are trusted DIDs), and each must name the holder
      // as its subject: the holder's DID is resolved (did:web: fetched) only once a trusted
      // issuer has vouched for it, never for an arbitrary DID a caller names.
      const auths: Array<Awaited<ReturnType<typeof checkAuthorization>>> = [];
      for (const vc of vcs) auths.push(await checkAuthorization(vc, holder));
      let verified: Awaited<ReturnType<typeof verifyPresentation>>;
      try {
        verified = await verifyPresentation(presentation, resolver, {
          ...options,
          challenge,
          domain: config.tokenAudience,
        });
      } catch (err) {
        throw didJwtFailure(err);
      }
      if (verified.issuer !== holder)
        refuse("CREDENTIAL_INVALID", "the presentation's signer is not its holder");
      const [first] = auths;
      // Unreachable while an empty presentation is refused above; kept so that it stays a 401.
      if (!first) refuse("CREDENTIAL_INVALID", "the presentation holds no credential");
      if (auths.some((a) => a.agentId !== first.agentId))
        refuse("CREDENTIAL_INVALID", "the credentials name different agents");
      // Several credentials: each one's limits apply (capabilities intersect, all caps hold).
      const scopes = new Set([...first.scopes].filter((s) => auths.every((a) => a.scopes.has(s))));
      const spendLimits = auths.flatMap((a) => (a.spendLimit ? [a.spendLimit] : []));
      await store.bindDid(first.agentId, holder, first.iss, now());
      return {
        kind: "agent",
        keyId: `vc:${holder}`,
        agentId: first.agentId,
        scopes,
        via: "vc",
        ...(spendLimits.length ? { spendLimits } : {}),
        ...(first.humanPrincipal ? { humanPrincipal: first.humanPrincipal } : {}),
        did: holder,
        credentialIssuer: first.iss,
      };
    },

    revoke: (id, actor) => store.revoke(id, now(), actor),
    isRevoked,

    async agentCredential(agent) {
      const subject = (await store.didOf(agent.id)) ?? `did:pkh:eip155:1:${agent.address}`;
      const nowS = Math.floor(now() / 1000);
      const credential = await createVerifiableCredentialJwt(
        {
          sub: subject,
          nbf: nowS,
          vc: {
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            type: ["VerifiableCredential", AGENT_VAULT_BINDING],
            credentialSubject: {
              agentId: agent.id,
              vaultAddress: agent.address,
              operator: config.operatorId,
            },
          },
        },
        { did: vaultDid, signer, alg: "EdDSA" },
      );
      return { credential, issuer: vaultDid, subject };
    },
  };
}
