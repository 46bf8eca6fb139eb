/**
 * Signer clusters as shards (README "Several signer clusters"). Each cluster is a t-of-n set
 * of signer nodes holding the keys of the agents placed on it; signing capacity grows with
 * clusters because an agent's signatures involve its own cluster's nodes only.
 *
 *   (unset)                     one cluster: embedded nodes, or VAULT_NODES when set
 *   VAULT_CLUSTERS=3            three embedded clusters, c0 c1 c2, each VAULT_THRESHOLD
 *   VAULT_CLUSTERS="eu=http://a:7000,http://b:7000,http://c:7000;us=http://d:7000,…"
 *                               remote clusters by name, each listing its n nodes
 *
 * The first cluster is the home cluster: it holds the checkpoint key that co-signs audit
 * heads, and agents made before clusters were named belong to it. Its name is c0 unless
 * listed otherwise; a vault moving from VAULT_NODES to a list keeps its pinned node
 * identities by naming that cluster c0.
 */
import { ConfigError } from "./error.js";

export const HOME_CLUSTER = "c0";
export const MAX_CLUSTERS = 8;

export interface ClusterConfig {
  name: string;
  /** Remote nodes' base URLs, node i at the i-th; empty: the vault starts them itself. */
  nodeUrls: string[];
}

const NAME = /^[a-z][a-z0-9-]{0,15}$/;

export function parseNodeUrls(raw: string, variable: string): string[] {
  const urls = raw.split(",").map((u) => u.trim().replace(/\/$/, ""));
  for (const u of urls) {
    if (!/^https?:\/\/[^\s/]+$/.test(u)) {
      throw new ConfigError(
        `${variable} must be comma-separated base URLs like http://10.0.0.5:7000 (got "${u}")`,
      );
    }
  }
  return urls;
}

function embedded(count: number): ClusterConfig[] {
  return Array.from({ length: count }, (_, i) => ({ name: `c${i}`, nodeUrls: [] }));
}

function listed(raw: string, n: number): ClusterConfig[] {
  const clusters = raw.split(";").map((part) => {
    const eq = part.indexOf("=");
    const name = part.slice(0, eq).trim();
    if (eq < 0 || !NAME.test(name)) {
      throw new ConfigError(
        `VAULT_CLUSTERS must be a count or "name=url,url,…;name=…" with names of a-z 0-9 - (got "${part.trim()}")`,
      );
    }
    const nodeUrls = parseNodeUrls(part.slice(eq + 1), "VAULT_CLUSTERS");
    if (nodeUrls.length !== n) {
      throw new ConfigError(
        `VAULT_CLUSTERS: cluster ${name} lists ${nodeUrls.length} nodes but VAULT_THRESHOLD needs ${n}`,
      );
    }
    return { name, nodeUrls };
  });
  const names = new Set(clusters.map((c) => c.name));
  if (names.size !== clusters.length) throw new ConfigError("VAULT_CLUSTERS names a cluster twice");
  const urls = clusters.flatMap((c) => c.nodeUrls);
  if (new Set(urls).size !== urls.length) {
    throw new ConfigError("VAULT_CLUSTERS lists one node in two places");
  }
  return clusters;
}

/** The clusters from VAULT_CLUSTERS and VAULT_NODES (which names one remote cluster, c0). */
export function parseClusters(
  raw: string | undefined,
  nodeUrls: string[],
  n: number,
): ClusterConfig[] {
  const value = raw?.trim() ?? "";
  if (value === "") return [{ name: HOME_CLUSTER, nodeUrls }];
  if (nodeUrls.length > 0) {
    throw new ConfigError("set VAULT_CLUSTERS or VAULT_NODES, not both");
  }
  const clusters = /^\d+$/.test(value) ? embedded(Number(value)) : listed(value, n);
  if (clusters.length < 1 || clusters.length > MAX_CLUSTERS) {
    throw new ConfigError(
      `VAULT_CLUSTERS must name 1 to ${MAX_CLUSTERS} clusters (got "${value}")`,
    );
  }
  return clusters;
}
