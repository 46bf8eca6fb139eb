/**
 * A signer node recomputes the Poseidon chain over the segment before co-signing a
 * checkpoint: a zkHead that the entries do not produce is refused. The chain is versioned
 * (src/audit/commitment.ts): the node chains by the vault's zk v2 start, pinned on first
 * sight, and refuses a vault that later names another.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  chainFieldsV2,
  entryCommitment,
  entryFields,
  nextZkHead,
} from "../../src/audit/commitment.js";
import { verifyCheckpointSegment } from "../../src/node/protocol/checkpoint.js";
import type { NodeContext } from "../../src/node/protocol/context.js";
import { appendNoise, appendSpend, freshLog, WEI } from "./helpers.js";

const node = (last?: { seq: number; hash: string; zkHead: string | null }, pinned?: number) =>
  ({
    store: { lastCheckpoint: () => last, zkV2Start: () => pinned },
  }) as unknown as NodeContext;

test("a node co-signs the zk head the entries produce, and refuses any other", async () => {
  const log = await freshLog();
  assert.equal(await log.zkV2Start(), 1, "a new log chains by v2 from its first entry");
  await appendSpend(log, { amount: WEI("0.001") });
  await appendNoise(log);
  await appendSpend(log, { amount: WEI("0.002") });
  const head = await log.head();
  const zkHead = (await log.zkHeadAt(head.seq)) as string;
  const segment = await log.list(1, head.seq);
  const intent = {
    kind: "checkpoint" as const,
    seq: head.seq,
    head: head.hash,
    segment,
    zkV2Start: await log.zkV2Start(),
  };
  // A fresh node and a fresh vault: S = 1, nothing pinned yet.
  verifyCheckpointSegment(node(), { ...intent, zkHead });
  assert.throws(
    () => verifyCheckpointSegment(node(), { ...intent, zkHead: (BigInt(zkHead) + 1n).toString() }),
    /zk head does not match/,
  );
  // The v1 rule over the same entries gives another head: a node chaining by it refuses.
  assert.throws(
    () => verifyCheckpointSegment(node(), { ...intent, zkV2Start: 99, zkHead }),
    /zk head does not match/,
  );
  // Continuing from a checkpoint the node signed, with its zk head.
  await appendNoise(log);
  const next = await log.head();
  const cont = {
    kind: "checkpoint" as const,
    seq: next.seq,
    head: next.hash,
    segment: await log.list(next.seq, 1),
    zkHead: (await log.zkHeadAt(next.seq)) as string,
    zkV2Start: 1,
  };
  verifyCheckpointSegment(node({ seq: head.seq, hash: head.hash, zkHead }, 1), cont);
  assert.throws(
    () => verifyCheckpointSegment(node({ seq: head.seq, hash: head.hash, zkHead: "7" }, 1), cont),
    /zk head does not match/,
  );
});

test("a node pins the vault's zk v2 start: another one later is CHECKPOINT_MISMATCH", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.001") });
  await appendNoise(log);
  const head = await log.head();
  const intent = {
    kind: "checkpoint" as const,
    seq: head.seq,
    head: head.hash,
    segment: await log.list(1, head.seq),
    zkHead: (await log.zkHeadAt(head.seq)) as string,
    zkV2Start: 1,
  };
  verifyCheckpointSegment(node(undefined, 1), intent);
  for (const claimed of [2, undefined]) {
    assert.throws(
      () => verifyCheckpointSegment(node(undefined, 1), { ...intent, zkV2Start: claimed }),
      (err: Error & { code?: string }) =>
        err.code === "CHECKPOINT_MISMATCH" && /zk v2 start seq is .* pinned 1/.test(err.message),
    );
  }
});

test("an upgraded node: a v2 start at or before its last v1-signed head is refused; after it, both rules apply", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.001") });
  await appendNoise(log);
  await appendSpend(log, { amount: WEI("0.002") });
  const entries = await log.list(1, 3);
  // What the node signed at seq 2 before the upgrade: the v1 chain.
  const v1At2 = entries.slice(0, 2).reduce((zk, e) => nextZkHead(zk, entryCommitment(e)), "0");
  const last = { seq: 2, hash: (entries[1] as { hash: string }).hash, zkHead: v1At2 };
  const third = entries[2] as (typeof entries)[number];
  const intent = {
    kind: "checkpoint" as const,
    seq: 3,
    head: third.hash,
    segment: [third],
    zkHead: chainFieldsV2(v1At2, entryFields(third)),
    zkV2Start: 3,
  };
  verifyCheckpointSegment(node(last), intent);
  assert.throws(
    () => verifyCheckpointSegment(node(last), { ...intent, zkV2Start: 2 }),
    (err: Error & { code?: string }) =>
      err.code === "CHECKPOINT_MISMATCH" && /signed by the v1 rule/.test(err.message),
  );
  // A vault naming no v2 start (older code) is chained by v1 throughout.
  const { zkV2Start: _s, ...old } = intent;
  verifyCheckpointSegment(node(last), {
    ...old,
    zkHead: nextZkHead(v1At2, entryCommitment(third)),
  });
});
