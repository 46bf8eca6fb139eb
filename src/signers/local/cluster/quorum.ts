/**
 * Quorum choice, pure: which t nodes sign for an agent, given what Membership knows.
 *  - Only nodes that are up and not excluded (failed earlier in this very request).
 *  - Nodes whose last beat succeeded ("fresh") are preferred when there are t of them;
 *    otherwise slow-but-up nodes are used rather than refusing to sign.
 *  - Among those, a quorum that already has presignatures for the agent (saves the
 *    four presigning rounds), else the agent's home quorum: the nodes in ring order
 *    from a position derived from its id, so agents (and combining) spread over every
 *    node instead of loading the first t.
 */
import { createHash } from "node:crypto";
import type { NodeView } from "./membership.js";

export interface QuorumInput {
  agentId: string;
  n: number;
  t: number;
  nodes: NodeView[];
  /** Party lists (sorted) that hold presignatures for the agent. */
  pooled: number[][];
  exclude?: ReadonlySet<number>;
}

export function ringStart(agentId: string, n: number): number {
  return createHash("sha256").update(agentId).digest().readUInt32BE(0) % n;
}

export function homeQuorum(agentId: string, n: number, t: number, indices: number[]): number[] {
  const start = ringStart(agentId, n);
  const distance = (i: number) => (i - start + n) % n;
  return [...indices]
    .sort((a, b) => distance(a) - distance(b))
    .slice(0, t)
    .sort((a, b) => a - b);
}

/** The signing quorum (sorted node indices), or undefined when fewer than t are usable. */
export function chooseQuorum(input: QuorumInput): number[] | undefined {
  const { agentId, n, t, nodes, pooled, exclude } = input;
  const usable = nodes.filter((v) => v.up && !exclude?.has(v.index));
  if (usable.length < t) return undefined;
  const fresh = usable.filter((v) => v.fresh);
  const from = new Set((fresh.length >= t ? fresh : usable).map((v) => v.index));
  const ready = pooled.find((q) => q.length === t && q.every((i) => from.has(i)));
  return ready ? [...ready] : homeQuorum(agentId, n, t, [...from]);
}
