/**
 * CPU time per process, so the signing figures can be read per signature and per process
 * and extrapolated to other machines: the vault's main thread alone by
 * /proc/<pid>/task/<pid>/stat (the load generator runs in a worker thread of the same
 * process and must not be counted), each signer node by /proc/<pid>/stat (user + system,
 * every thread). Both are CPU time, not wall time, so contention does not inflate them.
 */
import { readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** user + system CPU milliseconds from a /proc stat file. */
function cpuMsOf(path: string): number {
  const stat = readFileSync(path, "utf8");
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
    vaultMs: cpuMsOf(`/proc/${process.pid}/task/${process.pid}/stat`),
    nodesMs: nodePids.map((pid) => cpuMsOf(`/proc/${pid}/stat`)),
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
