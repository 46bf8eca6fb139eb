/**
 * A signer node recomputes the Poseidon chain over the segment before co-signing a
 * checkpoint: a zkHead that the entries do not produce is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { verifyCheckpointSegment } from "../../src/node/protocol/checkpoint.js";
import type { NodeContext } from "../../src/node/protocol/context.js";
import { appendNoise, appendSpend, freshLog, WEI } from "./helpers.js";

const node = (last?: { seq: number; hash: string; zkHead: string | null }) =>
  ({ store: { lastCheckpoint: () => last } }) as unknown as NodeContext;

test("a node co-signs the zk head the entries produce, and refuses any other", () => {
  const log = freshLog();
  appendSpend(log, { amount: WEI("0.001") });
  appendNoise(log);
  appendSpend(log, { amount: WEI("0.002") });
  const head = log.head();
  const zkHead = log.zkHeadAt(head.seq) as string;
  const segment = log.list(1, head.seq);
  const intent = { kind: "checkpoint" as const, seq: head.seq, head: head.hash, segment };
  verifyCheckpointSegment(node(), { ...intent, zkHead });
  assert.throws(
    () => verifyCheckpointSegment(node(), { ...intent, zkHead: (BigInt(zkHead) + 1n).toString() }),
    /zk head does not match/,
  );
  // Continuing from a checkpoint the node signed, with its zk head.
  appendNoise(log);
  const next = log.head();
  const cont = {
    kind: "checkpoint" as const,
    seq: next.seq,
    head: next.hash,
    segment: log.list(next.seq, 1),
    zkHead: log.zkHeadAt(next.seq) as string,
  };
  verifyCheckpointSegment(node({ seq: head.seq, hash: head.hash, zkHead }), cont);
  assert.throws(
    () => verifyCheckpointSegment(node({ seq: head.seq, hash: head.hash, zkHead: "7" }), cont),
    /zk head does not match/,
  );
});
