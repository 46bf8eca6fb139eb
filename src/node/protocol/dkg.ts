/**
 * Distributed key generation on one node (DKLs23 keygen: all n parties, five
 * message rounds relayed by the vault: dkg.start, dkg.round 2–4, dkg.finish). The
 * first round checks the operator's admin key against the hash this node was enrolled
 * with, so a vault process alone cannot mint agents. The last round stores the share
 * encrypted at rest.
 */
import { computeAddress, hexlify } from "ethers";
import type { DkgRound, DkgStart, WithMessages } from "../../protocol/node/wire.js";
import type { SealedMessage } from "../../transport/p2p.js";
import { RemoteKeygen } from "../engine-host.js";
import { checkedPolicy, requireAdmin } from "./authority.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export async function dkgStart(node: NodeContext, sessionId: string, body: DkgStart) {
  const policy = body.policy ? parsePolicy(body.policy.policy) : null;
  if (policy !== null) checkedPolicy(policy);
  const version = body.policy?.version ?? 0;
  requireAdmin(
    node,
    { op: "agent.create", agentId: body.agentId, policyVersion: version, policy },
    body.authorization,
  );
  if (node.store.agent(body.agentId)) throw new NodeRefusal("AGENT_EXISTS", "agent already exists");
  const { n, t } = node.cluster();
  const { party, first } = await RemoteKeygen.start(node.engine, n, t, node.index);
  const session = { kind: "dkg" as const, agentId: body.agentId, party, ...pick(body.policy) };
  node.putSession(sessionId, session);
  return { messages: node.seal({ sessionId, round: "dkg1" }, [first], allParties(n)) };
}

function parsePolicy(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new NodeRefusal("BAD_POLICY", "the policy is not JSON");
  }
}

function pick(policy: DkgStart["policy"]) {
  return policy ? { policy } : {};
}

function allParties(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function others(node: NodeContext): number[] {
  return allParties(node.cluster().n).filter((i) => i !== node.index);
}

export async function dkgRound(node: NodeContext, sessionId: string, body: DkgRound) {
  const session = node.takeSession(sessionId, "dkg");
  const { n } = node.cluster();
  try {
    const ctx = { sessionId, round: `dkg${body.round - 1}` };
    const incoming = node.open(ctx, body.messages, others(node));
    const commitments = body.commitments?.map((c) => Buffer.from(c, "base64"));
    const out = await session.party.round(
      incoming,
      body.round === 4 ? commitments : undefined,
      body.round === 2,
    );
    const reply: { messages: SealedMessage[]; commitment?: string } = {
      messages: node.seal({ sessionId, round: `dkg${body.round}` }, out.messages, allParties(n)),
    };
    if (out.commitment) reply.commitment = Buffer.from(out.commitment).toString("base64");
    node.putSession(sessionId, session);
    return reply;
  } catch (err) {
    session.party.free();
    throw err;
  }
}

/** The fifth round: the round-4 messages complete the share, stored encrypted at rest. */
export async function dkgFinish(node: NodeContext, sessionId: string, body: WithMessages) {
  const session = node.takeSession(sessionId, "dkg");
  try {
    const incoming = node.open({ sessionId, round: "dkg4" }, body.messages, others(node));
    const { share, publicKey } = await session.party.finish(incoming);
    const pub = hexlify(publicKey);
    const address = computeAddress(pub);
    node.store.db.transaction(() => {
      node.store.putAgent(session.agentId, pub, address, share);
      if (session.policy) {
        node.store.putPolicy(session.agentId, session.policy.version, session.policy.policy);
      }
    })();
    return { publicKey: pub, address };
  } catch (err) {
    session.party.free();
    throw err;
  }
}
