/**
 * Distributed key generation on one node (DKLs23 keygen: all n parties, five
 * message rounds relayed by the vault). The first round checks the operator's admin
 * key against the hash this node was enrolled with, so a vault process alone cannot
 * mint agents. The last round stores the share encrypted at rest.
 */
import { computeAddress, hexlify } from "ethers";
import { type AdminAction, isAuthorized } from "../../auth/admin-authority.js";
import { KeygenParty } from "../../signers/local/engine.js";
import type { SealedMessage } from "../../transport/p2p.js";
import { checkedPolicy } from "./admin.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export interface DkgStart {
  agentId: string;
  /** The admin authority's signature over the agent.create action. */
  authorization: string;
  policy?: { version: number; policy: string };
}

export interface DkgRound {
  round: 2 | 3 | 4 | 5;
  messages: SealedMessage[];
  commitments?: string[];
}

export function requireAdmin(node: NodeContext, action: AdminAction, authorization: unknown): void {
  if (!isAuthorized(node.cluster().adminPublicKey, action, authorization)) {
    throw new NodeRefusal(
      "ADMIN_REQUIRED",
      "the operator's admin authorization is missing or invalid",
    );
  }
}

export function dkgStart(node: NodeContext, sessionId: string, body: DkgStart) {
  const policy = body.policy ? JSON.parse(body.policy.policy) : null;
  if (policy !== null) checkedPolicy(policy);
  const version = body.policy?.version ?? 0;
  requireAdmin(
    node,
    { op: "agent.create", agentId: body.agentId, policyVersion: version, policy },
    body.authorization,
  );
  if (node.store.agent(body.agentId)) throw new NodeRefusal("AGENT_EXISTS", "agent already exists");
  const { n, t } = node.cluster();
  const party = new KeygenParty(n, t, node.index);
  const session = { kind: "dkg" as const, agentId: body.agentId, party, ...pick(body.policy) };
  node.putSession(sessionId, session);
  const all = allParties(n);
  return { messages: node.seal({ sessionId, round: "dkg1" }, [party.firstMessage()], all) };
}

function pick(policy: DkgStart["policy"]) {
  return policy ? { policy } : {};
}

function allParties(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function dkgRound(node: NodeContext, sessionId: string, body: DkgRound) {
  const session = node.takeSession(sessionId, "dkg");
  const { n } = node.cluster();
  const others = allParties(n).filter((i) => i !== node.index);
  try {
    const incoming = node.open({ sessionId, round: `dkg${body.round - 1}` }, body.messages, others);
    if (body.round === 5) return finishDkg(node, session, incoming);
    const commitments = body.commitments?.map((c) => Buffer.from(c, "base64"));
    const out = session.party.handle(incoming, body.round === 4 ? commitments : undefined);
    const reply: { messages: SealedMessage[]; commitment?: string } = {
      messages: node.seal({ sessionId, round: `dkg${body.round}` }, out, allParties(n)),
    };
    if (body.round === 2) {
      reply.commitment = Buffer.from(session.party.chainCodeCommitment()).toString("base64");
    }
    node.putSession(sessionId, session);
    return reply;
  } catch (err) {
    session.party.free();
    throw err;
  }
}

function finishDkg(
  node: NodeContext,
  session: { agentId: string; party: KeygenParty; policy?: { version: number; policy: string } },
  incoming: ReturnType<NodeContext["open"]>,
) {
  session.party.handle(incoming);
  const { share, publicKey } = session.party.finish();
  const pub = hexlify(publicKey);
  const address = computeAddress(pub);
  node.store.db.transaction(() => {
    node.store.putAgent(session.agentId, pub, address, share);
    if (session.policy) {
      node.store.putPolicy(session.agentId, session.policy.version, session.policy.policy);
    }
  })();
  return { publicKey: pub, address };
}
