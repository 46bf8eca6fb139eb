/**
 * Configuration is read from the environment here, once, and validated; nothing else
 * in the code base reads process.env. A bad value stops start-up with a message that
 * names the variable and what it accepts.
 */

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { DEFAULT_WARM_PRESIGS } from "../protocol/node/limits.js";
import { type AuthConfig, parseAuthConfig } from "./auth.js";
import { type ClusterConfig, parseClusters, parseNodeUrls } from "./clusters.js";
import { type Env, int } from "./env.js";
import { ConfigError } from "./error.js";
import { type BackendsConfig, parseBackendsConfig } from "./lit.js";
import {
  type FacilitatorConfig,
  parseFacilitatorConfig,
  parseX402Config,
  type X402Config,
} from "./x402.js";

export type { ClusterConfig } from "./clusters.js";
export type { BackendsConfig, ChipotleConfig, LitV7Config, LitV7Network } from "./lit.js";
export { ConfigError };

export interface Threshold {
  t: number;
  n: number;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /**
   * Where the vault keeps its state: undefined for SQLite in the data directory (the
   * embedded default), or a postgres:// URL (VAULT_DATABASE_URL, src/store/sql).
   */
  databaseUrl: string | undefined;
  /** Operator key given by the environment; when absent the first start makes one. */
  adminKey: string | undefined;
  threshold: Threshold;
  /** First signer node port (node i on nodeBasePort + i); 0 picks free ports. */
  nodeBasePort: number;
  /** Presignatures kept ready per agent. */
  presigPool: number;
  /** Presignatures each embedded signer node keeps deserialised in memory. */
  nodeWarmPresigs: number;
  /** Maximum request body, bytes. */
  bodyLimit: number;
  /**
   * Whose X-Forwarded-For to believe for the client address (fastify trustProxy): false, or
   * the proxies' addresses/CIDRs. The refusal budget is per client address.
   */
  trustProxy: false | string;
  /** Audit entries between cluster-signed checkpoints. */
  checkpointEvery: number;
  /** How often to poll node health, ms. */
  healthIntervalMs: number;
  /** Heartbeat period of the revocation push stream (GET /v1/events/stream), ms. */
  eventsHeartbeatMs: number;
  /** Missed health beats in a row (with no request in flight) before a node is down. */
  healthMisses: number;
  /** Silence after which a node is down, busy or not, ms. */
  healthSilenceMs: number;
  /** How long one health probe waits for an answer, ms. */
  healthProbeTimeoutMs: number;
  logLevel: string;
  /** Base URL the CLI's client commands talk to. */
  url: string;
  /**
   * Serve HTTPS with this certificate and key (PEM files; VAULT_TLS_CERT_FILE and
   * VAULT_TLS_KEY_FILE, both or neither). An https VAULT_URL makes the vault an operator
   * with a did:web identity (README "Cross-operator trust").
   */
  tls: { certFile: string; keyFile: string } | undefined;
  /**
   * Signer nodes run elsewhere (`agent-vault node` on other machines), node i at the
   * i-th URL; empty: the vault starts and supervises its embedded nodes.
   */
  nodeUrls: string[];
  /**
   * The signer clusters, home cluster first (src/config/clusters.ts): one unless
   * VAULT_CLUSTERS names several. Agents are placed on one at creation.
   */
  clusters: ClusterConfig[];
  /** JWT and verifiable-credential front doors (src/config/auth.ts). */
  auth: AuthConfig;
  /** x402: priced routes and their facilitator (src/config/x402.ts). */
  x402: X402Config;
  /**
   * Compliance proofs (src/zk): batch size, allowlist depth, ceremony ptau, build folder,
   * and whether a vault without artefacts for that size sets them up by itself ("auto").
   */
  zk: {
    n: number;
    depth: number;
    /** Groth16 (default) or PLONK, whose only setup is the universal ptau (VAULT_ZK_SYSTEM). */
    system: "groth16" | "plonk";
    ptau?: string;
    buildRoot?: string;
    setup: "auto" | "off";
    /** How long a replica's claim on a proof job holds unrenewed (VAULT_ZK_LEASE_MS). */
    leaseMs: number;
  };
  /** Refusals audited one by one per client address per minute; beyond, counted. */
  auditRefusalsPerMinute: number;
  /** Signer backends: the default for new agents, and the Lit ones configured (src/config/lit.ts). */
  backends: BackendsConfig;
}

