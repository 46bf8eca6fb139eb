/**
 * Enrolment and per-agent state on a node. Enrolment pins the cluster's peers and
 * the hash of the operator's admin key; it happens once, and a second enrolment is
 * accepted only if it is identical. Policy changes need the admin key, checked by
 * the node itself: a vault process alone cannot widen a policy.
 */
import type { AgentQuery, ClusterConfig, PolicySet } from "../../protocol/node/wire.js";
import { checkedPolicy, requireAdmin } from "./authority.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export function enroll(node: NodeContext, body: ClusterConfig) {
  const existing = node.store.cluster();
  if (existing) {
    if (JSON.stringify(existing) !== JSON.stringify(body)) {
      throw new NodeRefusal("ALREADY_ENROLLED", "this node is enrolled in another cluster");
    }
    return { enrolled: true as const };
  }
  const me = body.peers.find((p) => p.index === node.index);
  if (!me || me.signingKey !== node.identity.publicIdentity.signingKey) {
    throw new NodeRefusal("BAD_ENROLMENT", "the peer list does not name this node's identity");
  }
  if (!(body.t >= 2 && body.t <= body.n && 2 * body.t > body.n && body.peers.length === body.n)) {
    throw new NodeRefusal("BAD_ENROLMENT", "threshold must be a majority of n (2t > n)");
  }
  node.store.setCluster(body);
  node.loadPeers(body);
  return { enrolled: true as const };
}

export function setPolicy(node: NodeContext, body: PolicySet) {
  const action = {
    op: "policy.set" as const,
    agentId: body.agentId,
    version: body.version,
    policy: body.policy,
  };
  requireAdmin(node, action, body.authorization);
  if (!node.store.agent(body.agentId)) throw new NodeRefusal("UNKNOWN_AGENT", "no such agent");
  const current = node.store.policy(body.agentId)?.version ?? 0;
  if (body.version <= current) {
    throw new NodeRefusal("POLICY_STALE", `policy version must be above ${current}`);
  }
  const policy = checkedPolicy(body.policy);
  node.store.putPolicy(body.agentId, body.version, JSON.stringify(policy));
  return { version: body.version };
}

export function agentState(node: NodeContext, body: AgentQuery) {
  const agent = node.store.agent(body.agentId);
  if (!agent) throw new NodeRefusal("UNKNOWN_AGENT", "no such agent");
  return {
    address: agent.address,
    lastSeq: node.store.lastSeq(body.agentId),
    policyVersion: node.store.policy(body.agentId)?.version ?? 0,
    presigs: node.store.presigIds(body.agentId).map((p) => p.id),
  };
}

export function signedHeads(node: NodeContext) {
  return { checkpoints: node.store.checkpoints() };
}
