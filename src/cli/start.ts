/**
 * `agent-vault start`: the vault and its embedded signer cluster, until SIGTERM.
 *
 * It holds the data directory's lock for its whole life (one vault per data dir, see
 * src/store/data-dir-lock.ts), and a start that fails after the nodes were spawned
 * (identity, enrolment, the port taken) stops them and exits non-zero instead of
 * lingering half-started.
 */
import { ConfigError, loadConfig } from "../config/index.js";
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
    await Promise.race([vault.stop().catch(() => {}), grace]);
  }
  lock.release();
  process.exit(code);
}

export async function startCommand(): Promise<number | undefined> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`configuration error: ${err.message}`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  let lock: DataDirLock;
  try {
    lock = await lockDataDir(config.dataDir);
  } catch (err) {
    if (!(err instanceof DataDirLocked)) throw err;
    console.error(`agent-vault: ${err.message}`);
    return EXIT_LOCKED;
  }
  const started = Date.now();
  let vault: Vault;
  try {
    vault = await createVault(config, { log });
  } catch (err) {
    return fail(EXIT_START_FAILED, `start failed: ${(err as Error).message}`, lock);
  }
  if (vault.generatedAdminKey) {
    console.log(
      [
        "",
        "  No VAULT_ADMIN_KEY was set, so this first start generated one.",
        "  It is shown once and stored only as a hash. Keep it:",
        "",
        `  VAULT_ADMIN_KEY=${vault.generatedAdminKey}`,
        "",
      ].join("\n"),
    );
  }
  const app = await buildApp(vault, { logger: config.logLevel !== "silent" });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const where = `${config.host}:${config.port}`;
    return fail(
      EXIT_START_FAILED,
      `cannot listen on ${where}: ${(err as Error).message}`,
      lock,
      vault,
    );
  }
  log(
    `listening on http://${config.host}:${config.port} (${config.threshold.t}-of-${config.threshold.n}, ready in ${Date.now() - started} ms)`,
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
