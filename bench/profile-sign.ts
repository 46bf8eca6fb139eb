/**
 * `npm run bench:sign`: the warm-pool signing path alone, for profiling. Starts a vault
 * with its three signer node processes, fills the pools of ten agents, then prints the
 * throughput of ten concurrent HTTP clients and the CPU milliseconds each process spent
 * per signature. Run it under `node --cpu-prof` (the nodes inherit the flag) to see where
 * that time goes.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.js";
import { buildApp } from "../src/http/app.js";
import { createVault } from "../src/services/vault.js";
import { cpuPerOp, sampleCpu } from "./cpu.js";
import { ADMIN, clients, listen, log, POLICY } from "./harness.js";
import { median, percentile, round } from "./stats.js";

const AGENTS = 10;
const PER_CLIENT = Number(process.argv[2] ?? 30);

const config = loadConfig({
  VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), "av-bench-sign-")),
  VAULT_ADMIN_KEY: ADMIN,
  VAULT_PRESIG_POOL: String(PER_CLIENT + 2),
  VAULT_LOG_LEVEL: "silent",
  VAULT_ZK_SETUP: "off",
});
const vault = await createVault(config, { timers: false });
const app = await buildApp(vault);
const url = await listen(app);
const agents: string[] = [];
for (let i = 0; i < AGENTS; i++)
  agents.push((await vault.agents.create({ name: `p-${i}`, policy: POLICY }, ADMIN, "bench")).id);
log("filling presignature pools");
await vault.cluster.whenRefilled();
// The online step alone: no background refill during the run (the pools hold enough).
(vault.cluster as unknown as { opts: { poolTarget: number } }).opts.poolTarget = 0;
const pids = (vault.supervisor?.list() ?? []).flatMap((n) => (n.pid ? [n.pid] : []));
const before = sampleCpu(pids);
const run = await clients(url, agents, AGENTS, PER_CLIENT);
const after = sampleCpu(pids);
process.stdout.write(
  `${JSON.stringify(
    {
      signaturesPerSecond: round(run.perSecond),
      p50Ms: round(median(run.latencies)),
      p99Ms: round(percentile(run.latencies, 99)),
      // Each client's one untimed warm-up request is signed too.
      cpuMsPerSignature: cpuPerOp(before, after, run.latencies.length + AGENTS),
    },
    null,
    2,
  )}\n`,
);
await app.close();
await vault.stop();