export function parseThreshold(raw: string): Threshold {
  const m = /^(\d+)-of-(\d+)$/.exec(raw.trim());
  const t = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || t < 2 || n > 9 || t > n) {
    throw new ConfigError(
      `VAULT_THRESHOLD must look like "2-of-3" with 2 ≤ t ≤ n ≤ 9 (got "${raw}")`,
    );
  }
  // Any two quorums must share a node, or rotating quorums could each spend a full cap.
  if (2 * t <= n)
    throw new ConfigError(`VAULT_THRESHOLD ${raw}: t must be a majority of n (2t > n)`);
  return { t, n };
}

function host(raw: string): string {
  if (!/^[A-Za-z0-9.:-]+$/.test(raw))
    throw new ConfigError(`VAULT_HOST is not a host name or address ("${raw}")`);
  return raw;
}

function trustProxy(raw: string | undefined): false | string {
  const v = (raw ?? "").trim();
  if (v === "" || v === "false") return false;
  const parts = v.split(",").map((p) => p.trim());
  const ok = parts.every((p) => {
    const [addr, bits, extra] = p.split("/");
    return (
      extra === undefined &&
      isIP(addr ?? "") !== 0 &&
      (bits === undefined || /^\d{1,3}$/.test(bits))
    );
  });
  if (!ok)
    throw new ConfigError(
      "VAULT_TRUST_PROXY must be false or proxy addresses/CIDRs separated by commas",
    );
  return parts.join(",");
}

function adminKey(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (raw.length < 32) throw new ConfigError("VAULT_ADMIN_KEY must be at least 32 characters");
  // A dot would send it to the token door, whitespace would break "Bearer <key>".
  if (!/^[\x21-\x7e]+$/.test(raw) || raw.includes("."))
    throw new ConfigError("VAULT_ADMIN_KEY must be printable ASCII without spaces or dots");
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, "VAULT_PORT", 8080, 0, 65535);
  const h = host(env.VAULT_HOST ?? "127.0.0.1");
  const threshold = parseThreshold(env.VAULT_THRESHOLD ?? "2-of-3");
  const nodes = nodeUrls(env.VAULT_NODES);
  const tls = tlsFiles(env);
  if (nodes.length > 0 && nodes.length !== threshold.n) {
    throw new ConfigError(
      `VAULT_NODES lists ${nodes.length} nodes but VAULT_THRESHOLD needs ${threshold.n}`,
    );
  }
  return {
    host: h,
    port,
    dataDir: env.VAULT_DATA_DIR || "./data",
    databaseUrl: databaseUrl(env.VAULT_DATABASE_URL),
    adminKey: adminKey(env.VAULT_ADMIN_KEY),
    threshold,
    nodeBasePort: int(env, "VAULT_NODE_BASE_PORT", 0, 0, 65535),
    presigPool: int(env, "VAULT_PRESIG_POOL", 8, 0, 1000),
    nodeWarmPresigs: int(env, "VAULT_NODE_WARM_PRESIGS", DEFAULT_WARM_PRESIGS, 0, 100_000),
    bodyLimit: int(env, "VAULT_BODY_LIMIT", 256 * 1024, 1024, 16 * 1024 * 1024),
    trustProxy: trustProxy(env.VAULT_TRUST_PROXY),
    checkpointEvery: int(env, "VAULT_CHECKPOINT_EVERY", 64, 1, 1_000_000),
    healthIntervalMs: int(env, "VAULT_HEALTH_INTERVAL_MS", 1000, 100, 600_000),
    eventsHeartbeatMs: int(env, "VAULT_EVENTS_HEARTBEAT_MS", 500, 50, 60_000),
    healthMisses: int(env, "VAULT_HEALTH_MISSES", 3, 1, 100),
    healthSilenceMs: int(env, "VAULT_HEALTH_SILENCE_MS", 10_000, 500, 600_000),
    healthProbeTimeoutMs: int(env, "VAULT_HEALTH_PROBE_TIMEOUT_MS", 5_000, 100, 600_000),
    auditRefusalsPerMinute: int(env, "VAULT_AUDIT_REFUSALS_PER_MINUTE", 120, 1, 1_000_000),
    logLevel: env.VAULT_LOG_LEVEL || "info",
    url: env.VAULT_URL || `${tls ? "https" : "http"}://${h}:${port}`,
    tls,
    nodeUrls: nodes,
    clusters: parseClusters(env.VAULT_CLUSTERS, nodes, threshold.n),
    auth: parseAuthConfig(env),
    x402: parseX402Config(env),
    backends: parseBackendsConfig(env),
    zk: {
      // The default size fits the shipped 2^13 development ptau (8,039 constraints), so a
      // first start sets it up by itself in about a minute; production sizes (N=64) take
      // a ceremony ptau (VAULT_ZK_PTAU) and `npm run circuits:setup` (README).
      n: int(env, "VAULT_ZK_BATCH", DEFAULT_ZK_BATCH, 1, 255),
      depth: int(env, "VAULT_ZK_DEPTH", DEFAULT_ZK_DEPTH, 1, 8),
      setup: zkSetupMode(env.VAULT_ZK_SETUP),
      system: zkSystem(env.VAULT_ZK_SYSTEM),
      leaseMs: int(env, "VAULT_ZK_LEASE_MS", 30_000, 1_000, 600_000),
      ...(env.VAULT_ZK_PTAU ? { ptau: env.VAULT_ZK_PTAU } : {}),
      ...(env.VAULT_ZK_BUILD_DIR ? { buildRoot: env.VAULT_ZK_BUILD_DIR } : {}),
    },
  };
}

