/**
 * Configuration of x402 (the vault as a paid service), parsed from the environment that
 * src/config/index.ts hands over (nothing here reads process.env).
 *
 *   VAULT_X402_PRICES           JSON: { "GET /v1/cluster": { price, network, payTo, asset?, … } }
 *   VAULT_X402_FACILITATOR_URL  the facilitator's base URL (/verify, /settle, /supported)
 *   VAULT_X402_TIMEOUT_MS       per facilitator call (default 30000)
 */
import { ConfigError } from "./error.js";

type Env = Record<string, string | undefined>;

/** One priced route: what a caller pays, on which network, to whom. */
export interface X402Price {
  /** Decimal amount in the asset's units ("0.01" USDC). */
  price: string;
  /** CAIP-2 network, "eip155:<chainId>". */
  network: string;
  payTo: string;
  /** ERC-20 (EIP-3009) token; default: USDC on networks the x402 packages know. */
  asset?: string;
  /** EIP-712 domain name and version of the token; needed for tokens that are not known. */
  assetName?: string;
  assetVersion?: string;
  decimals?: number;
  maxTimeoutSeconds?: number;
  description?: string;
}

export interface X402Config {
  /** "METHOD /route/template" → price (fastify route templates, e.g. "GET /v1/cluster"). */
  prices: Record<string, X402Price>;
  facilitatorUrl: string | undefined;
  /** Facilitator /verify and /settle timeout; a settle timeout leaves the payment "unknown". */
  timeoutMs: number;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function bad(why: string): ConfigError {
  return new ConfigError(`VAULT_X402_PRICES must be a JSON object "METHOD /path" → price: ${why}`);
}

function price(route: string, v: unknown): X402Price {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw bad(`${route} is not an object`);
  const p = v as Record<string, unknown>;
  const known = new Set([
    "price",
    "network",
    "payTo",
    "asset",
    "assetName",
    "assetVersion",
    "decimals",
    "maxTimeoutSeconds",
    "description",
  ]);
  for (const k of Object.keys(p)) if (!known.has(k)) throw bad(`${route}.${k} is not a field`);
  if (typeof p.price !== "string" || !/^\d+(\.\d{1,18})?$/.test(p.price) || !/[1-9]/.test(p.price))
    throw bad(`${route}.price must be a positive decimal string`);
  if (typeof p.network !== "string" || !/^eip155:[1-9]\d{0,15}$/.test(p.network))
    throw bad(`${route}.network must be "eip155:<chainId>"`);
  if (typeof p.payTo !== "string" || !ADDRESS.test(p.payTo))
    throw bad(`${route}.payTo must be a 0x address`);
  if (p.asset !== undefined && (typeof p.asset !== "string" || !ADDRESS.test(p.asset)))
    throw bad(`${route}.asset must be a 0x address`);
  for (const f of ["assetName", "assetVersion", "description"]) {
    if (p[f] !== undefined && (typeof p[f] !== "string" || p[f] === ""))
      throw bad(`${route}.${f} must be a non-empty string`);
  }
  const d = p.decimals;
  if (d !== undefined && !(typeof d === "number" && Number.isInteger(d) && d >= 0 && d <= 36))
    throw bad(`${route}.decimals must be an integer from 0 to 36`);
  const t = p.maxTimeoutSeconds;
  if (t !== undefined && !(typeof t === "number" && Number.isInteger(t) && t >= 10 && t <= 3600))
    throw bad(`${route}.maxTimeoutSeconds must be an integer from 10 to 3600`);
  return p as unknown as X402Price;
}

export function parseX402Config(env: Env): X402Config {
  const raw = env.VAULT_X402_PRICES;
  const prices: Record<string, X402Price> = {};
  if (raw !== undefined && raw.trim() !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw bad("not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw bad("not an object");
    for (const [route, v] of Object.entries(parsed)) {
      if (!/^(GET|POST|PUT|PATCH|DELETE) \/\S*$/.test(route)) throw bad(`bad route "${route}"`);
      prices[route] = price(route, v);
    }
  }
  const url = env.VAULT_X402_FACILITATOR_URL || undefined;
  if (url !== undefined && !/^https?:\/\/\S+$/.test(url))
    throw new ConfigError(`VAULT_X402_FACILITATOR_URL must be an http(s) URL (got "${url}")`);
  if (Object.keys(prices).length > 0 && url === undefined)
    throw new ConfigError("VAULT_X402_PRICES needs VAULT_X402_FACILITATOR_URL");
  const rawTimeout = env.VAULT_X402_TIMEOUT_MS;
  let timeoutMs = 30_000;
  if (rawTimeout !== undefined && rawTimeout !== "") {
    if (!/^\d+$/.test(rawTimeout) || Number(rawTimeout) < 100 || Number(rawTimeout) > 600_000)
      throw new ConfigError(`VAULT_X402_TIMEOUT_MS must be a whole number from 100 to 600000`);
    timeoutMs = Number(rawTimeout);
  }
  return { prices, facilitatorUrl: url?.replace(/\/+$/, ""), timeoutMs };
}

/** The local facilitator's gas wallet: from the environment or a file, never argv (ps shows it). */
export interface FacilitatorConfig {
  privateKey: string;
}

/**
 *   FACILITATOR_KEY       0x + 64 hex, the wallet that submits settlements
 *   FACILITATOR_KEY_FILE  or a file holding it (read by src/config/index.ts, passed here)
 */
export function parseFacilitatorConfig(env: Env, fileContent?: string): FacilitatorConfig {
  const raw = (fileContent ?? env.FACILITATOR_KEY ?? "").trim();
  if (!raw)
    throw new ConfigError("set FACILITATOR_KEY or FACILITATOR_KEY_FILE (the settlement wallet)");
  if (!/^0x[0-9a-fA-F]{64}$/.test(raw))
    throw new ConfigError("the facilitator key must be 0x + 64 hex digits");
  return { privateKey: raw };
}
