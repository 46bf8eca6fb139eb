/**
 * The online signing step on one node, where policy is enforced at the
 * cryptographic layer. Before contributing its share of a signature a node:
 *  1. applies catch-up records the vault shows it (each must carry a valid
 *     threshold signature by the agent's key over the digest re-derived from its
 *     intent: the vault cannot invent or hide spends);
 *  2. requires a complete record: every sequence number below this one;
 *  3. re-derives the digest from the intent itself and re-checks the agent's policy
 *     against its own record of spending;
 *  4. records the spend and deletes the presignature in one transaction, and only
 *     then binds the presignature to the digest (a presignature is never used twice).
 * Because quorums are majorities (2t > n), any two quorums share a node, so rotating
 * quorums cannot spend past a cap that each node enforces on its complete record.
 */
import { getBytes, recoverAddress, Signature } from "ethers";
import { decodeIntent } from "../../policy/decode.js";
import { evaluatePolicy, usageFromRecords } from "../../policy/evaluate.js";
import { spendsFromJson, spendsToJson } from "../../policy/spends.js";
import type { DecodedRequest, Policy } from "../../policy/types.js";
import { NODE_BAD_REQUEST } from "../../protocol/node/ops.js";
import type {
  CatchUpRecord,
  Contribute,
  NodeIntent,
  WithMessages,
} from "../../protocol/node/wire.js";
import { CLUSTER_KEY_ID, checkpointDigest } from "../../threshold/checkpoint.js";
import type { SignParty } from "../../threshold/engine.js";
import type { SealedMessage } from "../../transport/p2p.js";
import type { NodeRecord } from "../store.js";
import { verifyCheckpointSegment } from "./checkpoint.js";
import { type NodeContext, NodeRefusal } from "./context.js";

const DAY_MS = 24 * 60 * 60 * 1000;

function digestOf(intent: NodeIntent): { digest: string; decoded?: DecodedRequest } {
  if (intent.kind === "checkpoint")
    return { digest: checkpointDigest(intent.seq, intent.head, intent.zkHead) };
  try {
    const decoded = decodeIntent(intent);
    return { digest: decoded.digest, decoded };
  } catch {
    throw new NodeRefusal("BAD_INTENT", "this node cannot derive a digest from the intent");
  }
}

/**
 * Catch-up fills only the slots right after this node's record, in order, and never
 * rewrites a record it holds: a signature is over a digest, not over a sequence number,
 * so a vault could otherwise relabel an old signature over a spend to erase it.
 */
function applyCatchUp(
  node: NodeContext,
  agentId: string,
  address: string,
  records: CatchUpRecord[],
) {
  for (const rec of [...records].sort((a, b) => a.seq - b.seq)) {
    const { digest, decoded } = digestOf(rec.intent);
    if (!validSignature(digest, rec.signature, address)) {
      throw new NodeRefusal(
        "BAD_CATCH_UP",
        `catch-up record ${rec.seq} is not signed by the agent key`,
      );
    }
    const local = node.store.record(agentId, rec.seq);
    if (local) {
      if (local.digest !== digest) {
        throw new NodeRefusal(
          "BAD_CATCH_UP",
          `catch-up record ${rec.seq} contradicts this node's record`,
        );
      }
      continue;
    }
    if (rec.seq !== node.store.lastSeq(agentId) + 1) {
      throw new NodeRefusal(
        "BAD_CATCH_UP",
        `catch-up record ${rec.seq} leaves a gap in this node's record`,
      );
    }
    const elsewhere = node.store.seqOfDigest(agentId, digest);
    if (elsewhere !== undefined) {
      throw new NodeRefusal(
        "BAD_CATCH_UP",
        `catch-up record ${rec.seq} repeats record ${elsewhere}`,
      );
    }
    node.store.putRecord(agentId, {
      seq: rec.seq,
      digest,
      intent: JSON.stringify(rec.intent),
      spends: spendsToJson(decoded?.spends ?? []),
      // When this node learnt of the spend: never earlier than it happened, so the
      // rolling 24 h window can only count it longer, never shorter.
      ts: Date.now(),
      signature: rec.signature,
    });
  }
}

function validSignature(digest: string, signature: string, address: string): boolean {
  try {
    return recoverAddress(digest, Signature.from(signature)) === address;
  } catch {
    return false;
  }
}

function checkPolicy(node: NodeContext, agentId: string, decoded: DecodedRequest): void {
  const stored = node.store.policy(agentId);
  const policy = stored ? (JSON.parse(stored.policy) as Policy) : undefined;
  const now = Date.now();
  const history = node.store
    .recordsSince(agentId, now - DAY_MS)
    .map((r) => ({ ts: r.ts, spends: spendsFromJson(r.spends) }));
  const decision = evaluatePolicy(
    policy,
    decoded,
    usageFromRecords(history, new Date(now)),
    new Date(now),
  );
  if (!decision.allow) {
    throw new NodeRefusal("POLICY_DENIED", decision.message, { rule: decision.rule });
  }
}

