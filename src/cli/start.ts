/**
 * `agent-vault start`: the vault and its embedded signer cluster, until SIGTERM.
 *
 * It holds the data directory's lock for its whole life (one vault per data dir, see
 * src/store/data-dir-lock.ts), and a start that fails after the nodes were spawned
 * (identity, enrolment, the port taken) stops them and exits non-zero instead of
 * lingering half-started.
 */
import { createServer } from "node:net";
import { type Config, ConfigError, loadConfig } from "../config/index.js";
import { buildApp } from "../http/app.js";
import { createVault, type Vault } from "../services/vault.js";
import { type DataDirLock, DataDirLocked, lockDataDir } from "../store/data-dir-lock.js";

/** Exit codes: 2 configuration, 3 data directory in use, 1 any other failed start. */
export const EXIT_CONFIG = 2;
export const EXIT_LOCKED = 3;
export const EXIT_START_FAILED = 1;

const STOP_GRACE_MS = 10_000;

const log = (line: string) => console.log(`[agent-vault] ${line}`);

/** Stops what started (bounded, so a stuck stop cannot keep the process), then exits. */
async function fail(
  code: number,
  message: string,
  lock: DataDirLock,
  vault?: Vault,
): Promise<never> {
  console.error(`agent-vault: ${message}`);
  if (vault) {
    const grace = new Promise((r) => setTimeout(r, STOP_GRACE_MS).unref());
    const stopped = vault
      .stop()
      .catch((err: unknown) => console.error(`agent-vault: stop: ${(err as Error).message}`));
    await Promise.race([stopped, grace]);
  }
  lock.release();
  process.exit(code);
}

/** Fails fast, before any node is spawned, when the port is already taken. */
function portIsFree(host: string, port: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (err) => resolve(err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/** A replica holds no lock: it writes nothing in the data directory and spawns no node. */
const NO_LOCK: DataDirLock = { file: "", release: () => undefined };

/**
 * Configuration, the data directory's lock and a free port: all before any node starts.
 * On PostgreSQL a data directory held by a live vault makes this process a replica of it
 * (src/services/vault.ts): it joins the signer nodes that vault registered.
 */
async function prepare(): Promise<
  { config: Config; lock: DataDirLock; replica: boolean } | number
> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`configuration error: ${err.message}`);
    return EXIT_CONFIG;
  }
  let lock: DataDirLock;
  let replica = false;
  try {
    lock = await lockDataDir(config.dataDir);
  } catch (err) {
    if (!(err instanceof DataDirLocked)) throw err;
    if (!config.databaseUrl) {
      console.error(`agent-vault: ${err.message}`);
      return EXIT_LOCKED;
    }
    lock = NO_LOCK;
    replica = true;
  }
  const taken = config.port === 0 ? undefined : await portIsFree(config.host, config.port);
  if (taken) {
    return fail(
      EXIT_START_FAILED,
      `cannot listen on ${listenAddress(config)}: ${taken.message}`,
      lock,
    );
  }
  return { config, lock, replica };
}

const listenAddress = (config: Config) => `${config.host}:${config.port}`;

function printGeneratedAdminKey(key: string): void {
  console.log(
    [
      "",
      "  No VAULT_ADMIN_KEY was set, so this first start generated one.",
      "  It is shown once and stored only as a hash. Keep it:",
      "",
      `  VAULT_ADMIN_KEY=${key}`,
      "",
    ].join("\n"),
  );
}

export async function startCommand(): Promise<number | undefined> {
  const prepared = await prepare();
  if (typeof prepared === "number") return prepared;
  const { config, lock, replica } = prepared;
  const started = Date.now();
  let vault: Vault;
  try {
    vault = await createVault(config, { log, replica });
  } catch (err) {
    return fail(EXIT_START_FAILED, `start failed: ${(err as Error).message}`, lock);
  }
  if (vault.generatedAdminKey) printGeneratedAdminKey(vault.generatedAdminKey);
  const app = await buildApp(vault, { logger: config.logLevel !== "silent" });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const why = `cannot listen on ${listenAddress(config)}: ${(err as Error).message}`;
    return fail(EXIT_START_FAILED, why, lock, vault);
  }
  log(
    `listening on ${config.tls ? "https" : "http"}://${listenAddress(config)} (${config.threshold.t}-of-${config.threshold.n}, ready in ${Date.now() - started} ms)`,
  );
  const stop = async () => {
    log("stopping");
    await app.close();
    await vault.stop();
    lock.release();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
  return undefined;
}
