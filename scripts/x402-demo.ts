/**
 * The x402 demo, end to end on this machine with real settlement:
 *   1. ganache on 127.0.0.1 with an EIP-3009 test USDC (compiled from test/fixtures/x402);
 *   2. the local facilitator as its own process (`FACILITATOR_KEY=… agent-vault facilitator --rpc …`);
 *   3. a vault (three signer node processes) whose GET /v1/cluster costs 0.01 USDC;
 *   4. an agent whose policy allows that token on that chain, funded with 5 USDC;
 *   5. `agent-vault x402 fetch <vault>/v1/cluster --agent <id>`: 402 → the vault signs the
 *      payment with the agent's threshold key → paid retry → body + settlement.
 * Run: npm run demo:x402   (dev dependencies needed: ganache, solc)
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.js";
import { buildApp } from "../src/http/app.js";
import { createVault } from "../src/services/vault.js";
import {
  CHAIN_ID,
  localTokenPrice,
  startFacilitatorProcess,
  startLocalChain,
} from "../test/helpers/chain.js";

const ADMIN = "av_demo_admin_key_0123456789abcdefghijklmnopqrstuvwxyz";
const PAY_TO = "0x9999999999999999999999999999999999999999";
const CLI = ["--import", "tsx", "src/cli/main.ts"];
const say = (s: string) => console.log(`\n== ${s}`);

say("local chain + EIP-3009 token");
const chain = await startLocalChain();
console.log(`ganache ${chain.rpcUrl} (chain ${CHAIN_ID}), token ${chain.tokenAddress}`);

say("facilitator process");
const { child: fac, url: facUrl } = await startFacilitatorProcess(chain.rpcUrl, 0, console.log);

say("vault with GET /v1/cluster priced at 0.01 USDC");
const config = loadConfig({
  VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), "av-x402-demo-")),
  VAULT_ADMIN_KEY: ADMIN,
  VAULT_PRESIG_POOL: "2",
  VAULT_ZK_SETUP: "off",
  VAULT_X402_PRICES: JSON.stringify({
    "GET /v1/cluster": localTokenPrice(chain.tokenAddress, PAY_TO, "0.01", "cluster status"),
  }),
  VAULT_X402_FACILITATOR_URL: facUrl,
});
const vault = await createVault(config, { log: (l) => console.log(`  ${l}`) });
const app = await buildApp(vault);
const url = await app.listen({ port: 0, host: "127.0.0.1" });
console.log(`vault on ${url}; listing: ${url}/.well-known/x402`);

say("agent with a policy for the local token, funded with 5 USDC");
const admin = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
const created = (await (
  await fetch(`${url}/v1/agents`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({
      name: "buyer",
      policy: {
        chains: [CHAIN_ID],
        assets: {
          [chain.tokenAddress]: { symbol: "USDC", decimals: 6, maxPerTx: "1", maxPer24h: "10" },
        },
        allowTypedData: ["TransferWithAuthorization"],
      },
    }),
  })
).json()) as { id: string; address: string };
const { key } = (await (
  await fetch(`${url}/v1/agents/${created.id}/keys`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ scopes: ["READ", "EXECUTE", "SPEND"] }),
  })
).json()) as { key: string };
await (await chain.token.getFunction("mint")(created.address, 5_000_000n)).wait();
const balances = async () =>
  `agent ${await chain.balanceOf(created.address)}, payTo ${await chain.balanceOf(PAY_TO)} (base units)`;
console.log(`agent ${created.id} ${created.address}; ${await balances()}`);

say(`agent-vault x402 fetch ${url}/v1/cluster --agent ${created.id}`);
const code = await new Promise<number>((resolve) => {
  const c = spawn(
    process.execPath,
    [...CLI, "x402", "fetch", `${url}/v1/cluster`, "--agent", created.id],
    {
      env: { ...process.env, VAULT_URL: url, VAULT_API_KEY: key },
      stdio: "inherit",
    },
  );
  c.on("exit", (n) => resolve(n ?? 1));
});
console.log(`\nexit ${code}; ${await balances()}`);

await app.close();
await vault.stop();
fac.kill("SIGTERM");
await chain.stop();
