/**
 * The policy in force for an agent, as a domain value: the one place a stored policy row is
 * parsed (the store stays domain-agnostic, src/store; spends have their one codec in
 * src/policy/spends.ts, shared by the vault and the nodes). Read once, so the policy, its
 * version and its authorization always belong together.
 */
import type { Policy } from "../policy/types.js";
import type { VaultStore } from "../store/vault-store.js";

export interface StoredPolicy {
  version: number;
  policy: Policy;
  /** The operator's authorization of this version, as nodes and Lit actions verify it. */
  authorization: string;
  createdAt: string;
}

export async function storedPolicy(
  store: Pick<VaultStore, "policy">,
  agentId: string,
): Promise<StoredPolicy | undefined> {
  const row = await store.policy(agentId);
  if (!row) return undefined;
  return {
    version: row.version,
    policy: JSON.parse(row.policy) as Policy,
    authorization: row.authorization,
    createdAt: row.created_at,
  };
}

export async function policyOf(
  store: Pick<VaultStore, "policy">,
  agentId: string,
): Promise<Policy | undefined> {
  return (await storedPolicy(store, agentId))?.policy;
}
