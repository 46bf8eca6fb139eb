/** The policy in force for an agent, parsed from its stored row (one reader for every service). */
import type { Policy } from "../policy/types.js";
import type { VaultStore } from "../store/vault-store.js";

export function policyOf(store: Pick<VaultStore, "policy">, agentId: string): Policy | undefined {
  const row = store.policy(agentId);
  return row ? (JSON.parse(row.policy) as Policy) : undefined;
}
