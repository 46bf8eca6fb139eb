/**
 * The benchmark's HTTP clients, in a worker thread: the load generator must not share
 * the vault's event loop, or it would slow the very server it measures.
 */
import { parentPort, workerData } from "node:worker_threads";
import { load } from "./stats.js";

interface Job {
  url: string;
  token: string;
  /** Agent each client signs for (client i uses agents[i % agents.length]). */
  agents: string[];
  clients: number;
  perClient: number;
  /** Requests per client before the timed ones (their latencies are returned apart). */
  warmup: number;
  /** Each request takes the next agent (one client spread over many pools). */
  rotate: boolean;
}

async function run(job: Job) {
  const headers = { authorization: `Bearer ${job.token}`, "content-type": "application/json" };
  let n = 0;
  const sign = async (agentId: string) => {
    const res = await fetch(`${job.url}/v1/agents/${agentId}/sign/message`, {
      method: "POST",
      headers,
      body: JSON.stringify({ message: `bench ${n++} ${Math.random()}` }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`sign failed: ${res.status} ${text}`);
  };
  const agentFor = (c: number, i: number) =>
    job.agents[(job.rotate ? c + i : c) % job.agents.length] as string;
  // The warm-up requests (at least one per client, for the connection pool) come first and
  // are reported apart: they measure a cold process, the timed ones its steady state.
  const warmups = Math.max(1, job.warmup);
  const warm = await load(job.clients, warmups, (c, i) => sign(agentFor(c, i)));
  const timed = await load(job.clients, job.perClient, (c, i) => sign(agentFor(c, i + warmups)));
  return { ...timed, warmupLatencies: warm.latencies };
}

run(workerData as Job).then(
  (result) => parentPort?.postMessage({ ok: true, result }),
  (err: Error) => parentPort?.postMessage({ ok: false, error: err.message }),
);