/** Compliance proofs' default batch size and allowlist depth (at most 16 recipients). */
export const DEFAULT_ZK_BATCH = 11;
export const DEFAULT_ZK_DEPTH = 4;

function zkSystem(raw: string | undefined): "groth16" | "plonk" {
  const v = (raw ?? "").trim();
  if (v === "" || v === "groth16") return "groth16";
  if (v === "plonk") return "plonk";
  throw new ConfigError(`VAULT_ZK_SYSTEM must be "groth16" or "plonk" (got "${raw}")`);
}

function zkSetupMode(raw: string | undefined): "auto" | "off" {
  const v = (raw ?? "").trim();
  if (v === "" || v === "auto") return "auto";
  if (v === "off") return "off";
  throw new ConfigError(`VAULT_ZK_SETUP must be "auto" or "off" (got "${raw}")`);
}

/** VAULT_DATABASE_URL: unset (SQLite in the data directory) or a PostgreSQL URL. */
function databaseUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("VAULT_DATABASE_URL must be a postgres:// URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
    throw new ConfigError(
      `VAULT_DATABASE_URL must be a postgres:// URL (got ${url.protocol}); leave it unset for SQLite`,
    );
  return raw;
}

function nodeUrls(raw: string | undefined): string[] {
  return raw ? parseNodeUrls(raw, "VAULT_NODES") : [];
}

/** What the CLI's client commands need: where the vault is, and which secret to present. */
export interface ClientConfig {
  url: string;
  dataDir: string;
  adminKey: string | undefined;
  apiKey: string | undefined;
}

export function loadClientConfig(env: Env = process.env): ClientConfig {
  const port = int(env, "VAULT_PORT", 8080, 0, 65535);
  const h = host(env.VAULT_HOST ?? "127.0.0.1");
  return {
    url: env.VAULT_URL || `http://${h}:${port}`,
    dataDir: env.VAULT_DATA_DIR || "./data",
    adminKey: env.VAULT_ADMIN_KEY || undefined,
    apiKey: env.VAULT_API_KEY || undefined,
  };
}

/** The `facilitator` command's settlement wallet (FACILITATOR_KEY or FACILITATOR_KEY_FILE). */
export function loadFacilitatorConfig(env: Env = process.env): FacilitatorConfig {
  const file = env.FACILITATOR_KEY_FILE;
  let content: string | undefined;
  if (file) {
    try {
      content = readFileSync(file, "utf8");
    } catch {
      throw new ConfigError(`FACILITATOR_KEY_FILE cannot be read: ${file}`);
    }
  }
  return parseFacilitatorConfig(env, content);
}

function tlsFiles(env: Env): Config["tls"] {
  const certFile = env.VAULT_TLS_CERT_FILE || undefined;
  const keyFile = env.VAULT_TLS_KEY_FILE || undefined;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile)
    throw new ConfigError("VAULT_TLS_CERT_FILE and VAULT_TLS_KEY_FILE go together: set both");
  return { certFile, keyFile };
}
