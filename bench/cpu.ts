/**
 * CPU time per process, so the signing figures can be read per signature and per process
 * and extrapolated to other machines: the vault's main thread by its event-loop active
 * time (the load generator runs in a worker thread of the same process and must not be
 * counted), each signer node by /proc/<pid>/stat (user + system, every thread).
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** user + system CPU milliseconds of a process (all threads), from /proc. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

export interface CpuSample {
  vaultMs: number;
  nodesMs: number[];
}

export function sampleCpu(nodePids: number[]): CpuSample {
  return {
    vaultMs: performance.eventLoopUtilization().active,
    nodesMs: nodePids.map(processCpuMs),
  };
}

/** CPU ms per operation for each process between two samples. */
export function cpuPerOp(before: CpuSample, after: CpuSample, ops: number) {
  const per = (ms: number) => Math.round((ms / ops) * 100) / 100;
  const vault = after.vaultMs - before.vaultMs;
  const nodes = after.nodesMs.map((ms, i) => ms - (before.nodesMs[i] ?? 0));
  return {
    vault: per(vault),
    nodes: nodes.map(per),
    total: per(vault + nodes.reduce((a, b) => a + b, 0)),
  };
}
