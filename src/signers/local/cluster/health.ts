/**
 * Beats: the periodic `/healthz` probe of every node, and every RPC the vault makes
 * (each answer is a beat). Outcomes go to Membership, which decides up and down.
 * Probes never overlap per node: one still waiting for a busy node is not a miss
 * until its own (generous) timeout.
 */
import type { NodeOp, NodeParams, NodeResult } from "../../../protocol/node/ops.js";
import { NodeClient, NodeRefused, NodeUnreachable } from "../node-client.js";
import type { Membership } from "./membership.js";

export type BeatOutcome = "answered" | "gone" | "missed";

/** Socket errors that prove nothing listens (or the process died mid-request). */
const GONE = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"]);

export function classifyFailure(err: unknown): "gone" | "missed" {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && GONE.has(code)) return "gone";
    e = (e as { cause?: unknown }).cause;
  }
  return "missed";
}

export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

export async function probe(url: string, timeoutMs: number): Promise<BeatOutcome> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok ? "answered" : "missed";
  } catch (err) {
    return classifyFailure(err);
  }
}

export function record(members: Membership, index: number, outcome: BeatOutcome, why: string) {
  if (outcome === "answered") members.answered(index);
  else if (outcome === "gone") members.gone(index, why);
  else members.missed(index, why);
}

/** A NodeClient whose every call is a beat; requests in flight are known to Membership. */
export class TrackedNodeClient extends NodeClient {
  private readonly members: Membership;

  constructor(members: Membership, ...client: ConstructorParameters<typeof NodeClient>) {
    super(...client);
    this.members = members;
  }

  override async call<K extends NodeOp>(
    op: K,
    sessionId: string,
    params: NodeParams<K>,
    timeoutMs?: number,
  ): Promise<NodeResult<K>> {
    this.members.requestStarted(this.index);
    // An answer, a refusal included, is a beat; errors that are not the node's say nothing.
    let outcome: BeatOutcome | undefined = "answered";
    let why = "";
    try {
      return await super.call(op, sessionId, params, timeoutMs);
    } catch (err) {
      if (err instanceof NodeUnreachable) [outcome, why] = [classifyFailure(err), err.message];
      else if (!(err instanceof NodeRefused)) outcome = undefined;
      throw err;
    } finally {
      this.members.requestEnded(this.index);
      if (outcome) record(this.members, this.index, outcome, why);
    }
  }
}

export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly probing = new Set<number>();

  constructor(
    private readonly members: Membership,
    private readonly nodes: Array<{ index: number; url: string }>,
    private readonly probeTimeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
  ) {}

  async beat(node: { index: number; url: string }): Promise<void> {
    const outcome = await probe(node.url, this.probeTimeoutMs);
    const why =
      outcome === "gone" ? "not listening" : `no health answer within ${this.probeTimeoutMs} ms`;
    record(this.members, node.index, outcome, `node-${node.index}: ${why}`);
  }

  /** One beat of every node, now (tests and drills). */
  async checkAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.beat(n)));
  }

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      for (const n of this.nodes) {
        if (this.probing.has(n.index)) continue;
        this.probing.add(n.index);
        void this.beat(n).finally(() => this.probing.delete(n.index));
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
