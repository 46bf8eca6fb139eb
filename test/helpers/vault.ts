/** A real vault (SQLite file, three signer node processes) with its fastify app, for HTTP tests. */
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../../src/config/index.js";
import { buildApp } from "../../src/http/app.js";
import type { AgentView } from "../../src/services/agents.js";
import { createVault, type Vault, type VaultOptions } from "../../src/services/vault.js";
import { newVaultDir } from "./vault-snapshot.js";

export const ADMIN_KEY = "av_admin_test_key_0123456789abcdefghijklmnopqrstuvwxyz";
export const BASE_SEPOLIA = 84532;
export const USDC_BASE_SEPOLIA = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";

export interface TestVault {
  vault: Vault;
  app: FastifyInstance;
  dir: string;
  admin: Record<string, string>;
  createAgent(policy?: unknown): Promise<{ id: string; address: string }>;
  issueKey(
    agentId: string,
    scopes: string[],
  ): Promise<{ keyId: string; key: string; auth: Record<string, string> }>;
  stop(): Promise<void>;
}

export async function startTestVault(
  env: Record<string, string> = {},
  opts: Pick<VaultOptions, "backendLoaders" | "log"> = {},
): Promise<TestVault> {
  // VAULT_DATA_DIR in env restarts a vault on an earlier one's folder; otherwise the
  // folder is a copy of a first start's (test/helpers/vault-snapshot.ts).
  const dir = env.VAULT_DATA_DIR ?? (await newVaultDir(ADMIN_KEY, env));
  const config = loadConfig({
    VAULT_DATA_DIR: dir,
    VAULT_ADMIN_KEY: ADMIN_KEY,
    VAULT_PRESIG_POOL: "2",
    // No circuit setup in the background unless a test asks for it (test/zk/auto-setup).
    VAULT_ZK_SETUP: "off",
    ...env,
  });
  const vault = await createVault(config, { timers: false, restartNodes: false, ...opts });
  const app = await buildApp(vault);
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  return {
    vault,
    app,
    dir,
    admin,
    async createAgent(policy) {
      const res = await app.inject({
        method: "POST",
        url: "/v1/agents",
        headers: admin,
        payload: { name: "agent", ...(policy ? { policy } : {}) },
      });
      if (res.statusCode !== 201) throw new Error(`create agent: ${res.statusCode} ${res.body}`);
      await vault.clusters.whenRefilled();
      return res.json() as { id: string; address: string };
    },
    async issueKey(agentId, scopes) {
      const res = await app.inject({
        method: "POST",
        url: `/v1/agents/${agentId}/keys`,
        headers: admin,
        payload: { scopes },
      });
      if (res.statusCode !== 201) throw new Error(`issue key: ${res.statusCode} ${res.body}`);
      const body = res.json() as { keyId: string; key: string };
      return { ...body, auth: { authorization: `Bearer ${body.key}` } };
    },
    async stop() {
      await app.close();
      await vault.stop();
    },
  };
}

export function ethTx(overrides: Record<string, unknown> = {}) {
  return {
    chainId: BASE_SEPOLIA,
    to: "0x1111111111111111111111111111111111111111",
    value: "1000000000000000",
    data: "0x",
    nonce: 1,
    gasLimit: 21000,
    maxFeePerGas: "1000000000",
    maxPriorityFeePerGas: "1000000",
    ...overrides,
  };
}

export const BASIC_POLICY = {
  chains: [BASE_SEPOLIA],
  assets: {
    ETH: { maxPerTx: "0.01", maxPer24h: "0.05" },
    [USDC_BASE_SEPOLIA]: { maxPerTx: "10", maxPer24h: "100", approvalAbove: "5" },
  },
  allowMessageSigning: true,
  allowTypedData: ["TransferWithAuthorization"],
  rateLimitPerMinute: 1000,
  validUntil: "2099-01-01T00:00:00Z",
};

/** A policy for signer tests: ETH and USDC on Base Sepolia, messages and two typed-data types. */
export const SIGNER_POLICY = {
  chains: [BASE_SEPOLIA],
  assets: {
    ETH: { maxPerTx: "0.01", maxPer24h: "0.05" },
    [USDC_BASE_SEPOLIA]: { maxPerTx: "10", maxPer24h: "100" },
  },
  allowMessageSigning: true,
  allowTypedData: ["TransferWithAuthorization", "Mail"],
};

/** A vault without HTTP (services only) and one agent under SIGNER_POLICY. */
export async function startVaultWithAgent(
  name: string,
): Promise<{ vault: Vault; agent: AgentView }> {
  const dir = await newVaultDir(ADMIN_KEY, {});
  const config = loadConfig({
    VAULT_DATA_DIR: dir,
    VAULT_ADMIN_KEY: ADMIN_KEY,
    VAULT_PRESIG_POOL: "2",
    VAULT_ZK_SETUP: "off",
  });
  const vault = await createVault(config, { timers: false });
  const agent = await vault.agents.create({ name, policy: SIGNER_POLICY }, ADMIN_KEY, "test");
  return { vault, agent };
}
