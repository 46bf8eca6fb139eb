/**
 * Before a node helps sign an audit checkpoint it re-verifies the chain itself: the
 * vault shows it every entry since the last head this node signed, and the node
 * recomputes each entry's SHA-256 and link. Every node keeps the heads it signed,
 * so a vault whose database was rewritten cannot get a checkpoint for the new
 * history, and its old checkpoints no longer match it. The node also recomputes the
 * Poseidon chain (src/audit/commitment.ts) over the same entries from the zkHead it signed
 * last, so the zkHead it co-signs is the one the entries determine.
 *
 * The Poseidon chain is versioned (src/audit/commitment.ts): entries from the vault's "zk v2
 * start" seq S on are chained by the v2 rule. The vault names S in every checkpoint intent;
 * the node pins the S of the first checkpoint it co-signs (trust on first use, like the
 * zkHead below; src/node/protocol/sign.ts stores it with the checkpoint) and refuses any
 * other S later with CHECKPOINT_MISMATCH. On first sight, an S at or before the last head
 * this node signed with a zkHead is refused too: that head was recomputed by the v1 rule.
 * A vault that names no S (older code) is chained by v1 throughout, until it names one.
 */
import { entryHash, GENESIS_HASH } from "../../audit/canonical.js";
import { ZK_GENESIS, zkStep } from "../../audit/commitment.js";
import type { CheckpointNodeIntent } from "../../protocol/node/wire.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export function verifyCheckpointSegment(node: NodeContext, intent: CheckpointNodeIntent): void {
  const last = node.store.lastCheckpoint() ?? { seq: 0, hash: GENESIS_HASH, zkHead: ZK_GENESIS };
  const segment = intent.segment ?? [];
  if (intent.seq <= last.seq) {
    throw new NodeRefusal("CHECKPOINT_STALE", `this node already signed head ${last.seq}`);
  }
  if (segment[0]?.seq !== last.seq + 1) {
    throw new NodeRefusal("CHECKPOINT_BEHIND", `segment must start at ${last.seq + 1}`, {
      fromSeq: last.seq + 1,
    });
  }
  let prev = last.hash;
  let seq = last.seq;
  // A node upgraded after signing version-1 checkpoints has no zkHead for its last one:
  // it then starts from the zkHead the vault claims for it (trust on first use), and
  // every later head is recomputed from entries the node checked itself.
  let zk = last.zkHead ?? intent.segment?.[0]?.zkPrev ?? ZK_GENESIS;
  const v2Start = intent.zkHead === undefined ? undefined : zkV2StartOf(node, intent, last);
  for (const entry of segment) {
    const { hash, ...rest } = entry;
    if (entry.seq !== seq + 1 || entry.prevHash !== prev || entryHash(rest) !== hash) {
      throw new NodeRefusal(
        "CHECKPOINT_MISMATCH",
        `audit entry ${entry.seq} does not chain from the signed head`,
        {
          badSeq: entry.seq,
        },
      );
    }
    prev = hash;
    seq = entry.seq;
    if (v2Start !== undefined) zk = zkStep(zk, entry, v2Start).zkHead;
  }
  if (seq !== intent.seq || prev !== intent.head) {
    throw new NodeRefusal("CHECKPOINT_MISMATCH", "the segment does not end at the claimed head");
  }
  if (intent.zkHead !== undefined && zk !== intent.zkHead) {
    throw new NodeRefusal("CHECKPOINT_MISMATCH", "the zk head does not match the entries");
  }
}

/** The v2 start to chain by: the pinned one (the vault must name the same), else the claim. */
function zkV2StartOf(
  node: NodeContext,
  intent: CheckpointNodeIntent,
  last: { seq: number; zkHead: string | null },
): number {
  const pinned = node.store.zkV2Start();
  const claimed = intent.zkV2Start;
  if (pinned !== undefined) {
    if (claimed !== pinned) {
      throw new NodeRefusal(
        "CHECKPOINT_MISMATCH",
        `the vault's zk v2 start seq is ${String(claimed)}, but this node pinned ${pinned}`,
      );
    }
    return pinned;
  }
  if (claimed === undefined) return Number.POSITIVE_INFINITY; // an older vault: v1 throughout
  if (last.zkHead !== null && claimed <= last.seq) {
    throw new NodeRefusal(
      "CHECKPOINT_MISMATCH",
      `the zk v2 start seq ${claimed} is at or before head ${last.seq}, which this node signed by the v1 rule`,
    );
  }
  return claimed;
}
