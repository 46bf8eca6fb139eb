/**
 * The composition root: opens the vault's database and identity, starts (or connects
 * to) the signer nodes, pins their identities, enrols them, generates the cluster's
 * checkpoint key on first start, and wires the services together.
 */
import { join } from "node:path";
import { createAuditLog } from "../audit/log.js";
import type { AuditLog } from "../audit/types.js";
import { adminPublicKey, authorize } from "../auth/admin-authority.js";
import { type ApiKeyService, createApiKeyService } from "../auth/apikey/index.js";
import type { DelegationService } from "../auth/delegation/index.js";
import type { TokenService } from "../auth/jwt/index.js";
import { createRefusalLog, type RefusalLog } from "../auth/refusals.js";
import { createRevocationEvents } from "../auth/revocation/events.js";
import type { RevocationPublisher } from "../auth/revocation/publisher.js";
import { hashSecret, newSecret, secretMatches } from "../auth/secret.js";
import type { CredentialService } from "../auth/vc/index.js";
import { createX402, type X402Gate } from "../auth/x402/index.js";
import { createParkedPayments } from "../auth/x402/parked.js";
import type { Config } from "../config/index.js";
import type { BackendName, SignerBackend } from "../signers/backend.js";
import { createLocalBackend } from "../signers/local/backend.js";
import { LocalCluster } from "../signers/local/cluster.js";
import { createPresigPool } from "../signers/local/pool.js";
import { NodeSupervisor } from "../signers/local/supervisor.js";
import {
  type BackendRegistry,
  createBackendRegistry,
  type LitBackendDeps,
  litLoaders,
} from "../signers/registry.js";
import { openDatabase } from "../store/db.js";
import { createDelegationStore } from "../store/delegations.js";
import { createProofJobStore } from "../store/proof-jobs.js";
import { createRevocationEventStore } from "../store/revocation-events.js";
import { createVaultStore, type VaultStore } from "../store/vault-store.js";
import { CLUSTER_KEY_ID } from "../threshold/checkpoint.js";
import { importPublic, loadOrCreateIdentity } from "../transport/identity.js";
import { type AgentService, createAgentService } from "./agents.js";
import { createAuthDoors } from "./auth-doors.js";
import { createCatchUpReader } from "./catch-up.js";
import { type CheckpointService, createCheckpointService } from "./checkpoints.js";
import { type ComplianceService, createComplianceService } from "./compliance.js";
import { createCredentialCheck } from "./credentials.js";
import type { Federation } from "./federation.js";
import { createProofSetup } from "./proof-setup.js";
import type { RevocationFeeds } from "./revocation-feeds.js";
import { createSigningService, type SigningService } from "./signing.js";
import { createX402PayerService, type X402PayerService } from "./x402-payer.js";

export interface Vault {
  config: Config;
  store: VaultStore;
  audit: AuditLog;
  cluster: LocalCluster;
  /** Signer backends by name: local always, the Lit ones when configured (loaded lazily). */
  backends: BackendRegistry;
  supervisor: NodeSupervisor | undefined;
  agents: AgentService;
  keys: ApiKeyService;
  /** Agent JWTs: issue, verify, revoke, rotate keys (src/auth/jwt). */
  tokens: TokenService;
  /** Verifiable presentations, challenges and agent credentials (src/auth/vc). */
  credentials: CredentialService;
  /** Delegation chains (UCAN 1.0): root delegations, verification, revocation. */
  delegations: DelegationService;
  /** This vault's revocations as signed events (GET /v1/events/stream). */
  revocations: RevocationPublisher;
  /** Other issuers' revocation feeds this vault follows. */
  feeds: RevocationFeeds;
  /** Cross-operator trust: operator identity, anchor, member grants, relying checks. */
  federation: Federation;
  /** The public stream of delegation revocations (GET /v1/federation/events). */
  federationEvents: RevocationPublisher;
  signing: SigningService;
  checkpoints: CheckpointService;
  /** x402: priced routes, payment verification, settlement and the replay ledger. */
  x402: X402Gate;
  /** Refusals of every front door, audited within a per-client budget (src/auth/refusals). */
  refusals: RefusalLog;
  /** x402, the agent as payer: sign payments within policy, collect approved ones. */
  x402Payer: X402PayerService;
  /** Zero-knowledge compliance proofs over the audit log (src/zk). */
  proofs: ComplianceService;
  /** Set only on the first start when the vault generated the admin key itself. */
  generatedAdminKey: string | undefined;
  stop(): Promise<void>;
}

export interface VaultOptions {
  log?: (line: string) => void;
  /** Restart nodes that die (on for `npm start`, off in tests that kill nodes). */
  restartNodes?: boolean;
  /** Background timers (health, checkpoints, pool); tests may drive them by hand. */
  timers?: boolean;
  /**
   * Replaces a Lit backend's loader (tests: the same backend over a fake Lit SDK). The
   * backend is still loaded on first use only.
   */
  backendLoaders?: Partial<Record<BackendName, (deps: LitBackendDeps) => Promise<SignerBackend>>>;
}

