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
  // One untimed request per client warms the connection pool.
  await Promise.all(
    Array.from({ length: job.clients }, (_, c) =>
      sign(job.agents[c % job.agents.length] as string),
    ),
  );
  return load(job.clients, job.perClient, (c) => sign(job.agents[c % job.agents.length] as string));
}

run(workerData as Job).then(
  (result) => parentPort?.postMessage({ ok: true, result }),
  (err: Error) => parentPort?.postMessage({ ok: false, error: err.message }),
);
