/**
 * Vault-side driving of the DKLs23 rounds across signer nodes. The vault only relays:
 * every protocol message is sealed node-to-node (src/transport/p2p.ts), so routing by
 * receiver is all it can do with them.
 */
import { randomUUID } from "node:crypto";
import type { WithMessages } from "../../protocol/node/wire.js";
import type { SealedMessage } from "../../transport/p2p.js";
import type { NodeClient } from "./node-client.js";

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
  const start = policy ? { agentId, authorization, policy } : { agentId, authorization };
  const r1 = await all(nodes, (n) => n.call("dkg.start", sid, start));
  onProgress(1);
  const r2 = await all(nodes, (n) =>
    n.call("dkg.round", sid, { round: 2, messages: inboxFor(n.index, r1) }),
  );
  onProgress(2);
  // Round 4 takes every party's chain-code commitment, in party order.
  const commitments = nodes
    .map((n, i) => ({ index: n.index, commitment: r2[i]?.commitment }))
    .sort((a, b) => a.index - b.index)
    .map((c) => {
      if (c.commitment === undefined) throw new Error(`node-${c.index} sent no commitment`);
      return c.commitment;
    });
  const r3 = await all(nodes, (n) =>
    n.call("dkg.round", sid, { round: 3, messages: inboxFor(n.index, r2) }),
  );
  onProgress(3);
  const r4 = await all(nodes, (n) =>
    n.call("dkg.round", sid, { round: 4, messages: inboxFor(n.index, r3), commitments }),
  );
  onProgress(4);
  const keys = await all(nodes, (n) =>
    n.call("dkg.finish", sid, { messages: inboxFor(n.index, r4) }),
  );
  onProgress(5);
  const [first] = keys;
  if (!first || keys.some((k) => k.publicKey !== first.publicKey)) {
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
    n.call("presign.start", sid, { agentId, presigId, parties }),
  );
  for (const round of [2, 3] as const) {
    await pause();
    const prev = replies;
    replies = await all(nodes, (n) =>
      n.call("presign.round", sid, { round, messages: inboxFor(n.index, prev) }),
    );
  }
  await pause();
  const prev = replies;
  await all(nodes, (n) => n.call("presign.finish", sid, { messages: inboxFor(n.index, prev) }));
}
