/**
 * `npm run bench:sign [-- <signatures per client> <clients>]`: the warm-pool signing path alone, for
 * profiling. Starts a vault with its three signer node processes and ten agents, fills
 * their pools, then prints bench/throughput.ts's figures. Run it as
 * `node --cpu-prof dist/bench/profile-sign.js` (the nodes inherit the flag) to see where
 * each process's time goes.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.js";
import { buildApp } from "../src/http/app.js";
import { createVault } from "../src/services/vault.js";
import { ADMIN, listen, log, POLICY } from "./harness.js";
import { warmThroughput } from "./throughput.js";

const AGENTS = Number(process.argv[3] ?? 10);
const PER_CLIENT = Number(process.argv[2] ?? 30);

const config = loadConfig({
  VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), "av-bench-sign-")),
  VAULT_ADMIN_KEY: ADMIN,
  VAULT_PRESIG_POOL: String(PER_CLIENT + 2),
  VAULT_NODE_WARM_PRESIGS: String(Math.max(256, 2 * AGENTS * (PER_CLIENT + 2))),
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
const figures = await warmThroughput(vault, url, agents, PER_CLIENT);
process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
await app.close();
await vault.stop();
