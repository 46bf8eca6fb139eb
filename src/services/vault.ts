/**
 * The composition root: opens the vault's database and identity, starts (or connects
 * to) the signer nodes, pins their identities, enrols them, generates the cluster's
 * checkpoint key on first start, and wires the services together.
 */
import { join } from "node:path";
import { openAuditLog } from "../audit/log.js";
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
import { openParkedPayments } from "../auth/x402/parked.js";
import type { Config } from "../config/index.js";
import type { BackendName, SignerBackend } from "../signers/backend.js";
import { createLocalBackend } from "../signers/local/backend.js";
import type { LocalCluster } from "../signers/local/cluster.js";
import { openPresigPool } from "../signers/local/pool.js";
import type { ClusterSet } from "../signers/local/shards.js";
import type { NodeSupervisor } from "../signers/local/supervisor.js";
import {
  type BackendRegistry,
  createBackendRegistry,
  type LitBackendDeps,
  litLoaders,
} from "../signers/registry.js";
import { openDatabase } from "../store/db.js";
import { openDelegationStore } from "../store/delegations.js";
import { openProofJobStore } from "../store/proof-jobs.js";
import { openRevocationEventStore } from "../store/revocation-events.js";
import { createSqliteSql, engineOf, holding, openSql, type Sql } from "../store/sql/index.js";
import { openVaultStore, type VaultStore } from "../store/vault-store.js";
import { CLUSTER_KEY_ID } from "../threshold/checkpoint.js";
import { loadOrCreateIdentity } from "../transport/identity.js";
import { type AgentService, createAgentService } from "./agents.js";
import { createAuthDoors } from "./auth-doors.js";
import { createCatchUpReader } from "./catch-up.js";
import { type CheckpointService, createCheckpointService } from "./checkpoints.js";
import { startClusters } from "./clusters.js";
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
  /** The home signer cluster: the one holding the checkpoint key (src/services/clusters.ts). */
  cluster: LocalCluster;
  /** Every signer cluster, as configured; agents are placed on one (src/signers/local/shards.ts). */
  clusters: ClusterSet;
  /** Signer backends by name: local always, the Lit ones when configured (loaded lazily). */
  backends: BackendRegistry;
  /** The home cluster's embedded nodes (undefined for remote nodes). */
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
  /**
   * Join as a replica (VAULT_DATABASE_URL, another vault holds the data directory): start no
   * node, connect to the signer clusters registered in the database instead.
   */
  replica?: boolean;
}

async function resolveAdminKey(
  store: VaultStore,
  config: Config,
): Promise<{ key?: string; generated?: string }> {
  const stored = await store.meta("admin_key_hash");
  if (config.adminKey) {
    if (stored && !secretMatches(config.adminKey, stored)) {
      throw new Error("VAULT_ADMIN_KEY does not match the admin key this vault was created with");
    }
    if (!stored) await store.setMeta("admin_key_hash", hashSecret(config.adminKey));
    return { key: config.adminKey };
  }
  if (stored) return {};
  const generated = newSecret("ava");
  await store.setMeta("admin_key_hash", hashSecret(generated));
  return { key: generated, generated };
}

