/**
 * `npm run bench`: prints one JSON document of measured figures. Every threshold figure
 * has a baseline measured in the same run on the same request path: the same fastify
 * routes, policy check and audit log, with the signature made by a single-key ethers
 * Wallet instead of the cluster.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Wallet } from "ethers";
import type { FastifyInstance } from "fastify";
import { openAuditLog } from "../src/audit/log.js";
import { createDidKey, didKeySigner } from "../src/auth/vc/toolkit.js";
import { loadConfig } from "../src/config/index.js";
import { buildApp } from "../src/http/app.js";
import { createSigningService } from "../src/services/signing.js";
import { createVault, type Vault } from "../src/services/vault.js";
import { openDatabase } from "../src/store/db.js";
import { createSqliteSql } from "../src/store/sql/sqlite.js";
import { runDoorsBench } from "./doors.js";
import { runEnginesBench } from "./engines.js";
import { ADMIN, clients, listen, log, POLICY, setPoolTarget } from "./harness.js";
import { runReplicasBench } from "./replicas.js";
import { runRevocationBench } from "./revocation.js";
import { runShardsBench } from "./shards.js";
import { median, percentile, round, timed } from "./stats.js";
import { warmThroughput } from "./throughput.js";
import { runZkBench, type ZkBenchOptions } from "./zk.js";

/** The baseline: same routes and services, one ethers Wallet per agent instead of the cluster. */
async function baselineApp(vault: Vault, agentIds: string[]): Promise<FastifyInstance> {
  const wallets = new Map(agentIds.map((id) => [id, new Wallet(Wallet.createRandom().privateKey)]));
  for (const id of agentIds) {
    await vault.store.sql.run("UPDATE agents SET address = $1 WHERE id = $2", [
      (wallets.get(id) as Wallet).address,
      id,
    ]);
  }
  const signing = createSigningService({
    store: vault.store,
    audit: vault.audit,
    cluster: {
      refill: () => {},
      signDigest: async (req) => {
        const sig = (wallets.get(req.agentId) as Wallet).signingKey.sign(req.digest);
        return { signature: sig.serialized, r: sig.r, s: sig.s, v: sig.v, signers: [] };
      },
    },
  });
  return buildApp({ ...vault, signing });
}

/** Timed single-client signatures (each on the next of the ten agents, pools full). */
const ONE_CLIENT_SAMPLES = 100;

