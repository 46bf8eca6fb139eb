/**
 * Signing with retries: one online DKLs23 step (each quorum node contributes, one
 * combines, in the same call as its own contribution) on a presignature for the chosen
 * quorum. A node that cannot be reached
 * is left out and the next quorum is tried with the same sequence number and
 * intent, which the nodes that already recorded it accept once. A node that is
 * behind is shown the vault's signed records (catch-up) and asked again.
 */
import { randomUUID } from "node:crypto";
import type { CatchUpRecord } from "../../../protocol/node/wire.js";
import type { SealedMessage } from "../../../transport/p2p.js";
import { type NodeClient, NodeRefused, NodeUnreachable } from "../node-client.js";
import type { PresigPool } from "../pool.js";
import { inboxFor } from "../protocol.js";
import { withRecoveryId } from "./recovery-id.js";
import type { OnlineGate } from "./scheduler.js";
import { type DigestSignature, type DigestSignRequest, QuorumUnavailable } from "./types.js";

export interface SignerDeps {
  n: number;
  t: number;
  pool: PresigPool;
  gate: OnlineGate;
  quorum(agentId: string, exclude: ReadonlySet<number>): Promise<NodeClient[] | undefined>;
  presign(agentId: string, quorum: NodeClient[]): Promise<string>;
  /** A presignature was taken from the pool (the scheduler may refill). */
  taken(agentId: string, parties: number[]): Promise<void>;
  catchUp(
    agentId: string,
    fromSeq: number,
    toSeq: number,
  ): CatchUpRecord[] | Promise<CatchUpRecord[]>;
  /** Names of the nodes Membership holds down, for the error message. */
  down(): string[];
}

export class QuorumSigner {
  constructor(private readonly deps: SignerDeps) {}

  /** Signs a 32-byte digest with the agent's threshold key, after every node's own checks. */
  async sign(req: DigestSignRequest): Promise<DigestSignature> {
    this.deps.gate.begin();
    try {
      return await this.withRetries(req);
    } finally {
      this.deps.gate.end();
    }
  }

  private async withRetries(req: DigestSignRequest): Promise<DigestSignature> {
    const { n, t, pool } = this.deps;
    const failed = new Set<number>();
    let lastError: unknown;
    for (let attempt = 0; attempt <= n - t; attempt++) {
      const quorum = await this.deps.quorum(req.agentId, failed);
      if (!quorum) break;
      const parties = quorum.map((c) => c.index);
      try {
        let presigId = await pool.take(req.agentId, parties);
        if (presigId) void this.deps.taken(req.agentId, parties);
        presigId ??= await this.deps.presign(req.agentId, quorum);
        return await this.online(quorum, presigId, req);
      } catch (err) {
        if (!(err instanceof NodeUnreachable)) throw err;
        failed.add(err.node);
        lastError = err;
      }
    }
    throw new QuorumUnavailable(
      `no quorum of ${t} signer nodes; down: ${this.deps.down().join(", ") || "none"}${lastError ? ` (${(lastError as Error).message})` : ""}`,
    );
  }

  private async online(
    quorum: NodeClient[],
    presigId: string,
    req: DigestSignRequest,
  ): Promise<DigestSignature> {
    const sid = `sig-${randomUUID()}`;
    const combiner = quorum[req.seq % quorum.length];
    if (!combiner) throw new QuorumUnavailable("no signer nodes in the quorum");
    // The other members contribute first (they free their session at once); the combiner
    // then contributes and combines their messages in one call. Two rounds, as with a
    // separate sign.combine, and one request fewer per signature.
    const others = quorum.filter((c) => c !== combiner);
    const settled = await Promise.allSettled(
      others.map((c) => this.contribute(c, sid, presigId, req, combiner.index)),
    );
    const failed = settled.find((r) => r.status === "rejected");
    if (failed?.status === "rejected") {
      const unreachable = settled.find(
        (r) => r.status === "rejected" && r.reason instanceof NodeUnreachable,
      );
      throw unreachable?.status === "rejected" ? unreachable.reason : failed.reason;
    }
    const replies = settled.map(
      (r) => (r as PromiseFulfilledResult<{ messages: SealedMessage[] }>).value,
    );
    const combined = await this.contribute(
      combiner,
      sid,
      presigId,
      req,
      combiner.index,
      inboxFor(combiner.index, replies),
    );
    if (!combined.r || !combined.s)
      throw new Error(`node-${combiner.index} contributed but returned no signature`);
    return withRecoveryId(
      { r: combined.r, s: combined.s },
      req,
      quorum.map((c) => c.index),
    );
  }

  private async contribute(
    c: NodeClient,
    sid: string,
    presigId: string,
    req: DigestSignRequest,
    combiner: number,
    combineWith?: SealedMessage[],
  ) {
    let intent = req.intent;
    let catchUp: CatchUpRecord[] = [];
    for (let tries = 0; ; tries++) {
      try {
        const body = {
          agentId: req.agentId,
          seq: req.seq,
          intent,
          presigId,
          catchUp,
          combiner,
          ...(combineWith ? { combineWith } : {}),
        };
        return await c.call("sign.contribute", sid, body);
      } catch (err) {
        if (!(err instanceof NodeRefused) || tries >= 2) throw err;
        if (err.code === "NODE_BEHIND") {
          catchUp = await this.deps.catchUp(
            req.agentId,
            Number(err.details.lastSeq) + 1,
            req.seq - 1,
          );
          continue;
        }
        const adapted = await req.adapt?.(err, intent);
        if (!adapted) throw err;
        intent = adapted;
      }
    }
  }
}
