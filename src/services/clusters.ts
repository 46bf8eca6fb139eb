/**
 * Starts (or connects to) every signer cluster (src/config/clusters.ts): spawns the embedded
 * nodes, pins each node's identity per cluster (trust on first use; afterwards a change stops
 * start-up), and enrols each cluster with its own peers and the operator's admin authority.
 */
import { join } from "node:path";
import { HOME_CLUSTER } from "../config/clusters.js";
import type { ClusterConfig, Config } from "../config/index.js";
import { LocalCluster } from "../signers/local/cluster.js";
import type { PresigPool } from "../signers/local/pool.js";
import { ClusterSet, type Shard } from "../signers/local/shards.js";
import { NodeSupervisor } from "../signers/local/supervisor.js";
import type { VaultStore } from "../store/vault-store.js";
import { type Identity, importPublic } from "../transport/identity.js";
import type { CatchUpReader } from "./catch-up.js";

interface NodeIdentity {
  index: number;
  signingKey: string;
  agreementKey: string;
}

export interface ClusterStartDeps {
  config: Config;
  store: VaultStore;
  identity: Identity;
  pool: PresigPool;
  catchUp: CatchUpReader;
  restartNodes: boolean;
  /** The operator's admin authority (base64 SPKI): nodes check authorizations against it. */
  adminPublicKey: string;
  /** Node up and down, with the cluster's name (audited by the caller). */
  nodeDown(cluster: string, index: number, reason: string): void;
  nodeUp(cluster: string, index: number): void;
  log: (line: string) => void;
}

async function fetchIdentities(
  urls: Array<{ index: number; url: string }>,
): Promise<NodeIdentity[]> {
  return Promise.all(
    urls.map(async ({ url }) => (await (await fetch(`${url}/identity`)).json()) as NodeIdentity),
  );
}

async function pinIdentities(
  store: VaultStore,
  cluster: string,
  nodes: Array<{ index: number; url: string }>,
  ids: NodeIdentity[],
) {
  const pinned = new Map((await store.nodes(cluster)).map((n) => [n.idx, n]));
  const where = cluster === HOME_CLUSTER ? "" : ` of cluster ${cluster}`;
  for (const [i, id] of ids.entries()) {
    const node = nodes[i];
    if (!node) throw new Error(`signer node ${id.index}${where} answered but was never asked`);
    if (id.index !== node.index) {
      throw new Error(`the signer node at ${node.url} says it is node ${id.index}`);
    }
    const known = pinned.get(id.index);
    if (known && known.signingKey !== id.signingKey) {
      throw new Error(
        `signer node ${id.index}${where} presents a different identity than the one pinned`,
      );
    }
    await store.putNode(cluster, {
      idx: id.index,
      url: node.url,
      signingKey: id.signingKey,
      agreementKey: id.agreementKey,
    });
  }
}

/** c0's embedded nodes keep the data directory's node-i folders; others go in <name>/. */
function nodeDataDir(config: Config, name: string): string {
  return name === HOME_CLUSTER ? config.dataDir : join(config.dataDir, name);
}

async function startOne(
  deps: ClusterStartDeps,
  spec: ClusterConfig,
  position: number,
): Promise<Shard> {
  const { config, identity, log } = deps;
  const { t, n } = config.threshold;
  const label = config.clusters.length > 1 ? `cluster ${spec.name}: ` : "";
  let supervisor: NodeSupervisor | undefined;
  let started: Array<{ index: number; url: string }>;
  if (spec.nodeUrls.length > 0) {
    log(`${label}using ${n} remote signer nodes (${t}-of-${n})`);
    started = spec.nodeUrls.map((url, index) => ({ index, url }));
  } else {
    log(`${label}starting ${n} signer nodes (${t}-of-${n})`);
    supervisor = new NodeSupervisor({
      n,
      host: "127.0.0.1",
      basePort: config.nodeBasePort === 0 ? 0 : config.nodeBasePort + position * n,
      dataDir: nodeDataDir(config, spec.name),
      vaultKey: identity.publicIdentity.signingKey,
      restart: deps.restartNodes,
      warmPresigs: config.nodeWarmPresigs,
      log,
    });
    started = await supervisor.start();
  }
  try {
    const ids = await fetchIdentities(started);
    await pinIdentities(deps.store, spec.name, started, ids);
    const cluster = new LocalCluster({
      endpoints: started.map((s, i) => {
        const id = ids[i];
        if (!id) throw new Error(`signer node ${s.index} sent no identity`);
        return { index: s.index, url: s.url, signingKey: importPublic(id.signingKey) };
      }),
      t,
      vaultKey: identity.signing,
      pool: deps.pool,
      poolTarget: config.presigPool,
      catchUp: deps.catchUp,
      tolerance: { missesToDown: config.healthMisses, silenceMs: config.healthSilenceMs },
      probeTimeoutMs: config.healthProbeTimeoutMs,
      log,
      events: {
        nodeDown: (index, reason) => deps.nodeDown(spec.name, index, reason),
        nodeUp: (index) => deps.nodeUp(spec.name, index),
      },
    });
    await enrol(cluster, ids, deps.adminPublicKey);
    return { name: spec.name, cluster, supervisor };
  } catch (err) {
    await supervisor?.stop();
    throw err;
  }
}

async function enrol(cluster: LocalCluster, ids: NodeIdentity[], adminPublicKey: string) {
  await cluster.broadcast("cluster.enroll", () => ({
    n: cluster.n,
    t: cluster.t,
    peers: ids.map(({ index, signingKey, agreementKey }) => ({ index, signingKey, agreementKey })),
    adminPublicKey,
  }));
}

/**
 * The cluster holding the checkpoint key, recorded when that key is made (createVault):
 * until then the first listed, and c0 for a vault from before several clusters.
 */
async function homeCluster(config: Config, store: VaultStore): Promise<string> {
  const recorded = await store.meta("home_cluster");
  if (recorded) return recorded;
  const first = config.clusters[0]?.name;
  if (!first) throw new Error("no signer cluster is configured");
  return first;
}

/**
 * Keys live on the cluster that made them and never move: a cluster that holds the checkpoint
 * key or any agent's key must stay configured, under the same name, or start-up stops.
 */
async function assertKeysReachable(config: Config, store: VaultStore): Promise<void> {
  const configured = new Set(config.clusters.map((c) => c.name));
  const missing: string[] = [];
  const home = await store.meta("home_cluster");
  if (home && !configured.has(home)) missing.push(`${home} (the checkpoint key)`);
  for (const [name, agents] of await store.agentsPerCluster()) {
    if (!configured.has(name)) missing.push(`${name} (the keys of ${agents} agents)`);
  }
  if (missing.length > 0) {
    throw new Error(
      `these signer clusters hold keys but are not configured: ${missing.join(", ")}; list them in VAULT_CLUSTERS under the same names`,
    );
  }
}

/** Every configured cluster, started one after the other; a failure stops those started. */
export async function startClusters(deps: ClusterStartDeps): Promise<ClusterSet> {
  await assertKeysReachable(deps.config, deps.store);
  const home = await homeCluster(deps.config, deps.store);
  const shards: Shard[] = [];
  try {
    for (const [position, spec] of deps.config.clusters.entries()) {
      shards.push(await startOne(deps, spec, position));
    }
  } catch (err) {
    for (const s of shards) {
      s.cluster.stop();
      await s.supervisor?.stop();
    }
    throw err;
  }
  return new ClusterSet(shards, home, async (agentId) => {
    const agent = await deps.store.agent(agentId);
    return agent === undefined ? undefined : (agent.cluster ?? null);
  });
}
