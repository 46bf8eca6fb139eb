/**
 * Presignature scheduling. Presignatures are background work: they run one job at a
 * time and wait until no online signature has run for a moment (at most `maxWaitMs`),
 * so a warm pool is spent on latency and refilled in lulls. Nothing polls: the worker
 * sleeps until an event wakes it (a pool asked for or below its low-water mark, an
 * online signature finished, a node came back).
 */
import type { NodeClient } from "../node-client.js";
import type { PresigPool } from "../pool.js";

/** Counts online signatures; `waitQuiet` resolves once none ran for `quietMs`. */
export class OnlineGate {
  private online = 0;
  private lastOnline = 0;
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly quietMs = 25,
    private readonly maxWaitMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  begin(): void {
    this.online++;
  }

  end(): void {
    this.online--;
    this.lastOnline = this.now();
    if (this.online === 0 && this.waiters.length > 0) this.wakeLater();
  }

  quiet(): boolean {
    return this.online === 0 && this.now() - this.lastOnline >= this.quietMs;
  }

  waitQuiet(): Promise<void> {
    if (this.quiet()) return Promise.resolve();
    return new Promise((resolve) => {
      const cap = setTimeout(done, this.maxWaitMs);
      function done() {
        clearTimeout(cap);
        resolve();
      }
      this.waiters.push(done);
      if (this.online === 0) this.wakeLater();
    });
  }

  /** Releases every waiter now (stop). */
  releaseAll(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  private wakeLater(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastOnline + this.quietMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.quiet()) this.releaseAll();
      // A timer may fire a millisecond before the quiet moment is over: wait the rest,
      // rather than leave the waiters to their maxWait.
      else if (this.online === 0 && this.waiters.length > 0) this.wakeLater();
    }, wait);
  }
}

export interface SchedulerDeps {
  pool: PresigPool;
  /** Presignatures kept ready per agent (and quorum). */
  target: number;
  gate: OnlineGate;
  quorum(agentId: string): Promise<NodeClient[] | undefined>;
  presign(agentId: string, quorum: NodeClient[], background: boolean): Promise<string>;
  /** A failed background fill is reported here; the next request or event retries it. */
  log(line: string): void;
}

export class PresigScheduler {
  private readonly wanted = new Set<string>();
  private readonly known = new Set<string>();
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Below this many, taking a presignature asks for a refill on its own. */
  lowWater: number;

  constructor(private readonly deps: SchedulerDeps) {
    this.lowWater = Math.ceil(deps.target / 2);
  }

  /** Keeps `target` ready per agent from now on (0: no background refill); returns the old one. */
  retarget(target: number): number {
    const previous = this.deps.target;
    this.deps.target = target;
    this.lowWater = Math.ceil(target / 2);
    // Higher: every pool it knows may now be short. A fill under way reads the new one.
    if (target > previous) for (const agentId of this.known) this.request(agentId);
    return previous;
  }

  /** Tops up the agent's pool for its current quorum, in the background. */
  request(agentId: string): void {
    this.known.add(agentId);
    if (this.stopped || this.deps.target === 0) return;
    this.wanted.add(agentId);
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** A presignature was taken for these parties: refill below the low-water mark. */
  async taken(agentId: string, parties: number[]): Promise<void> {
    try {
      if ((await this.deps.pool.count(agentId, parties)) < this.lowWater) this.request(agentId);
    } catch (err) {
      this.deps.log(`presignature count for ${agentId}: ${(err as Error).message}`);
    }
  }

  /** A node came back: pools that needed it can be filled again. */
  nodeUp(): void {
    for (const agentId of this.known) this.request(agentId);
  }

  /** True while presignatures are being made in the background. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  whenIdle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
    this.wanted.clear();
    this.deps.gate.releaseAll();
  }

  private async run(): Promise<void> {
    for (let next = this.first(); next !== undefined; next = this.first()) {
      this.wanted.delete(next);
      await this.fill(next).catch((err: unknown) =>
        this.deps.log(`presigning for ${next} failed: ${(err as Error).message}`),
      );
    }
  }

  private first(): string | undefined {
    return this.stopped ? undefined : this.wanted.values().next().value;
  }

  private async fill(agentId: string): Promise<void> {
    const { pool, gate } = this.deps;
    for (;;) {
      await gate.waitQuiet();
      if (this.stopped) return;
      const quorum = await this.deps.quorum(agentId);
      if (!quorum) return;
      const parties = quorum.map((c) => c.index);
      // Read each time: a target lowered (0: a benchmark's pause) stops a fill under way.
      if ((await pool.count(agentId, parties)) >= this.deps.target) return;
      await pool.add(agentId, parties, await this.deps.presign(agentId, quorum, true));
    }
  }
}
