/**
 * Before a node helps sign an audit checkpoint it re-verifies the chain itself: the
 * vault shows it every entry since the last head this node signed, and the node
 * recomputes each entry's SHA-256 and link. Every node keeps the heads it signed,
 * so a vault whose database was rewritten cannot get a checkpoint for the new
 * history, and its old checkpoints no longer match it. The node also recomputes the
 * Poseidon chain (src/audit/commitment.ts) over the same entries from the zkHead it signed
 * last, so the zkHead it co-signs is the one the entries determine.
 */
import { entryHash, GENESIS_HASH } from "../../audit/canonical.js";
import { entryCommitment, nextZkHead, ZK_GENESIS } from "../../audit/commitment.js";
import type { AuditSegment } from "../../protocol/node/wire.js";
import type { CheckpointIntent } from "../../threshold/checkpoint.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export function verifyCheckpointSegment(
  node: NodeContext,
  intent: CheckpointIntent & { segment?: AuditSegment },
): void {
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
    if (intent.zkHead !== undefined) zk = nextZkHead(zk, entryCommitment(entry));
  }
  if (seq !== intent.seq || prev !== intent.head) {
    throw new NodeRefusal("CHECKPOINT_MISMATCH", "the segment does not end at the claimed head");
  }
  if (intent.zkHead !== undefined && zk !== intent.zkHead) {
    throw new NodeRefusal("CHECKPOINT_MISMATCH", "the zk head does not match the entries");
  }
}
