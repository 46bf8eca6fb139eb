/**
 * Wiring for the JWT and verifiable-credential front doors: the token key store (its
 * private keys encrypted under a passphrase kept in a 0600 file next to the database),
 * the token service, the credential service and delegation chains (the agents' delegation
 * keys are encrypted under the same passphrase). Everything is opened on the one Sql the
 * vault's store and audit log use (src/store/sql), so their transactions are shared.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AuditLog } from "../audit/types.js";
import { createDelegationService, type DelegationService } from "../auth/delegation/index.js";
import type { MandateOptions } from "../auth/delegation/mandate.js";
import { OPERATOR_FRAGMENT, operatorDidOf } from "../auth/federation/operator.js";
import { createTokenService, type TokenService } from "../auth/jwt/index.js";
import { openTokenKeyStore } from "../auth/jwt/keys.js";
import { trustedIssuerKeys } from "../auth/jwt/remote-jwks.js";
import type { RevocationEvents } from "../auth/revocation/events.js";
import {
  createRevocationPublisher,
  type RevocationPublisher,
} from "../auth/revocation/publisher.js";
import { type CredentialService, createCredentialService } from "../auth/vc/index.js";
import type { Config } from "../config/index.js";
import type { DelegationStore } from "../store/delegations.js";
import { openFederationStore } from "../store/federation.js";
import type { RevocationEventStore } from "../store/revocation-events.js";
import type { Sql } from "../store/sql/types.js";
import { createFederation, type Federation } from "./federation.js";
import {
  createRevocationFeeds,
  type RevocationFeeds,
  tokenIssuerFeeds,
} from "./revocation-feeds.js";

function loadOrCreatePassphrase(file: string): string {
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const pass = randomBytes(32).toString("base64url");
  writeFileSync(file, `${pass}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  return pass;
}

export async function createAuthDoors(
  config: Config,
  sql: Sql,
  audit: AuditLog,
  keyIsLive: (keyId: string) => Promise<boolean>,
  delegation: { store: DelegationStore; agentExists: (agentId: string) => Promise<boolean> },
  revocation: {
    store: RevocationEventStore;
    events: RevocationEvents;
    log?: (line: string) => void;
  },
): Promise<{
  tokens: TokenService;
  credentials: CredentialService;
  delegations: DelegationService;
  feeds: RevocationFeeds;
  revocations: RevocationPublisher;
  federation: Federation;
  federationEvents: RevocationPublisher;
}> {
  const passphrase = loadOrCreatePassphrase(join(config.dataDir, "token-keys.secret"));
  const keys = await openTokenKeyStore(sql, { passphrase });
  // A signing key from the start, so /.well-known/jwks.json is never empty for peers.
  await keys.active();
  const external = trustedIssuerKeys(config.auth.trustedIssuers);
  const feeds = await createRevocationFeeds({
    sources: tokenIssuerFeeds(external),
    store: revocation.store,
    audit,
    staleMs: config.auth.revocationStaleMs,
    ...(revocation.log ? { log: revocation.log } : {}),
  });
  const tokens = await createTokenService({
    sql,
    audit,
    keys,
    config: config.auth,
    keyIsLive,
    external,
    remote: feeds,
  });
  const ca = config.auth.didWebCaFile ? readFileSync(config.auth.didWebCaFile, "utf8") : undefined;
  const credentials = await createCredentialService({
    sql,
    config: config.auth,
    keys,
    ...(ca ? { web: { ca } } : {}),
  });
  const delegations = await createDelegationService({
    store: delegation.store,
    audit,
    passphrase,
    maxDepth: config.auth.delegationMaxDepth,
    agentExists: delegation.agentExists,
    status: {
      url: `${config.url.replace(/\/$/, "")}/v1/status/revocation`,
      issuer: credentials.did,
      key: () => keys.credentialKey().privateKey,
    },
    operatorKey: () => keys.credentialKey().privateKey,
    chainCheck: () => federation.chains,
    mandates: {
      trustedIssuers: config.auth.trustedMandateIssuers as MandateOptions["trustedIssuers"],
      audience: config.auth.tokenAudience,
    },
  });
  const federation = await createFederation({
    config,
    delegations,
    feeds,
    store: await openFederationStore(sql),
    audit,
    publicJwk: () => keys.credentialKey().publicKey.export({ format: "jwk" }),
    privateKey: () => keys.credentialKey().privateKey,
  });
  // The public stream other operators follow: delegation revocations only, signed by the
  // operator key under the operator's did:web (README "Cross-operator trust").
  const operatorDid = operatorDidOf(config.url);
  const federationEvents = createRevocationPublisher({
    events: revocation.events,
    issuer: operatorDid ?? credentials.did,
    signingKey: () => ({
      kid: `${operatorDid ?? credentials.did}#${OPERATOR_FRAGMENT}`,
      privateKey: keys.credentialKey().privateKey,
    }),
    kinds: ["delegation"],
    signedHeartbeats: true,
  });
  const revocations = createRevocationPublisher({
    events: revocation.events,
    issuer: config.auth.tokenIssuer,
    signingKey: () => keys.active(),
  });
  return { tokens, credentials, delegations, feeds, revocations, federation, federationEvents };
}