/** Runs `recover` every `everyMs`, never two at once; `stop` waits for a run in progress. */
function repeatRecovery(
  recover: () => Promise<void>,
  everyMs: number,
  log: (line: string) => void,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= recover()
      .catch((err: unknown) => log(`recovery: ${(err as Error).message}`))
      .finally(() => {
        running = undefined;
      });
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** Stops every cluster's embedded nodes; one that fails to stop does not keep the others. */
async function stopSupervisors(clusters: ClusterSet): Promise<void> {
  await Promise.allSettled(clusters.shards.map((s) => s.supervisor?.stop()));
}

/** "node-1", or "c1/node-1" when there are several clusters. */
function nodeName(config: Config, cluster: string, node: number): string {
  return config.clusters.length > 1 ? `${cluster}/node-${node}` : `node-${node}`;
}

/** Audit data names the cluster only when there are several. */
function clusterField(config: Config, cluster: string): { cluster?: string } {
  return config.clusters.length > 1 ? { cluster } : {};
}

export async function createVault(config: Config, opts: VaultOptions = {}): Promise<Vault> {
  const log = opts.log ?? (() => {});
  // The storage seam (src/store/sql): SQLite in the data directory, or PostgreSQL.
  const sql = openVaultSql(config);
  try {
    return await openVault(config, opts, sql, log);
  } catch (err) {
    await sql.close().catch(() => undefined);
    throw err;
  }
}

function openVaultSql(config: Config): Sql {
  const url = config.databaseUrl;
  if (url && engineOf(url) === "postgres") return openSql(url);
  return createSqliteSql(openDatabase(join(config.dataDir, "vault.sqlite")));
}

/**
 * A replica serves the same database as the vault that started the signer nodes: the
 * clusters are the ones that vault registered (their pinned node URLs), used as remote.
 */
async function asReplica(config: Config, store: VaultStore): Promise<Config> {
  if (!config.databaseUrl)
    throw new Error("only a vault on VAULT_DATABASE_URL (PostgreSQL) can run as a replica");
  const clusters = [];
  for (const spec of config.clusters) {
    const nodes = await store.nodes(spec.name);
    if (nodes.length !== config.threshold.n || !(await store.meta("cluster_address")))
      throw new Error(
        `no signer cluster ${spec.name} is registered in the database yet: start the first vault`,
      );
    clusters.push({ name: spec.name, nodeUrls: nodes.map((n) => n.url) });
  }
  return { ...config, nodeUrls: [], clusters };
}

async function openVault(
  given: Config,
  opts: VaultOptions,
  sql: Sql,
  log: (line: string) => void,
): Promise<Vault> {
  const store = await openVaultStore(sql);
  const config = opts.replica ? await asReplica(given, store) : given;
  if (opts.replica) log("joining as a replica: the signer clusters registered in the database");
  // Every revocation's audit entry also records a numbered event for other vaults.
  const revocationStore = await openRevocationEventStore(sql);
  const revocationEvents = createRevocationEvents(revocationStore);
  const audit = revocationEvents.wrap(await openAuditLog(sql));
  const identity = loadOrCreateIdentity(join(config.dataDir, "vault-identity.json"));
  const admin = await resolveAdminKey(store, config);
  if (admin.key && !(await store.meta("admin_public_key")))
    await store.setMeta("admin_public_key", adminPublicKey(admin.key));

  log(
    `vault identity (give it to remote nodes as --vault-key): ${identity.publicIdentity.signingKey}`,
  );
  // Nodes check the operator's authorizations against this key: enrolment needs it.
  const adminAuthority = await store.meta("admin_public_key");
  if (!adminAuthority) throw new Error("no admin authority yet: start once with VAULT_ADMIN_KEY");
  let agents: AgentService | undefined;
  const clusters = await startClusters({
    config,
    store,
    identity,
    adminPublicKey: adminAuthority,
    pool: await openPresigPool(sql),
    catchUp: createCatchUpReader(store, audit),
    restartNodes: opts.restartNodes ?? true,
    log,
    nodeDown: (cluster, node, reason) => {
      log(`${nodeName(config, cluster, node)} is down: ${reason}`);
      const data = { node, ...clusterField(config, cluster), reason };
      void audit
        .append({ type: "node.unreachable", actor: "system", data })
        .catch((err: unknown) => log(`audit: ${(err as Error).message}`));
    },
    nodeUp: (cluster, node) => {
      log(`${nodeName(config, cluster, node)} is back`);
      const data = { node, ...clusterField(config, cluster) };
      void audit
        .append({ type: "node.recovered", actor: "system", data })
        .catch((err: unknown) => log(`audit: ${(err as Error).message}`));
      void agents
        ?.resyncNode(cluster, node)
        .catch((err: unknown) =>
          log(
            `${nodeName(config, cluster, node)}: policy resync failed: ${(err as Error).message}`,
          ),
        );
    },
  });
  try {
    const cluster = clusters.home.cluster;
    const supervisor = clusters.home.supervisor;

    async function makeClusterKey() {
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
      await store.setMeta("cluster_address", key.address);
      await store.setMeta("cluster_public_key", key.publicKey);
      await store.setMeta("home_cluster", clusters.home.name);
    }

    // Vaults starting together on one database (replicas with nodes of their own) make
    // the checkpoint key once: the first holds the key's slot, the others find it made.
    await holding(sql, "cluster_key", async () => {
      if (!(await store.meta("cluster_address"))) await makeClusterKey();
    });

    // The Lit backends' modules are imported on first use only (src/signers/registry.ts).
    const litDeps = (): LitBackendDeps => ({ authorityPublicKey: adminAuthority, log });
    const overrides = Object.entries(opts.backendLoaders ?? {}).map(([name, load]) => [
      name,
      () => load(litDeps()),
    ]);
    const backends = createBackendRegistry({
      local: createLocalBackend(clusters),
      defaultBackend: config.backends.defaultBackend,
      loaders: { ...litLoaders(config.backends, litDeps), ...Object.fromEntries(overrides) },
    });
    agents = createAgentService({ store, audit, clusters, backends, onProgress: log });
    const checkpoints = createCheckpointService({ store, audit, cluster, log });
    const keyIsLive = async (keyId: string) => {
      if (keyId === "admin") return true;
      const row = await store.key(keyId);
      return row !== undefined && row.revokedAt === null;
    };
    const links = await openDelegationStore(sql);
    const { tokens, credentials, delegations, feeds, revocations, federation, federationEvents } =
      await createAuthDoors(
        config,
        sql,
        audit,
        keyIsLive,
        {
          store: links,
          agentExists: async (agentId) => (await store.agent(agentId)) !== undefined,
        },
        { store: revocationStore, events: revocationEvents, log },
      );
    const signing = createSigningService({
      store,
      audit,
      cluster: clusters,
      backends,
      credentialRefusal: createCredentialCheck({ store, tokens, delegations, vc: credentials }),
      links,
    });
    // Nothing outlives the key behind it: revoking a key revokes the tokens issued with it.
    const keys = createApiKeyService({
      store,
      audit,
      onRevoked: (keyIds, actor) => tokens.revokeIssuedWith(keyIds, actor),
    });
    const refusals = createRefusalLog(audit, { perMinute: config.auditRefusalsPerMinute });
    const x402 = await createX402(config.x402, sql, audit, refusals, log);
    // One process (SQLite): every payment still "verified" at start was left by a stop.
    // Replicas: only those whose holder's lease lapsed (src/auth/x402/store.ts).
    const stranded = await x402.recoverStranded({ all: config.databaseUrl === undefined });
    if (stranded > 0)
      log(`x402: ${stranded} payment(s) left unsettled by a stop are now "unknown"`);
    const x402Payer = createX402PayerService({
      store,
      audit,
      signing,
      parked: await openParkedPayments(sql),
      log,
    });
    const proofs = await createComplianceService({
      store,
      jobs: await openProofJobStore(sql),
      audit,
      checkpoints,
      params: config.zk,
      // Builds the circuit in a low-priority child process when this size has none yet.
      setup: createProofSetup({ params: config.zk, mode: config.zk.setup, log }),
      log,
      replicas: config.databaseUrl !== undefined,
      leaseMs: config.zk.leaseMs,
    });
    if (opts.timers ?? true) {
      clusters.startHealthChecks(config.healthIntervalMs);
      checkpoints.start(config.healthIntervalMs, config.checkpointEvery);
      for (const a of await store.agents()) if (a.backend === "local") clusters.refill(a.id);
    }
    await signing
      .recoverAll()
      .catch((err: unknown) => log(`recovery deferred: ${(err as Error).message}`));
    // Replicas: a replica that died mid-request leaves its reservations behind, and only
    // another replica can release them. Each request holds its agent (Sql.hold) until it is
    // done, so recovery touches only what no live replica is working on.
    const recovery =
      config.databaseUrl && (opts.timers ?? true)
        ? repeatRecovery(
            async () => {
              const results = await Promise.allSettled([
                signing.releaseStranded(),
                x402.recoverStranded(),
                proofs.recover(),
              ]);
              const failed = results.find((r) => r.status === "rejected");
              if (failed) throw failed.reason;
            },
            5 * config.healthIntervalMs,
            log,
          )
        : undefined;

    return {
      config,
      store,
      audit,
      cluster,
      clusters,
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
        await recovery?.stop();
        federation.stop();
        feeds.stop();
        checkpoints.stop();
        await proofs.stop();
        clusters.stop();
        await clusters.whenRefilled();
        await backends.close();
        await stopSupervisors(clusters);
        try {
          await refusals.stop(); // the last counts of held-back refusals, before the file closes
        } finally {
          await sql.close();
        }
      },
    };
  } catch (err) {
    // A start that fails after the nodes were spawned leaves none of them running.
    clusters.stop();
    await stopSupervisors(clusters);
    throw err;
  }
}
