/**
 * Vault-side driving of the DKLs23 rounds across signer nodes. The vault only relays:
 * every protocol message is sealed node-to-node (src/transport/p2p.ts), so routing by
 * receiver is all it can do with them.
 */
import { randomUUID } from "node:crypto";
import type { SealedMessage } from "../../transport/p2p.js";
import type { NodeClient } from "./node-client.js";

type WithMessages = { messages: SealedMessage[] };

export function inboxFor(index: number, replies: WithMessages[]): SealedMessage[] {
  return replies.flatMap((r) => r.messages.filter((m) => m.to === index));
}

async function all<T>(nodes: NodeClient[], fn: (node: NodeClient) => Promise<T>): Promise<T[]> {
  return Promise.all(nodes.map(fn));
}

export async function runDkg(
  nodes: NodeClient[],
  agentId: string,
  authorization: string,
  policy: { version: number; policy: string } | undefined,
  onProgress: (round: number) => void = () => {},
): Promise<{ publicKey: string; address: string }> {
  const sid = `dkg-${randomUUID()}`;
  let replies = await all(nodes, (n) =>
    n.call<WithMessages>("dkg.start", sid, { agentId, authorization, policy }),
  );
  onProgress(1);
  const r2 = await all(nodes, (n) =>
    n.call<WithMessages & { commitment: string }>("dkg.round", sid, {
      round: 2,
      messages: inboxFor(n.index, replies),
    }),
  );
  onProgress(2);
  // Round 4 takes every party's chain-code commitment, in party order.
  const commitments = nodes
    .map((n, i) => ({ index: n.index, commitment: (r2[i] as { commitment: string }).commitment }))
    .sort((a, b) => a.index - b.index)
    .map((c) => c.commitment);
  replies = await all(nodes, (n) =>
    n.call<WithMessages>("dkg.round", sid, { round: 3, messages: inboxFor(n.index, r2) }),
  );
  onProgress(3);
  const r4 = await all(nodes, (n) =>
    n.call<WithMessages>("dkg.round", sid, {
      round: 4,
      messages: inboxFor(n.index, replies),
      commitments,
    }),
  );
  onProgress(4);
  const keys = await all(nodes, (n) =>
    n.call<{ publicKey: string; address: string }>("dkg.round", sid, {
      round: 5,
      messages: inboxFor(n.index, r4),
    }),
  );
  onProgress(5);
  const first = keys[0] as { publicKey: string; address: string };
  if (keys.some((k) => k.publicKey !== first.publicKey)) {
    throw new Error("signer nodes disagree on the generated public key");
  }
  return first;
}

/** `pause` runs before each round: background presigning yields to online signatures there. */
export async function runPresign(
  nodes: NodeClient[],
  agentId: string,
  presigId: string,
  pause: () => Promise<void> = async () => {},
): Promise<void> {
  const sid = `pre-${randomUUID()}`;
  const parties = nodes.map((n) => n.index);
  let replies = await all(nodes, (n) =>
    n.call<WithMessages>("presign.start", sid, { agentId, presigId, parties }),
  );
  for (const round of [2, 3] as const) {
    await pause();
    const prev = replies;
    replies = await all(nodes, (n) =>
      n.call<WithMessages>("presign.round", sid, { round, messages: inboxFor(n.index, prev) }),
    );
  }
  await pause();
  const prev = replies;
  await all(nodes, (n) =>
    n.call("presign.round", sid, { round: 4, messages: inboxFor(n.index, prev) }),
  );
}
