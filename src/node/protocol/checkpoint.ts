/**
 * Before a node helps sign an audit checkpoint it re-verifies the chain itself: the
 * vault shows it every entry since the last head this node signed, and the node
 * recomputes each entry's SHA-256 and link. Every node keeps the heads it signed,
 * so a vault whose database was rewritten cannot get a checkpoint for the new
 * history, and its old checkpoints no longer match it.
 */
import { entryHash, GENESIS_HASH } from "../../audit/canonical.js";
import type { AuditEntry } from "../../audit/types.js";
import type { CheckpointIntent } from "../../signers/local/checkpoint.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export type AuditSegment = AuditEntry[];

export function verifyCheckpointSegment(
  node: NodeContext,
  intent: CheckpointIntent & { segment?: AuditSegment },
): void {
  const last = node.store.lastCheckpoint() ?? { seq: 0, hash: GENESIS_HASH };
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
  }
  if (seq !== intent.seq || prev !== intent.head) {
    throw new NodeRefusal("CHECKPOINT_MISMATCH", "the segment does not end at the claimed head");
  }
}
