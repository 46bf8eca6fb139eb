/**
 * Configuration of the signer backends (issue 10; src/signers/backend.ts), parsed from the
 * environment src/config/index.ts hands over (nothing here reads process.env):
 *
 *   VAULT_DEFAULT_BACKEND      local | lit-v7 | lit-chipotle (default local): POST /v1/agents
 *                              without `backend` uses it; it must be configured
 *   LIT_V7_NETWORK             datil-dev | datil-test | datil: turns the lit-v7 backend on
 *   LIT_V7_RPC_URL             the Lit chain's JSON-RPC URL (optional: the SDK's default)
 *   LIT_V7_OPERATOR_KEY_FILE   file holding the operator's 0x 32-byte EVM key (minting PKPs,
 *                              capacity credits); required with LIT_V7_NETWORK
 *   LIT_V7_CAPACITY_TOKEN_ID   the operator's Capacity Credits NFT (decimal; datil-test and
 *                              datil need one to execute actions; optional)
 *   LIT_CHIPOTLE_URL           the Chipotle server's base URL (the client adds /core/v1/):
 *                              turns the lit-chipotle backend on
 *   LIT_CHIPOTLE_API_KEY_FILE  file holding the account API key (management calls only);
 *                              required with LIT_CHIPOTLE_URL
 *
 * Secrets come from files only, never from argv or the variable itself, and no message
 * here quotes a secret. A half-configured backend stops start-up naming what is missing.
 */
import { readFileSync } from "node:fs";
import { BACKEND_NAMES, type BackendName, isBackendName } from "../signers/backend.js";
import { isLitV7Network, LIT_V7_NETWORKS, type LitV7Network } from "../signers/lit/v7/networks.js";
import type { Env } from "./env.js";
import { ConfigError } from "./error.js";

export type { LitV7Network };

export interface LitV7Config {
  network: LitV7Network;
  rpcUrl?: string;
  /** 0x-prefixed 32-byte hex private key of the operator's wallet. Secret. */
  operatorKey: string;
  /** The operator's Capacity Credits NFT token id (decimal). */
  capacityTokenId?: string;
}

export interface ChipotleConfig {
  /** Base URL without a trailing slash, e.g. https://api.chipotle.litprotocol.com */
  url: string;
  /** The account API key. Secret: management calls only. */
  apiKey: string;
}

export interface BackendsConfig {
  defaultBackend: BackendName;
  litV7?: LitV7Config;
  chipotle?: ChipotleConfig;
}

/** Reads a secret file's content, trimmed; a clear error when it cannot be used. */
function secretFile(name: string, path: string | undefined): string {
  if (!path) throw new ConfigError(`${name} is required (a file holding the secret)`);
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(`${name} cannot be read: ${path}`);
  }
  const value = raw.trim();
  if (value === "") throw new ConfigError(`${name} names an empty file: ${path}`);
  return value;
}

/** http(s) base URL with a host and no path; plain http only to this machine (tests, tunnels). */
function baseUrl(name: string, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new ConfigError(`${name} must be a URL like https://api.chipotle.litprotocol.com`);
  }
  const local = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
  if (u.protocol !== "https:" && !(u.protocol === "http:" && local)) {
    throw new ConfigError(`${name} must use https (plain http only to localhost)`);
  }
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username) {
    throw new ConfigError(`${name} must be the server's base URL, without a path or query`);
  }
  return u.origin;
}

function litV7(env: Env): LitV7Config | undefined {
  const network = env.LIT_V7_NETWORK?.trim();
  const others = ["LIT_V7_RPC_URL", "LIT_V7_OPERATOR_KEY_FILE", "LIT_V7_CAPACITY_TOKEN_ID"].filter(
    (k) => env[k],
  );
  if (!network) {
    if (others.length > 0)
      throw new ConfigError(`${others.join(" and ")} set without LIT_V7_NETWORK`);
    return undefined;
  }
  if (!isLitV7Network(network)) {
    throw new ConfigError(
      `LIT_V7_NETWORK must be one of ${LIT_V7_NETWORKS.join(", ")} (got "${network}")`,
    );
  }
  const operatorKey = secretFile("LIT_V7_OPERATOR_KEY_FILE", env.LIT_V7_OPERATOR_KEY_FILE);
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(operatorKey)) {
    throw new ConfigError(
      "LIT_V7_OPERATOR_KEY_FILE must hold a 32-byte hex private key (0x optional)",
    );
  }
  const rpc = env.LIT_V7_RPC_URL?.trim();
  if (rpc && !/^https?:\/\/[^\s]+$/.test(rpc)) {
    throw new ConfigError(`LIT_V7_RPC_URL must be an http(s) URL (got "${rpc}")`);
  }
  const capacity = env.LIT_V7_CAPACITY_TOKEN_ID?.trim();
  if (capacity && !/^\d{1,78}$/.test(capacity)) {
    throw new ConfigError(
      `LIT_V7_CAPACITY_TOKEN_ID must be a decimal token id (got "${capacity}")`,
    );
  }
  return {
    network,
    ...(rpc ? { rpcUrl: rpc } : {}),
    ...(capacity ? { capacityTokenId: capacity } : {}),
    operatorKey: operatorKey.startsWith("0x") ? operatorKey : `0x${operatorKey}`,
  };
}

function chipotle(env: Env): ChipotleConfig | undefined {
  const url = env.LIT_CHIPOTLE_URL?.trim();
  if (!url) {
    if (env.LIT_CHIPOTLE_API_KEY_FILE)
      throw new ConfigError("LIT_CHIPOTLE_API_KEY_FILE set without LIT_CHIPOTLE_URL");
    return undefined;
  }
  const base = baseUrl("LIT_CHIPOTLE_URL", url);
  const apiKey = secretFile("LIT_CHIPOTLE_API_KEY_FILE", env.LIT_CHIPOTLE_API_KEY_FILE);
  // It goes into an HTTP header: printable ASCII without spaces.
  if (!/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new ConfigError("LIT_CHIPOTLE_API_KEY_FILE must hold one key, printable ASCII");
  }
  return { url: base, apiKey };
}

export function parseBackendsConfig(env: Env): BackendsConfig {
  const raw = env.VAULT_DEFAULT_BACKEND?.trim() || "local";
  if (!isBackendName(raw)) {
    throw new ConfigError(
      `VAULT_DEFAULT_BACKEND must be one of ${BACKEND_NAMES.join(", ")} (got "${raw}")`,
    );
  }
  const v7 = litV7(env);
  const chip = chipotle(env);
  if (raw === "lit-v7" && !v7)
    throw new ConfigError("VAULT_DEFAULT_BACKEND is lit-v7 but LIT_V7_NETWORK is not set");
  if (raw === "lit-chipotle" && !chip)
    throw new ConfigError("VAULT_DEFAULT_BACKEND is lit-chipotle but LIT_CHIPOTLE_URL is not set");
  return { defaultBackend: raw, ...(v7 ? { litV7: v7 } : {}), ...(chip ? { chipotle: chip } : {}) };
}
