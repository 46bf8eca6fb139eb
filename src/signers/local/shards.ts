/**
 * Several signer clusters as shards (src/config/clusters.ts). Each agent's key lives on
 * exactly one cluster, chosen when the agent is made and recorded with it; every call about
 * that agent (key generation, policy, presignatures, signing, "is this seq free") goes to
 * that cluster only. So a cluster that is down affects its own agents, and signing capacity
 * adds up across clusters. The home cluster (the first) also holds the checkpoint key.
 */
import { VaultError } from "../../errors/index.js";
import type { DigestSignature, DigestSignRequest, LocalCluster } from "./cluster.js";
import type { NodeSupervisor } from "./supervisor.js";

export interface Shard {
  name: string;
  cluster: LocalCluster;
  /** Set when the vault started the cluster's nodes itself. */
  supervisor: NodeSupervisor | undefined;
}

/** What placement weighs: agents already on a cluster, and whether all its nodes are up. */
export interface ShardLoad {
  name: string;
  agents: number;
  /** Key generation needs all n nodes: a cluster with one down cannot take a new agent. */
  allUp: boolean;
}

function unknownCluster(name: string, clusters: string[]): VaultError {
  return new VaultError("UNKNOWN_CLUSTER", `no signer cluster is named "${name}"`, { clusters });
}

/**
 * The cluster for a new agent: the one named, or the least loaded of those whose nodes are
 * all up (ties: the first listed); when none is whole, the least loaded, whose key
 * generation then reports the missing nodes.
 */
export function chooseShard(loads: readonly ShardLoad[], requested?: string): string {
  if (requested !== undefined) {
    if (!loads.some((l) => l.name === requested)) {
      throw unknownCluster(
        requested,
        loads.map((l) => l.name),
      );
    }
    return requested;
  }
  const whole = loads.filter((l) => l.allUp);
  const candidates = whole.length > 0 ? whole : loads;
  const best = candidates.reduce<ShardLoad | undefined>(
    (min, l) => (min === undefined || l.agents < min.agents ? l : min),
    undefined,
  );
  if (!best) throw new Error("no signer cluster is configured");
  return best.name;
}

export class ClusterSet {
  readonly home: Shard;
  private readonly byName: Map<string, Shard>;
  private readonly placed = new Map<string, string>();
  /** Agents placed whose key generation has not finished yet, per cluster. */
  private readonly pending = new Map<string, number>();

  /**
   * `homeName` names the cluster holding the checkpoint key; `placementOf` reads an agent's
   * recorded cluster from the vault's store (undefined: no such agent yet, null: not a
   * local agent). A placement never changes, so each is read once and remembered.
   */
  constructor(
    readonly shards: readonly Shard[],
    homeName: string,
    private readonly placementOf: (agentId: string) => Promise<string | null | undefined>,
  ) {
    this.byName = new Map(shards.map((s) => [s.name, s]));
    const home = this.byName.get(homeName);
    if (!home) throw new Error(`the home cluster ${homeName} is not configured`);
    this.home = home;
  }

  get(name: string): Shard | undefined {
    return this.byName.get(name);
  }

  named(name: string): LocalCluster {
    const shard = this.byName.get(name);
    if (!shard) throw unknownCluster(name, [...this.byName.keys()]);
    return shard.cluster;
  }

  /** The name of the cluster holding the agent's key (an agent never moves). */
  async nameOf(agentId: string): Promise<string> {
    const known = this.placed.get(agentId);
    if (known !== undefined) return known;
    const recorded = await this.placementOf(agentId);
    // Undefined: no such agent (yet); not remembered, so a new agent is looked up again.
    if (recorded === undefined) return this.home.name;
    const name = recorded ?? this.home.name;
    this.placed.set(agentId, name);
    return name;
  }

  async of(agentId: string): Promise<LocalCluster> {
    return this.named(await this.nameOf(agentId));
  }

  /**
   * Picks a cluster for a new agent (see chooseShard) from the agents each holds, counting
   * the placements still generating their key, so that agents created at the same moment
   * spread out. `done()` must be called once the agent is recorded or has failed.
   */
  place(agentsPerCluster: Map<string, number>, requested?: string): { name: string; done(): void } {
    const loads = this.shards.map((s) => ({
      name: s.name,
      agents: (agentsPerCluster.get(s.name) ?? 0) + (this.pending.get(s.name) ?? 0),
      allUp: s.cluster.nodes().every((n) => n.up),
    }));
    const name = chooseShard(loads, requested);
    this.pending.set(name, (this.pending.get(name) ?? 0) + 1);
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      const left = (this.pending.get(name) ?? 1) - 1;
      if (left > 0) this.pending.set(name, left);
      else this.pending.delete(name);
    };
    return { name, done };
  }

  // The signing service's view (SigningCluster): routed by agent.
  async signDigest(req: DigestSignRequest): Promise<DigestSignature> {
    return (await this.of(req.agentId)).signDigest(req);
  }

  /**
   * Tops up the agent's presignatures on its cluster. Best effort, as the cluster's own
   * refill is: a placement that cannot be read now is topped up by the next refill.
   */
  refill(agentId: string): void {
    const known = this.placed.get(agentId);
    if (known !== undefined) {
      this.named(known).refill(agentId);
      return;
    }
    void this.of(agentId).then(
      (cluster) => cluster.refill(agentId),
      () => undefined,
    );
  }

  async seqIsFree(agentId: string, seq: number): Promise<boolean> {
    return (await this.of(agentId)).seqIsFree(agentId, seq);
  }

  refilling(): boolean {
    return this.shards.some((s) => s.cluster.refilling());
  }

  async whenRefilled(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.cluster.whenRefilled()));
  }

  startHealthChecks(intervalMs: number): void {
    for (const s of this.shards) s.cluster.startHealthChecks(intervalMs);
  }

  async checkHealth(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.cluster.checkHealth()));
  }

  stop(): void {
    for (const s of this.shards) s.cluster.stop();
  }
}
