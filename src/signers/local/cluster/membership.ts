/**
 * Membership: which signer nodes count as up, from beats. Pure state, no I/O: the
 * health loop and every RPC report outcomes here (src/signers/local/cluster/health.ts).
 *
 * A busy node answers late, not never (DKLs23 keygen keeps its CPU for seconds), so
 * one slow beat is not a verdict. A node is declared down when
 *  - its process is gone (connection refused or reset: nothing listens there), or
 *  - `missesToDown` consecutive beats failed while we had no request running on it, or
 *  - a beat failed and nothing at all came back from it for `silenceMs`.
 * Any answer (a health probe, an RPC result, even a refusal) is a beat and brings the
 * node up again. A request in flight is not a down signal: a node working on our own
 * request is busy, not dead, until the silence rule says otherwise.
 */
import type { ClusterEvents, NodeStatus } from "./types.js";

export interface Tolerance {
  /** Consecutive failed beats (with no request of ours in flight) that mean down. */
  missesToDown: number;
  /** A failed beat after this long without any answer means down, busy or not. */
  silenceMs: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { missesToDown: 3, silenceMs: 10_000 };

/** What quorum choice needs to know about a node. */
export interface NodeView {
  index: number;
  up: boolean;
  /** Up and its last beat succeeded (no miss since the last answer). */
  fresh: boolean;
}

interface Member {
  index: number;
  url: string;
  up: boolean;
  since: number;
  lastError?: string;
  lastContact: number;
  misses: number;
  inFlight: number;
}

export class Membership {
  private readonly members = new Map<number, Member>();

  constructor(
    endpoints: Array<{ index: number; url: string }>,
    private readonly tolerance: Tolerance = DEFAULT_TOLERANCE,
    private readonly events: Partial<ClusterEvents> = {},
    private readonly now: () => number = Date.now,
  ) {
    const t = now();
    for (const e of endpoints) {
      this.members.set(e.index, {
        ...e,
        up: true,
        since: t,
        lastContact: t,
        misses: 0,
        inFlight: 0,
      });
    }
  }

  status(): NodeStatus[] {
    return [...this.members.values()].map((m) => ({
      index: m.index,
      url: m.url,
      up: m.up,
      ...(m.lastError === undefined ? {} : { lastError: m.lastError }),
      since: new Date(m.since).toISOString(),
    }));
  }

  views(): NodeView[] {
    return [...this.members.values()].map((m) => ({
      index: m.index,
      up: m.up,
      fresh: m.up && m.misses === 0,
    }));
  }

  isUp(index: number): boolean {
    return this.members.get(index)?.up === true;
  }

  requestStarted(index: number): void {
    const m = this.members.get(index);
    if (m) m.inFlight++;
  }

  requestEnded(index: number): void {
    const m = this.members.get(index);
    if (m && m.inFlight > 0) m.inFlight--;
  }

  /** The node answered something: a beat. */
  answered(index: number): void {
    const m = this.members.get(index);
    if (!m) return;
    m.lastContact = this.now();
    m.misses = 0;
    if (m.up) return;
    Object.assign(m, { up: true, since: this.now(), lastError: undefined });
    this.events.nodeUp?.(index);
  }

  /** Nothing listens at the node's address: down now. */
  gone(index: number, reason: string): void {
    this.markDown(index, reason);
  }

  /** A beat timed out or failed without proving the process gone. */
  missed(index: number, reason: string): void {
    const m = this.members.get(index);
    if (!m?.up) return;
    if (m.inFlight === 0) m.misses++;
    const silent = this.now() - m.lastContact >= this.tolerance.silenceMs;
    if (m.misses >= this.tolerance.missesToDown || silent) this.markDown(index, reason);
  }

  markDown(index: number, reason: string): void {
    const m = this.members.get(index);
    if (!m?.up) return;
    Object.assign(m, { up: false, lastError: reason, since: this.now() });
    this.events.nodeDown?.(index, reason);
  }
}