function checkNewRecord(
  node: NodeContext,
  body: Contribute,
  digest: string,
  decoded?: DecodedRequest,
) {
  const last = node.store.lastSeq(body.agentId);
  if (body.seq !== last + 1) {
    throw new NodeRefusal("NODE_BEHIND", `this node's record ends at ${last}`, { lastSeq: last });
  }
  if (node.store.seqOfDigest(body.agentId, digest) !== undefined) {
    throw new NodeRefusal("DUPLICATE_DIGEST", "this digest was already signed at another sequence");
  }
  if (body.intent.kind === "checkpoint") {
    if (body.agentId !== CLUSTER_KEY_ID)
      throw new NodeRefusal("BAD_INTENT", "agents cannot sign checkpoints");
    verifyCheckpointSegment(node, body.intent);
  } else {
    if (body.agentId === CLUSTER_KEY_ID)
      throw new NodeRefusal("BAD_INTENT", "the cluster key signs checkpoints only");
    checkPolicy(node, body.agentId, decoded as DecodedRequest);
  }
}

export function contribute(node: NodeContext, sessionId: string, body: Contribute) {
  if (body.combineWith !== undefined && body.combiner !== node.index) {
    throw new NodeRefusal(
      NODE_BAD_REQUEST,
      "sign.contribute: combineWith is for the combiner only (combiner must be this node)",
      { field: "combineWith" },
    );
  }
  const agent = node.store.agent(body.agentId);
  if (!agent) throw new NodeRefusal("UNKNOWN_AGENT", "this node holds no share for that agent");
  const { digest, decoded } = digestOf(body.intent);
  const consumed = node.store.db.transaction(() => {
    applyCatchUp(node, body.agentId, agent.address, body.catchUp ?? []);
    const existing = node.store.record(body.agentId, body.seq);
    if (existing && existing.digest !== digest) {
      throw new NodeRefusal("SEQ_CONFLICT", `sequence ${body.seq} is recorded with another digest`);
    }
    // Re-contributing to a recorded digest (a retry on a fresh presignature) counts once.
    if (!existing) {
      checkNewRecord(node, body, digest, decoded);
      const record: NodeRecord = {
        seq: body.seq,
        digest,
        intent: JSON.stringify(
          body.intent.kind === "checkpoint" ? { ...body.intent, segment: undefined } : body.intent,
        ),
        spends: spendsToJson(decoded?.spends ?? []),
        ts: Date.now(),
        signature: null,
      };
      node.store.putRecord(body.agentId, record);
      if (body.intent.kind === "checkpoint") {
        node.store.putCheckpoint(body.intent.seq, body.intent.head, body.intent.zkHead);
        // Trust on first use (src/node/protocol/checkpoint.ts): kept from the first checkpoint on.
        if (body.intent.zkHead !== undefined && body.intent.zkV2Start !== undefined)
          node.store.pinZkV2Start(body.intent.zkV2Start);
      }
    }
    const presig = node.store.takePresig(body.presigId, body.agentId, node.isWarm(body.presigId));
    if (!presig)
      throw new NodeRefusal("UNKNOWN_PRESIG", "no such unused presignature on this node");
    return presig;
  })();
  const party = node.restorePresig(body.presigId, consumed.state);
  const digestBytes = getBytes(digest);
  const last = party.lastMessage(digestBytes);
  // The sequence number is bound into the sealed last message: a combiner opens it only
  // if every quorum member contributed at the same sequence number as itself.
  const messages = node.seal({ sessionId, round: `last:${body.seq}` }, [last], consumed.parties);
  if (body.combiner !== undefined && body.combiner !== node.index) {
    party.free();
    return { digest, parties: consumed.parties, messages };
  }
  if (body.combineWith !== undefined) {
    // Contribute and combine in one call: the others' messages are opened against this
    // node's own sequence number, exactly as sign.combine would.
    const signature = combineNow(
      node,
      sessionId,
      body.seq,
      consumed.parties,
      party,
      body.combineWith,
    );
    return { digest, parties: consumed.parties, messages: [], ...signature };
  }
  node.putSession(sessionId, {
    kind: "combine",
    agentId: body.agentId,
    parties: consumed.parties,
    party,
    digest: digestBytes,
    seq: body.seq,
  });
  return {
    digest,
    parties: consumed.parties,
    messages,
  };
}

export function combine(node: NodeContext, sessionId: string, body: WithMessages) {
  const session = node.takeSession(sessionId, "combine");
  return combineNow(node, sessionId, session.seq, session.parties, session.party, body.messages);
}

/**
 * Opens the other quorum members' last messages, sealed at `seq` (a member that
 * contributed at another sequence number is refused), and combines the signature.
 */
function combineNow(
  node: NodeContext,
  sessionId: string,
  seq: number,
  parties: number[],
  party: SignParty,
  messages: SealedMessage[],
) {
  const others = parties.filter((p) => p !== node.index);
  let incoming: ReturnType<NodeContext["open"]>;
  try {
    incoming = node.open({ sessionId, round: `last:${seq}` }, messages, others);
  } catch (err) {
    party.free();
    throw err;
  }
  const { r, s } = party.combine(incoming);
  return { r: Buffer.from(r).toString("hex"), s: Buffer.from(s).toString("hex") };
}

/** Releases a combine session this node was not asked to finish. */
export function release(node: NodeContext, sessionId: string) {
  node.dropSession(sessionId);
  return { released: true as const };
}
