/**
 * Cluster-signed checkpoints of the audit chain head. The cluster's own threshold key
 * (generated at enrolment) signs EIP-712 Checkpoint{seq, head} only after each node has
 * re-verified the chain from the last head it signed. `verifyAll` then checks the
 * local chain, every checkpoint signature, and the heads each reachable node kept:
 * a rewritten vault database disagrees with the nodes.
 */

import { zkHeadOf } from "../audit/checkpoints.js";
import type { AuditEntry, AuditLog, Checkpoint, VerifyResult } from "../audit/types.js";
import type { CatchUpRecord, NodeIntent } from "../protocol/node/wire.js";
import type { LocalCluster } from "../signers/local/cluster.js";
import { holding } from "../store/sql/index.js";
import type { VaultStore } from "../store/vault-store.js";
import { CLUSTER_KEY_ID, checkpointDigest, checkpointSigner } from "../threshold/checkpoint.js";
import { KeyedMutex } from "./mutex.js";

export interface NodeHeadsCheck {
  index: number;
  reachable: boolean;
  heads: number;
  mismatchAt?: number;
}

export interface FullVerifyResult extends VerifyResult {
  checkpoints: { count: number; signaturesValid: boolean; firstBadCheckpoint?: number };
  nodes: NodeHeadsCheck[];
}

export interface CheckpointService {
  clusterAddress(): Promise<string | undefined>;
  /** Signs a checkpoint of the current head if it moved; returns it (or undefined). */
  checkpoint(): Promise<Checkpoint | undefined>;
  verifyAll(): Promise<FullVerifyResult>;
  start(intervalMs: number, every: number): void;
  stop(): void;
}

/**
 * The cluster key's signed records for node seqs from..to (the n-th checkpoint is node seq
 * n), read from the audit log's checkpoint store: shown to a node that is behind.
 */
export async function checkpointCatchUp(
  audit: Pick<AuditLog, "checkpoints">,
  fromSeq: number,
  toSeq: number,
): Promise<CatchUpRecord[]> {
  return (await audit.checkpoints.list())
    .map((cp, i) => ({ cp, nodeSeq: i + 1 }))
    .filter(({ nodeSeq }) => nodeSeq >= fromSeq && nodeSeq <= toSeq)
    .map(({ cp, nodeSeq }) => ({
      seq: nodeSeq,
      intent: {
        kind: "checkpoint",
        seq: cp.seq,
        head: cp.hash,
        ...(zkHeadOf(cp) !== undefined ? { zkHead: zkHeadOf(cp) } : {}),
      },
      signature: cp.signature,
    }));
}

/** Entries chained per event-loop turn while catching up (about 2 ms each). */
const ZK_STEP = 2;

