/**
 * Agents: a threshold key generated across all signer nodes, and a versioned policy
 * that every node also holds. Policy changes carry the operator's admin authorization
 * (src/auth/admin-authority.ts) so the nodes accept them; every change is audited.
 */
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../audit/types.js";
import { authorize } from "../auth/admin-authority.js";
import { VaultError } from "../errors/index.js";
import type { Policy } from "../policy/types.js";
import { policyHash, validatePolicy } from "../policy/validate.js";
import type { LocalCluster } from "../signers/local/cluster.js";
import { NodeRefused } from "../signers/local/node-client.js";
import { inTransaction } from "../store/db.js";
import type { AgentRow, VaultStore } from "../store/vault-store.js";
import { rethrowClusterFailure } from "./cluster-errors.js";

export interface AgentView {
  id: string;
  name: string;
  address: string;
  publicKey: string;
  threshold: { t: number; n: number };
  policyVersion: number;
  policy: Policy | null;
  createdAt: string;
}

export interface AgentService {
  create(
    input: { name: string; policy?: unknown },
    adminKey: string,
    actor: string,
  ): Promise<AgentView>;
  get(id: string): AgentView;
  list(): AgentView[];
  setPolicy(
    id: string,
    policy: unknown,
    adminKey: string,
    actor: string,
  ): Promise<{ version: number }>;
  /** Re-sends every agent's latest authorized policy to a node that was away. */
  resyncNode(index: number): Promise<void>;
}

export function createAgentService(deps: {
  store: VaultStore;
  audit: AuditLog;
  cluster: LocalCluster;
  onProgress?: (line: string) => void;
}): AgentService {
  const { store, audit, cluster } = deps;

  const view = (a: AgentRow): AgentView => {
    const p = store.policy(a.id);
    return {
      id: a.id,
      name: a.name,
      address: a.address,
      publicKey: a.public_key,
      threshold: { t: cluster.t, n: cluster.n },
      policyVersion: p?.version ?? 0,
      policy: p ? (JSON.parse(p.policy) as Policy) : null,
      createdAt: a.created_at,
    };
  };

  /** Stores a policy version with its authorization and audits the change (inside a transaction). */
  const recordPolicy = (
    id: string,
    version: number,
    policy: Policy,
    authorization: string,
    actor: string,
  ) => {
    store.putPolicy(id, version, JSON.stringify(policy), authorization);
    audit.append({
      type: "policy.changed",
      agentId: id,
      actor,
      data: { version, policyHash: policyHash(policy) },
    });
  };

  const get = (id: string): AgentView => {
    const a = store.agent(id);
    if (!a) throw new VaultError("AGENT_NOT_FOUND");
    return view(a);
  };

  return {
    get,
    list: () => store.agents().map(view),

    async create(input, adminKey, actor) {
      const policy = input.policy === undefined ? undefined : validatePolicy(input.policy);
      const id = `agt_${randomBytes(9).toString("base64url")}`;
      const version = policy ? 1 : 0;
      const authorization = authorize(adminKey, {
        op: "agent.create",
        agentId: id,
        policyVersion: version,
        policy: policy ?? null,
      });
      const started = Date.now();
      const key = await cluster
        .generateKey(
          id,
          authorization,
          policy && { version, policy: JSON.stringify(policy) },
          (r) => deps.onProgress?.(`agent ${id}: key generation round ${r}/5`),
        )
        .catch(rethrowClusterFailure);
      inTransaction(store.db, () => {
        store.putAgent({ id, name: input.name, address: key.address, public_key: key.publicKey });
        audit.append({
          type: "agent.created",
          agentId: id,
          actor,
          data: {
            name: input.name,
            address: key.address,
            publicKey: key.publicKey,
            t: cluster.t,
            n: cluster.n,
            dkgMs: Date.now() - started,
          },
        });
        if (policy) {
          recordPolicy(id, version, policy, authorization, actor);
        }
      });
      cluster.refill(id);
      return get(id);
    },

    async setPolicy(id, input, adminKey, actor) {
      get(id);
      const policy = validatePolicy(input);
      const version = (store.policy(id)?.version ?? 0) + 1;
      const authorization = authorize(adminKey, { op: "policy.set", agentId: id, version, policy });
      // A majority of nodes must hold the new policy: every quorum then includes one.
      await cluster
        .reach("policy.set", { agentId: id, version, policy, authorization }, cluster.t)
        .catch(rethrowClusterFailure);
      inTransaction(store.db, () => {
        recordPolicy(id, version, policy, authorization, actor);
      });
      return { version };
    },

    async resyncNode(index) {
      const node = cluster.client(index);
      for (const agent of store.agents()) {
        const p = store.policy(agent.id);
        // Nodes refuse what they already hold (POLICY_STALE) or what came with the key (agent.create).
        if (!p) continue;
        const body = {
          agentId: agent.id,
          version: p.version,
          policy: JSON.parse(p.policy),
          authorization: p.authorization,
        };
        await node.call("policy.set", `resync-${agent.id}`, body).catch((err: unknown) => {
          if (!(err instanceof NodeRefused)) throw err;
        });
      }
    },
  };
}
