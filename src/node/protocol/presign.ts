/**
 * Presignatures (DKLs23 signing rounds 1–3, which do not depend on the message:
 * presign.start, presign.round 2–3, presign.finish).
 * The finished presignature is stored encrypted at rest and kept warm in memory;
 * the online step (sign.ts) consumes it durably before binding it to a digest.
 */
import type { PresignRound, PresignStart, WithMessages } from "../../protocol/node/wire.js";
import { SignParty } from "../../threshold/engine.js";
import { RemotePresign } from "../engine-host.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export async function presignStart(node: NodeContext, sessionId: string, body: PresignStart) {
  const { t } = node.cluster();
  const parties = [...new Set(body.parties)].sort((a, b) => a - b);
  if (parties.length !== t || !parties.includes(node.index)) {
    throw new NodeRefusal(
      "BAD_QUORUM",
      `a presignature needs exactly ${t} parties including this node`,
    );
  }
  const agent = node.store.agent(body.agentId);
  if (!agent) throw new NodeRefusal("UNKNOWN_AGENT", "this node holds no share for that agent");
  const { party, first } = await RemotePresign.start(node.engine, agent.share());
  node.putSession(sessionId, {
    kind: "presign",
    agentId: body.agentId,
    presigId: body.presigId,
    parties,
    party,
  });
  return { messages: node.seal({ sessionId, round: "pre1" }, [first], parties) };
}

export async function presignRound(node: NodeContext, sessionId: string, body: PresignRound) {
  const session = node.takeSession(sessionId, "presign");
  const others = session.parties.filter((p) => p !== node.index);
  try {
    const incoming = node.open({ sessionId, round: `pre${body.round - 1}` }, body.messages, others);
    const out = await session.party.round(incoming);
    node.putSession(sessionId, session);
    return { messages: node.seal({ sessionId, round: `pre${body.round}` }, out, session.parties) };
  } catch (err) {
    session.party.free();
    throw err;
  }
}

/** The round-3 messages complete the presignature: stored encrypted, and kept warm. */
export async function presignFinish(node: NodeContext, sessionId: string, body: WithMessages) {
  const session = node.takeSession(sessionId, "presign");
  const others = session.parties.filter((p) => p !== node.index);
  try {
    const incoming = node.open({ sessionId, round: "pre3" }, body.messages, others);
    const state = await session.party.finish(incoming);
    node.store.putPresig(session.presigId, session.agentId, session.parties, state);
    // Restored on the event loop now (about 12 ms), so the online step finds it warm.
    node.keepWarm(session.presigId, SignParty.restore(state));
    return { presigId: session.presigId };
  } catch (err) {
    session.party.free();
    throw err;
  }
}