export function createCheckpointService(deps: {
  store: VaultStore;
  audit: AuditLog;
  cluster: LocalCluster;
  /** Where failures of background checkpoints are reported (they are retried next tick). */
  log?: (line: string) => void;
}): CheckpointService {
  const { store, audit, cluster } = deps;
  const lock = new KeyedMutex();
  let timer: NodeJS.Timeout | undefined;
  let lastAt = Date.now();

  const clusterAddress = () => store.meta("cluster_address");

  // The first entry says which zk head precedes it, for a node whose last signed
  // checkpoint predates the Poseidon chain (it has no zk head of its own to start from).
  const segment = async (fromSeq: number, toSeq: number) => {
    const entries: Array<AuditEntry & { zkPrev?: string }> = await audit.list(
      fromSeq,
      toSeq - fromSeq + 1,
    );
    const zkPrev = await audit.zkHeadAt(fromSeq - 1);
    if (entries[0] && zkPrev !== undefined) entries[0] = { ...entries[0], zkPrev };
    return entries;
  };

  async function signHead(target: { seq: number; hash: string }): Promise<Checkpoint> {
    const address = await clusterAddress();
    if (!address) throw new Error("the cluster key has not been generated");
    const previous = await audit.checkpoints.latest();
    const from = (previous?.seq ?? 0) + 1;
    // The Poseidon chain in steps of a few entries, letting requests in between.
    while (await audit.zkCatchUp(target.seq, ZK_STEP)) await new Promise((r) => setImmediate(r));
    const zkHead = await audit.zkHeadAt(target.seq);
    if (zkHead === undefined) throw new Error("the zk chain has no head at the checkpoint");
    const intent: NodeIntent = {
      kind: "checkpoint",
      seq: target.seq,
      head: target.hash,
      zkHead,
      segment: await segment(from, target.seq),
      // The nodes pin it on first sight (src/node/protocol/checkpoint.ts).
      zkV2Start: await audit.zkV2Start(),
    };
    const sig = await cluster.signDigest({
      agentId: CLUSTER_KEY_ID,
      seq: (await audit.checkpoints.list()).length + 1,
      intent,
      digest: checkpointDigest(target.seq, target.hash, zkHead),
      address,
      adapt: async (refusal, current) => {
        if (refusal.code !== "CHECKPOINT_BEHIND" || current.kind !== "checkpoint") return undefined;
        return { ...current, segment: await segment(Number(refusal.details.fromSeq), target.seq) };
      },
    });
    const cp: Checkpoint = {
      seq: target.seq,
      hash: target.hash,
      signature: sig.signature,
      signers: sig.signers,
      signedAt: new Date().toISOString(),
      extra: { zkHead },
    };
    await store.sql.transaction(async () => {
      await audit.checkpoints.save(cp);
      await store.setMeta("pending_checkpoint", "");
      await audit.append({
        type: "checkpoint.signed",
        actor: "system",
        data: { seq: cp.seq, head: cp.hash, zkHead, signers: cp.signers },
      });
    });
    return cp;
  }

  // Each checkpoint appends its own "checkpoint.signed" entry; that alone is no news.
  const onlyCheckpointEntrySince = async (last: number) => {
    const head = await audit.head();
    return head.seq === last + 1 && (await audit.get(head.seq))?.type === "checkpoint.signed";
  };

  async function checkpoint(): Promise<Checkpoint | undefined> {
    // One checkpoint at a time across replicas too: the cluster key takes its sequence
    // numbers strictly in order at the nodes, like an agent's (src/services/signing).
    return lock.run("checkpoint", () => holding(store.sql, "checkpoint", checkpointNow));
  }

  async function checkpointNow(): Promise<Checkpoint | undefined> {
    // A checkpoint interrupted half-way is finished first, with the same head:
    // nodes that recorded it accept only that digest at that sequence number.
    const pending = await store.meta("pending_checkpoint");
    const target = pending
      ? (JSON.parse(pending) as { seq: number; hash: string })
      : await audit.head();
    const last = (await audit.checkpoints.latest())?.seq ?? 0;
    if (target.seq <= last || (!pending && (await onlyCheckpointEntrySince(last))))
      return undefined;
    await store.setMeta("pending_checkpoint", JSON.stringify(target));
    lastAt = Date.now();
    return signHead(target);
  }

  async function nodeHeads(): Promise<NodeHeadsCheck[]> {
    return Promise.all(
      cluster.nodes().map(async ({ index }) => {
        try {
          const { checkpoints } = await cluster
            .client(index)
            .call("checkpoint.heads", "verify", {}, 5000);
          let bad: (typeof checkpoints)[number] | undefined;
          for (const h of checkpoints) {
            if ((await audit.get(h.seq))?.hash !== h.hash) {
              bad = h;
              break;
            }
          }
          return {
            index,
            reachable: true,
            heads: checkpoints.length,
            ...(bad ? { mismatchAt: bad.seq } : {}),
          };
        } catch (err) {
          deps.log?.(`node-${index}: checkpoint heads unavailable: ${(err as Error).message}`);
          return { index, reachable: false, heads: 0 };
        }
      }),
    );
  }

  /** The checkpoint's zk head is the log's, and the cluster key signed it. */
  async function checkpointHolds(cp: Checkpoint, address: string | undefined): Promise<boolean> {
    try {
      const zk = zkHeadOf(cp);
      if (zk !== undefined && (await audit.zkHeadAt(cp.seq)) !== zk) return false;
      return checkpointSigner(cp.seq, cp.hash, cp.signature, zk) === address;
    } catch {
      return false;
    }
  }

  /** A background tick: checkpoints when enough entries (or time) went by since the last. */
  let ticking = false;
  async function tick(intervalMs: number, every: number): Promise<void> {
    // A tick still reading (a slow database) is not overlapped by the next one.
    if (ticking) return;
    ticking = true;
    try {
      const head = (await audit.head()).seq;
      const last = (await audit.checkpoints.latest())?.seq ?? 0;
      const due =
        head - last >= every || (head > last + 1 && Date.now() - lastAt > 10 * intervalMs);
      if (due && cluster.hasQuorum()) await checkpoint();
    } finally {
      ticking = false;
    }
  }

  async function verifyAll(): Promise<FullVerifyResult> {
    const chain = await audit.verify();
    const address = await clusterAddress();
    const cps = await audit.checkpoints.list();
    let badCp: Checkpoint | undefined;
    for (const cp of cps) {
      if (!(await checkpointHolds(cp, address))) {
        badCp = cp;
        break;
      }
    }
    const nodes = await nodeHeads();
    const nodeMismatch = nodes.find((n) => n.mismatchAt !== undefined);
    const ok = chain.ok && !badCp && !nodeMismatch;
    const firstBadSeq = chain.firstBadSeq ?? nodeMismatch?.mismatchAt ?? badCp?.seq;
    return {
      ...chain,
      ok,
      ...(firstBadSeq !== undefined && !ok ? { firstBadSeq } : {}),
      checkpoints: {
        count: cps.length,
        signaturesValid: !badCp,
        ...(badCp ? { firstBadCheckpoint: badCp.seq } : {}),
      },
      nodes,
    };
  }

  return {
    clusterAddress,
    checkpoint,
    verifyAll,
    start(intervalMs, every) {
      timer = setInterval(() => {
        void tick(intervalMs, every).catch((err: unknown) =>
          deps.log?.(`background checkpoint failed: ${(err as Error).message}`),
        );
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
