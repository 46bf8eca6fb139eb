/**
 * Agents: a key held by the agent's signer backend (src/signers/backend.ts: the local
 * threshold cluster, or a Lit PKP) and a versioned policy that the backend also enforces.
 * Policy changes carry the operator's admin authorization (src/auth/admin-authority.ts):
 * "agent.create"/"policy.set" for the local nodes, "lit.policy" (bound to the PKP's
 * address) for the pinned Lit Action; every change is audited. Lit agents involve no
 * signer node: they are never resynced to one.
 */
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../audit/types.js";
import { authorize } from "../auth/admin-authority.js";
import { VaultError } from "../errors/index.js";
import type { Policy } from "../policy/types.js";
import { policyHash, validatePolicy } from "../policy/validate.js";
import type { BackendName, PkpInfo, SignerBackend } from "../signers/backend.js";
import type { LocalCluster } from "../signers/local/cluster.js";
import { NodeRefused } from "../signers/local/node-client.js";
import type { BackendRegistry } from "../signers/registry.js";
import type { Agent, VaultStore } from "../store/vault-store.js";
import { rethrowClusterFailure } from "./cluster-errors.js";

export interface AgentView {
  id: string;
  name: string;
  address: string;
  publicKey: string;
  backend: BackendName;
  /** Lit agents: the PKP (token id or PKP id, public key, action CID). */
  pkp?: PkpInfo;
  /** Local agents: the signer cluster holding the key (src/config/clusters.ts). */
  cluster?: string;
  /** Local agents: that cluster's threshold. */
  threshold?: { t: number; n: number };
  policyVersion: number;
  policy: Policy | null;
  createdAt: string;
}

export interface AgentService {
  create(
    input: { name: string; policy?: unknown; backend?: BackendName; cluster?: string },
    adminKey: string,
    actor: string,
  ): Promise<AgentView>;
  get(id: string): Promise<AgentView>;
  list(): Promise<AgentView[]>;
  setPolicy(
    id: string,
    policy: unknown,
    adminKey: string,
    actor: string,
  ): Promise<{ version: number }>;
  /** Re-sends the latest authorized policy of every agent of the cluster to its node that was away. */
  resyncNode(cluster: string, index: number): Promise<void>;
}

/** The signer clusters as the agent service sees them (src/signers/local/shards.ts). */
export interface AgentClusters {
  /** The cluster for a new local agent (or the one named); `done()` once it is recorded. */
  place(agentsPerCluster: Map<string, number>, requested?: string): { name: string; done(): void };
  nameOf(agentId: string): Promise<string>;
  named(name: string): Pick<LocalCluster, "t" | "n" | "client">;
}