interface NodeIdentity {
  index: number;
  signingKey: string;
  agreementKey: string;
}

function resolveAdminKey(store: VaultStore, config: Config): { key?: string; generated?: string } {
  const stored = store.meta("admin_key_hash");
  if (config.adminKey) {
    if (stored && !secretMatches(config.adminKey, stored)) {
      throw new Error("VAULT_ADMIN_KEY does not match the admin key this vault was created with");
    }
    if (!stored) store.setMeta("admin_key_hash", hashSecret(config.adminKey));
    return { key: config.adminKey };
  }
  if (stored) return {};
  const generated = newSecret("ava");
  store.setMeta("admin_key_hash", hashSecret(generated));
  return { key: generated, generated };
}

async function fetchIdentities(
  urls: Array<{ index: number; url: string }>,
): Promise<NodeIdentity[]> {
  return Promise.all(
    urls.map(async ({ url }) => (await (await fetch(`${url}/identity`)).json()) as NodeIdentity),
  );
}

/** Trust on first use for the embedded nodes; afterwards an identity change stops start-up. */
function pinIdentities(
  store: VaultStore,
  nodes: Array<{ index: number; url: string }>,
  ids: NodeIdentity[],
) {
  const pinned = new Map(store.nodes().map((n) => [n.idx, n]));
  ids.forEach((id, i) => {
    const node = nodes[i];
    if (!node) throw new Error(`signer node ${id.index} answered but was never asked`);
    if (id.index !== node.index) {
      throw new Error(`the signer node at ${node.url} says it is node ${id.index}`);
    }
    const known = pinned.get(id.index);
    if (known && known.signing_key !== id.signingKey) {
      throw new Error(`signer node ${id.index} presents a different identity than the one pinned`);
    }
    store.putNode(id.index, node.url, id.signingKey, id.agreementKey);
  });
}

