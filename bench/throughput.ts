/**
 * Warm-pool throughput: ten HTTP clients, one agent each, sign as fast as the vault
 * answers while every presignature they need is already in the pools. Background refill
 * is paused for the run, so the figure is the online step's own cost; the CPU each
 * process spent is reported per signature (bench/cpu.ts).
 */
import type { Vault } from "../src/services/vault.js";
import { cpuPerOp, sampleCpu } from "./cpu.js";
import { clients, nodePids, setPoolTarget } from "./harness.js";
import { median, percentile, round } from "./stats.js";

export async function warmThroughput(
  vault: Vault,
  url: string,
  agents: string[],
  perClient: number,
) {
  await vault.clusters.whenRefilled();
  const target = setPoolTarget(vault, 0);
  const pids = nodePids(vault);
  const before = sampleCpu(pids);
  const run = await clients(url, agents, agents.length, perClient);
  const after = sampleCpu(pids);
  setPoolTarget(vault, target);
  return {
    clients: agents.length,
    signaturesPerSecond: round(run.perSecond),
    p50Ms: round(median(run.latencies)),
    p99Ms: round(percentile(run.latencies, 99)),
    // Each client's one untimed warm-up request is signed too.
    cpuMsPerSignature: cpuPerOp(before, after, run.latencies.length + agents.length),
  };
}