export function createAgentService(deps: {
  store: VaultStore;
  audit: AuditLog;
  clusters: AgentClusters;
  backends: BackendRegistry;
  onProgress?: (line: string) => void;
}): AgentService {
  const { store, audit, clusters, backends } = deps;

  const view = async (a: Agent): Promise<AgentView> => {
    const p = await store.policy(a.id);
    return {
      id: a.id,
      name: a.name,
      address: a.address,
      publicKey: a.publicKey,
      backend: a.backend,
      ...(a.pkp ? { pkp: a.pkp } : {}),
      ...(a.backend === "local" ? await localView(a) : {}),
      policyVersion: p?.version ?? 0,
      policy: p?.policy ?? null,
      createdAt: a.createdAt,
    };
  };

  /** Stores a policy version with its authorization and audits the change (inside a transaction). */
  const recordPolicy = async (
    id: string,
    version: number,
    policy: Policy,
    authorization: string,
    actor: string,
  ) => {
    await store.putPolicy(id, version, policy, authorization);
    await audit.append({
      type: "policy.changed",
      agentId: id,
      actor,
      data: { version, policyHash: policyHash(policy) },
    });
  };

  const clusterSize = (name: string) => {
    const { t, n } = clusters.named(name);
    return { t, n };
  };

  const localView = async (a: Agent) => {
    const cluster = await clusters.nameOf(a.id);
    return { cluster, threshold: clusterSize(cluster) };
  };

  const get = async (id: string): Promise<AgentView> => {
    const a = await store.agent(id);
    if (!a) throw new VaultError("AGENT_NOT_FOUND");
    return view(a);
  };

  /** Makes the key on the backend (a local one on `cluster`), then records and audits the agent. */
  const createOn = async (
    backend: SignerBackend,
    name: BackendName,
    cluster: string | undefined,
    policy: Policy | undefined,
    input: { name: string },
    adminKey: string,
    actor: string,
  ): Promise<AgentView> => {
    const id = `agt_${randomBytes(9).toString("base64url")}`;
    const version = policy ? 1 : 0;
    const started = Date.now();
    const key = await backend
      .createKey({
        agentId: id,
        ...(cluster === undefined ? {} : { cluster }),
        ...(policy ? { policy: { version, policy } } : {}),
        authorize: (action) => authorize(adminKey, action),
        ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
      })
      .catch(rethrowClusterFailure);
    if (policy && !key.policyAuthorization) {
      throw new VaultError("INTERNAL", `the ${name} backend returned no policy authorization`);
    }
    await store.sql.transaction(async () => {
      await store.putAgent({
        id,
        name: input.name,
        address: key.address,
        publicKey: key.publicKey,
        backend: name,
        ...(key.pkp ? { pkp: key.pkp } : {}),
        ...(cluster === undefined ? {} : { cluster }),
      });
      await audit.append({
        type: "agent.created",
        agentId: id,
        actor,
        data: {
          name: input.name,
          address: key.address,
          publicKey: key.publicKey,
          ...(cluster !== undefined
            ? { cluster, ...clusterSize(cluster), dkgMs: Date.now() - started }
            : { backend: name, ...(key.pkp ? { pkp: key.pkp } : {}) }),
        },
      });
      if (policy && key.policyAuthorization) {
        await recordPolicy(id, version, policy, key.policyAuthorization, actor);
      }
    });
    backend.refill?.(id);
    return get(id);
  };

  return {
    get,
    list: async () => Promise.all((await store.agents()).map(view)),

    async create(input, adminKey, actor) {
      const policy = input.policy === undefined ? undefined : validatePolicy(input.policy);
      const name = input.backend ?? backends.defaultBackend;
      const backend = await backends.get(name);
      if (input.cluster !== undefined && name !== "local") {
        throw new VaultError(
          "VALIDATION_FAILED",
          "only local agents are placed on a signer cluster",
        );
      }
      const placement =
        name === "local"
          ? clusters.place(await store.agentsPerCluster(), input.cluster)
          : undefined;
      try {
        return await createOn(backend, name, placement?.name, policy, input, adminKey, actor);
      } finally {
        placement?.done();
      }
    },

    async setPolicy(id, input, adminKey, actor) {
      const agent = await get(id);
      const policy = validatePolicy(input);
      const version = ((await store.policy(id))?.version ?? 0) + 1;
      const backend = await backends.get(agent.backend);
      const { authorization } = await backend
        .setPolicy({
          agentId: id,
          address: agent.address,
          version,
          policy,
          authorize: (action) => authorize(adminKey, action),
        })
        .catch(rethrowClusterFailure);
      await store.sql.transaction(() => recordPolicy(id, version, policy, authorization, actor));
      return { version };
    },

    async resyncNode(cluster, index) {
      const node = clusters.named(cluster).client(index);
      for (const agent of await store.agents()) {
        if ((agent.backend ?? "local") !== "local") continue; // a PKP's policy lives in Lit
        if ((await clusters.nameOf(agent.id)) !== cluster) continue; // another cluster's nodes hold it
        const p = await store.policy(agent.id);
        // Nodes refuse what they already hold (POLICY_STALE) or what came with the key (agent.create).
        if (!p) continue;
        const body = {
          agentId: agent.id,
          version: p.version,
          policy: p.policy,
          authorization: p.authorization,
        };
        await node.call("policy.set", `resync-${agent.id}`, body).catch((err: unknown) => {
          if (!(err instanceof NodeRefused)) throw err;
        });
      }
    },
  };
}