export async function createVault(config: Config, opts: VaultOptions = {}): Promise<Vault> {
  const log = opts.log ?? (() => {});
  const db = openDatabase(join(config.dataDir, "vault.sqlite"));
  const store = createVaultStore(db);
  // Every revocation's audit entry also records a numbered event for other vaults.
  const revocationStore = createRevocationEventStore(db);
  const revocationEvents = createRevocationEvents(revocationStore);
  const audit = revocationEvents.wrap(createAuditLog(db));
  const identity = loadOrCreateIdentity(join(config.dataDir, "vault-identity.json"));
  const admin = resolveAdminKey(store, config);
  if (admin.key && !store.meta("admin_public_key"))
    store.setMeta("admin_public_key", adminPublicKey(admin.key));

  const { t, n } = config.threshold;
  log(
    `vault identity (give it to remote nodes as --vault-key): ${identity.publicIdentity.signingKey}`,
  );
  let supervisor: NodeSupervisor | undefined;
  let started: Array<{ index: number; url: string }>;
  if (config.nodeUrls.length > 0) {
    log(`using ${n} remote signer nodes (${t}-of-${n})`);
    started = config.nodeUrls.map((url, index) => ({ index, url }));
  } else {
    log(`starting ${n} signer nodes (${t}-of-${n})`);
    supervisor = new NodeSupervisor({
      n,
      host: "127.0.0.1",
      basePort: config.nodeBasePort,
      dataDir: config.dataDir,
      vaultKey: identity.publicIdentity.signingKey,
      restart: opts.restartNodes ?? true,
      warmPresigs: config.nodeWarmPresigs,
      log,
    });
    started = await supervisor.start();
  }
  const ids = await fetchIdentities(started);
  pinIdentities(store, started, ids);

  let agents: AgentService | undefined;
  const cluster = new LocalCluster({
    endpoints: started.map((s, i) => {
      const id = ids[i];
      if (!id) throw new Error(`signer node ${s.index} sent no identity`);
      return { index: s.index, url: s.url, signingKey: importPublic(id.signingKey) };
    }),
    t,
    vaultKey: identity.signing,
    pool: createPresigPool(db),
    poolTarget: config.presigPool,
    catchUp: createCatchUpReader(store, audit),
    tolerance: { missesToDown: config.healthMisses, silenceMs: config.healthSilenceMs },
    probeTimeoutMs: config.healthProbeTimeoutMs,
    log,
    events: {
      nodeDown: (index, reason) => {
        log(`node-${index} is down: ${reason}`);
        audit.append({ type: "node.unreachable", actor: "system", data: { node: index, reason } });
      },
      nodeUp: (index) => {
        log(`node-${index} is back`);
        audit.append({ type: "node.recovered", actor: "system", data: { node: index } });
        void agents
          ?.resyncNode(index)
          .catch((err: unknown) =>
            log(`node-${index}: policy resync failed: ${(err as Error).message}`),
          );
      },
    },
  });
  // Nodes check the operator's authorizations against this key: enrolment needs it.
  const adminAuthority = store.meta("admin_public_key");
  if (!adminAuthority) throw new Error("no admin authority yet: start once with VAULT_ADMIN_KEY");
  await cluster.broadcast("cluster.enroll", () => ({
    n,
    t,
    peers: ids.map(({ index, signingKey, agreementKey }) => ({ index, signingKey, agreementKey })),
    adminPublicKey: adminAuthority,
  }));

  if (!store.meta("cluster_address")) {
    if (!admin.key)
      throw new Error("the first start needs the admin key to create the cluster key");
    log("generating the cluster's checkpoint key (DKG across all nodes)");
    const auth = authorize(admin.key, {
      op: "agent.create",
      agentId: CLUSTER_KEY_ID,
      policyVersion: 0,
      policy: null,
    });
    const key = await cluster.generateKey(CLUSTER_KEY_ID, auth, undefined, (r) =>
      log(`  round ${r}/5`),
    );
    store.setMeta("cluster_address", key.address);
    store.setMeta("cluster_public_key", key.publicKey);
  }

  // The Lit backends' modules are imported on first use only (src/signers/registry.ts).
  const litDeps = (): LitBackendDeps => ({ authorityPublicKey: adminAuthority, log });
  const overrides = Object.entries(opts.backendLoaders ?? {}).map(([name, load]) => [
    name,
    () => load(litDeps()),
  ]);
  const backends = createBackendRegistry({
    local: createLocalBackend(cluster),
    defaultBackend: config.backends.defaultBackend,
    loaders: { ...litLoaders(config.backends, litDeps), ...Object.fromEntries(overrides) },
  });
  agents = createAgentService({ store, audit, cluster, backends, onProgress: log });
  const checkpoints = createCheckpointService({ store, audit, cluster, log });
  const keyIsLive = (keyId: string) => {
    if (keyId === "admin") return true;
    const row = store.key(keyId);
    return row !== undefined && row.revoked_at === null;
  };
  const links = createDelegationStore(db);
  const { tokens, credentials, delegations, feeds, revocations, federation, federationEvents } =
    createAuthDoors(
      config,
      db,
      audit,
      keyIsLive,
      { store: links, agentExists: (agentId) => store.agent(agentId) !== undefined },
      { store: revocationStore, events: revocationEvents, log },
    );
  const signing = createSigningService({
    store,
    audit,
    cluster,
    backends,
    credentialRefusal: createCredentialCheck({ store, tokens, delegations, vc: credentials }),
    links,
  });
  // Nothing outlives the key behind it: revoking a key revokes the tokens issued with it.
  const keys = createApiKeyService({
    store,
    audit,
    onRevoked: (keyIds, actor) => void tokens.revokeIssuedWith(keyIds, actor),
  });
  const refusals = createRefusalLog(audit, { perMinute: config.auditRefusalsPerMinute });
  const x402 = await createX402(config.x402, db, audit, refusals);
  const stranded = x402.recoverStranded();
  if (stranded > 0) log(`x402: ${stranded} payment(s) left unsettled by a stop are now "unknown"`);
  const x402Payer = createX402PayerService({
    store,
    audit,
    signing,
    parked: createParkedPayments(db),
    log,
  });
  const proofs = createComplianceService({
    store,
    jobs: createProofJobStore(db),
    audit,
    checkpoints,
    params: config.zk,
    // Builds the circuit in a low-priority child process when this size has none yet.
    setup: createProofSetup({ params: config.zk, mode: config.zk.setup, log }),
    log,
  });
  if (opts.timers ?? true) {
    cluster.startHealthChecks(config.healthIntervalMs);
    checkpoints.start(config.healthIntervalMs, config.checkpointEvery);
    for (const a of store.agents()) if (a.backend === "local") cluster.refill(a.id);
  }
  await signing
    .recoverAll()
    .catch((err: unknown) => log(`recovery deferred: ${(err as Error).message}`));

  return {
    config,
    store,
    audit,
    cluster,
    backends,
    supervisor,
    agents,
    keys,
    tokens,
    credentials,
    delegations,
    revocations,
    feeds,
    federation,
    federationEvents,
    x402,
    x402Payer,
    refusals,
    signing,
    checkpoints,
    proofs,
    generatedAdminKey: admin.generated,
    async stop() {
      federation.stop();
      feeds.stop();
      checkpoints.stop();
      await proofs.stop();
      cluster.stop();
      await cluster.whenRefilled();
      await backends.close();
      await supervisor?.stop();
      try {
        refusals.stop(); // the last counts of held-back refusals, before the file closes
      } finally {
        db.close();
      }
    },
  };
}
