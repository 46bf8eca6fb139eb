/** The policy in force for an agent, parsed from its stored row (one reader for every service). */
import type { Policy } from "../policy/types.js";
import type { VaultStore } from "../store/vault-store.js";

export async function policyOf(
  store: Pick<VaultStore, "policy">,
  agentId: string,
): Promise<Policy | undefined> {
  const row = await store.policy(agentId);
  return row ? (JSON.parse(row.policy) as Policy) : undefined;
}
