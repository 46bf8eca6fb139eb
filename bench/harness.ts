/** What the benchmarks share: the admin key, a permissive policy, HTTP load in a worker. */
import { Worker } from "node:worker_threads";
import type { FastifyInstance } from "fastify";
import type { Vault } from "../src/services/vault.js";
import type { load } from "./stats.js";

export const ADMIN = "av_bench_admin_key_0123456789abcdefghijklmnopqrstuvwxyz";
export const POLICY = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "1", maxPer24h: "1000000" } },
  allowMessageSigning: true,
  rateLimitPerMinute: 1_000_000,
};
export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * Sets every cluster's presignature pool target while the bench runs (0: no background
 * refill); returns the previous one.
 */
export function setPoolTarget(vault: Vault, target: number): number {
  const previous = vault.clusters.shards.map((s) => s.cluster.setPoolTarget(target));
  return previous[0] ?? 0;
}

/** The pids of every embedded signer node, all clusters. */
export function nodePids(vault: Vault): number[] {
  return vault.clusters.shards.flatMap((s) =>
    (s.supervisor?.list() ?? []).flatMap((n) => (n.pid ? [n.pid] : [])),
  );
}

export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

type LoadResult = Awaited<ReturnType<typeof load>> & { warmupLatencies: number[] };

export interface ClientOptions {
  /** Requests per client before the timed ones (default 1: the connection). */
  warmup?: number;
  /** Each request takes the next agent (spreads one client over the agents' pools). */
  rotate?: boolean;
}

/** Runs HTTP clients in a worker thread against `url`; returns their latencies. */
export function clients(
  url: string,
  agents: string[],
  count: number,
  perClient: number,
  opts: ClientOptions = {},
): Promise<LoadResult> {
  const worker = new Worker(new URL("./client-worker.js", import.meta.url), {
    workerData: {
      url,
      token: ADMIN,
      agents,
      clients: count,
      perClient,
      warmup: opts.warmup ?? 1,
      rotate: opts.rotate === true,
    },
  });
  return new Promise((resolve, reject) => {
    worker.once("message", (m: { ok: boolean; result?: LoadResult; error?: string }) => {
      void worker.terminate();
      if (m.ok) resolve(m.result as LoadResult);
      else reject(new Error(m.error));
    });
    worker.once("error", reject);
  });
}