function latencyFigures(latencies: number[]) {
  return {
    p50Ms: round(median(latencies)),
    p99Ms: round(percentile(latencies, 99)),
    samples: latencies.length,
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "av-bench-"));
  const issuer = didKeySigner(createDidKey()); // trusted for the presentation figures
  const config = loadConfig({
    VAULT_TRUSTED_VC_ISSUERS: JSON.stringify([issuer.did]),
    VAULT_DATA_DIR: dir,
    VAULT_ADMIN_KEY: ADMIN,
    VAULT_PRESIG_POOL: "30",
    // The pools of the ten agents (300 presignatures, up to about 300 on one node) stay
    // deserialised: the "warm pool" figures measure the online step, not restores.
    VAULT_NODE_WARM_PRESIGS: "512",
    VAULT_LOG_LEVEL: "silent",
    VAULT_ZK_SETUP: "off", // no circuit setup competing with the signing figures
  });
  log("starting the vault and its 3 signer node processes");
  const vault = await createVault(config, { timers: false });
  const app = await buildApp(vault);
  const url = await listen(app);

  log("DKG: 5 agents, 2-of-3, nodes in parallel");
  const dkg: number[] = [];
  const agents: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { ms, value } = await timed(() =>
      vault.agents.create({ name: `bench-${i}`, policy: POLICY }, ADMIN, "bench"),
    );
    dkg.push(ms);
    agents.push(value.id);
  }
  const clientsAgents = [...agents];
  for (let i = 5; i < 10; i++)
    clientsAgents.push(
      (await vault.agents.create({ name: `bench-${i}`, policy: POLICY }, ADMIN, "bench")).id,
    );

  log("filling presignature pools");
  await vault.clusters.whenRefilled();

  // A fresh process runs its first requests cold (JIT, connections): they are measured
  // apart, then the same warm-up runs before the baseline, so both are compared warm.
  log("warm-up: 10 clients, 10 signatures each (measured apart)");
  const cold = await clients(url, clientsAgents, 10, 0, { warmup: 10 });
  await vault.clusters.whenRefilled();
  log("warm pool: 1 client, spread over the ten agents' pools");
  const one = await clients(url, clientsAgents, 1, ONE_CLIENT_SAMPLES, { rotate: true });
  await vault.clusters.whenRefilled();
  log("warm pool: 10 clients, one agent each");
  const ten = await clients(url, clientsAgents, 10, 10);
  await vault.clusters.whenRefilled();
  log("warm pool: 10 clients on one agent");
  const tenOne = await clients(url, clientsAgents.slice(1, 2), 10, 2);
  log("warm pool: throughput of 10 clients, CPU per signature per process");
  const throughput = await warmThroughput(vault, url, clientsAgents, 25);

  log("pool drained: sustained signatures per second");
  setPoolTarget(vault, 0);
  await vault.clusters.whenRefilled();
  // Forget the vault's remaining presignatures: every signature now runs all rounds.
  await vault.store.sql.run("DELETE FROM presig_pool");
  const drainAgents = clientsAgents.slice(0, 6);
  const drained = await clients(url, drainAgents, drainAgents.length, 5);

  log("baseline: the same path with a single-key ethers Wallet");
  const base = await baselineApp(vault, clientsAgents);
  const baseUrl = await listen(base);
  await clients(baseUrl, clientsAgents, 10, 0, { warmup: 10 });
  const baseOne = await clients(baseUrl, clientsAgents, 1, ONE_CLIENT_SAMPLES, { rotate: true });
  const baseTen = await clients(baseUrl, clientsAgents, 10, 10);
  const baseThroughput = await clients(baseUrl, clientsAgents, 10, 25);
  const baseSustained = await clients(baseUrl, drainAgents, drainAgents.length, 50);

  log("policy + audit overhead: a denied request does everything but sign");
  const overhead: number[] = [];
  for (let i = 0; i < 300; i++) {
    const { ms } = await timed(() =>
      vault.signing
        .sign(
          agents[0] as string,
          {
            kind: "transaction",
            tx: {
              chainId: 1,
              to: "0x1111111111111111111111111111111111111111",
              value: "1",
              nonce: i + 1,
              gasLimit: 21000,
              maxFeePerGas: "1",
              maxPriorityFeePerGas: "1",
            },
          },
          "bench",
        )
        .catch(() => undefined),
    );
    overhead.push(ms);
  }

  log("front doors: cost per request");
  const doors = await runDoorsBench(app, vault, agents[0] as string, issuer);

  log("audit appends per second");
  const asql = createSqliteSql(openDatabase(join(dir, "audit-bench.sqlite")));
  const audit = await openAuditLog(asql);
  const appends = 20_000;
  const { ms: appendMs } = await timed(async () => {
    for (let i = 0; i < appends; i++)
      await audit.append({
        type: "bench",
        agentId: "a",
        actor: "bench",
        data: { i, amount: "1000" },
      });
  });
  await asql.close();

  const result = {
    machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    dkg2of3Ms: { median: round(median(dkg)), samples: dkg.map((x) => round(x)) },
    warmPoolSign: {
      // The warm-up's 100 signatures: the first requests a fresh vault answers.
      firstRequestsCold: latencyFigures(cold.warmupLatencies),
      clients1: {
        threshold: latencyFigures(one.latencies),
        baseline: latencyFigures(baseOne.latencies),
        ratioP50: round(median(one.latencies) / median(baseOne.latencies)),
      },
      clients10: {
        threshold: latencyFigures(ten.latencies),
        baseline: latencyFigures(baseTen.latencies),
        ratioP50: round(median(ten.latencies) / median(baseTen.latencies)),
      },
      clients10OneAgent: { threshold: latencyFigures(tenOne.latencies) },
      throughput: {
        ...throughput,
        baselineSignaturesPerSecond: round(baseThroughput.perSecond),
      },
    },
    drainedPool: {
      thresholdSignaturesPerSecond: round(drained.perSecond),
      baselineSignaturesPerSecond: round(baseSustained.perSecond),
      p50Ms: round(median(drained.latencies)),
    },
    policyAndAuditOverheadMs: {
      p50: round(median(overhead), 3),
      p99: round(percentile(overhead, 99), 3),
    },
    auditAppendsPerSecond: Math.round(appends / (appendMs / 1000)),
    // GET /v1/agents/:id through app.inject, per door, vs the same path without auth.
    frontDoors: doors,
    // Compliance proofs (bench/zk.ts): Groth16 at N=4 depth 2, then both systems at N=1
    // depth 1 (what the shipped ptau holds for PLONK). `npm run bench -- zk …` for others.
    zk: await runZkBench(log, { n: 4, depth: 2 }),
    zkSystems: await runZkBench(log, {
      n: 1,
      depth: 1,
      systems: ["groth16", "plonk"],
      counts: false,
    }),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  await base.close();
  await app.close();
  await vault.stop();
}

/** `npm run bench -- zk <N> <depth> [--ptau=<file> [--unlisted-ptau]] [--systems=groth16,plonk]` */
function zkBenchOptions(args: string[]): ZkBenchOptions {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ptau: { type: "string" },
      "unlisted-ptau": { type: "boolean", default: false },
      systems: { type: "string", default: "groth16,plonk" },
    },
  });
  const { zk } = loadConfig({
    VAULT_ZK_BATCH: positionals[0] ?? "4",
    VAULT_ZK_DEPTH: positionals[1] ?? "2",
  });
  const systems = values.systems
    .split(",")
    .map((s) => loadConfig({ VAULT_ZK_SYSTEM: s }).zk.system);
  return {
    n: zk.n,
    depth: zk.depth,
    systems,
    ...(values.ptau ? { ptau: values.ptau, allowUnlistedPtau: values["unlisted-ptau"] } : {}),
  };
}

const [mode, ...rest] = process.argv.slice(2);
const only =
  mode === "revocation"
    ? () => runRevocationBench().then((r) => ({ revocation: r }))
    : mode === "zk"
      ? () => runZkBench(log, zkBenchOptions(rest)).then((r) => ({ zk: r }))
      : mode === "shards"
        ? () => runShardsBench().then((r) => ({ shards: r }))
        : mode === "engines"
          ? () => runEnginesBench(log).then((r) => ({ engines: r }))
          : mode === "replicas"
            ? () => runReplicasBench().then((r) => ({ replicas: r }))
            : undefined;
(only
  ? only().then((r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    })
  : main()
).catch((err) => {
  console.error(err);
  process.exit(1);
});
