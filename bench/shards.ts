/**
 * `npm run bench -- shards`: signing throughput with one signer cluster and with two
 * (VAULT_CLUSTERS=2, src/config/clusters.ts), measured in the same run on the same machine.
 * Ten agents and ten HTTP clients in both; with two clusters the agents are spread five and
 * five. Two figures per setup:
 *  - sustained: pools drained, so every signature runs the whole DKLs23 protocol
 *    (presignature and online step), the rate a vault holds once its pools are spent;
 *  - warm pool: every presignature already made, the online step alone.
 * CPU per signature per process is reported so the scaling can be read for more cores:
 * on a machine with fewer cores than busy node processes the gain is bounded by the cores.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.js";
import { buildApp } from "../src/http/app.js";
import { createVault } from "../src/services/vault.js";
import { cpuPerOp, sampleCpu } from "./cpu.js";
import { ADMIN, clients, listen, log, nodePids, POLICY, setPoolTarget } from "./harness.js";
import { median, round } from "./stats.js";
import { warmThroughput } from "./throughput.js";

const AGENTS = 10;
const SUSTAINED_PER_CLIENT = 6;
const WARM_PER_CLIENT = 10;

async function measure(clusterCount: number) {
  const config = loadConfig({
    VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), "av-bench-shards-")),
    VAULT_ADMIN_KEY: ADMIN,
    VAULT_CLUSTERS: String(clusterCount),
    VAULT_PRESIG_POOL: String(WARM_PER_CLIENT + 2),
    VAULT_NODE_WARM_PRESIGS: "512",
    VAULT_LOG_LEVEL: "silent",
    VAULT_ZK_SETUP: "off",
  });
  log(`${clusterCount} cluster(s): starting ${clusterCount * 3} signer node processes`);
  const vault = await createVault(config, { timers: false });
  const app = await buildApp(vault);
  const url = await listen(app);
  try {
    const agents: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      agents.push(
        (await vault.agents.create({ name: `shard-${i}`, policy: POLICY }, ADMIN, "bench")).id,
      );
    }
    await vault.clusters.whenRefilled();
    log(`${clusterCount} cluster(s): warm-up, then warm-pool throughput`);
    await clients(url, agents, AGENTS, 0, { warmup: 1 });
    const warm = await warmThroughput(vault, url, agents, WARM_PER_CLIENT);

    log(`${clusterCount} cluster(s): pools drained, sustained throughput`);
    setPoolTarget(vault, 0);
    await vault.clusters.whenRefilled();
    await vault.store.sql.run("DELETE FROM presig_pool");
    const pids = nodePids(vault);
    const before = sampleCpu(pids);
    const run = await clients(url, agents, AGENTS, SUSTAINED_PER_CLIENT);
    const after = sampleCpu(pids);
    const placed = [...(await vault.store.agentsPerCluster()).entries()].map(([c, n]) => [
      c ?? "c0",
      n,
    ]);
    return {
      clusters: clusterCount,
      nodeProcesses: pids.length,
      agentsPerCluster: Object.fromEntries(placed),
      sustained: {
        signaturesPerSecond: round(run.perSecond),
        p50Ms: round(median(run.latencies)),
        // Each client's untimed first request is a full signature too.
        cpuMsPerSignature: cpuPerOp(before, after, run.latencies.length + AGENTS),
      },
      warmPool: warm,
    };
  } finally {
    await app.close();
    await vault.stop();
  }
}

export async function runShardsBench() {
  const one = await measure(1);
  const two = await measure(2);
  return {
    machine: { cpus: (await import("node:os")).cpus().length },
    oneCluster: one,
    twoClusters: two,
    ratio: {
      sustained: round(two.sustained.signaturesPerSecond / one.sustained.signaturesPerSecond),
      warmPool: round(two.warmPool.signaturesPerSecond / one.warmPool.signaturesPerSecond),
    },
  };
}
