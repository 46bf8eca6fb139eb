/** `agent-vault start`: the vault and its embedded signer cluster, until SIGTERM. */
import { ConfigError, loadConfig } from "../config/index.js";
import { buildApp } from "../http/app.js";
import { createVault } from "../services/vault.js";

export async function startCommand(): Promise<number | undefined> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`configuration error: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const log = (line: string) => console.log(`[agent-vault] ${line}`);
  const started = Date.now();
  const vault = await createVault(config, { log });
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
  await app.listen({ host: config.host, port: config.port });
  log(
    `listening on http://${config.host}:${config.port} (${config.threshold.t}-of-${config.threshold.n}, ready in ${Date.now() - started} ms)`,
  );
  const stop = async () => {
    log("stopping");
    await app.close();
    await vault.stop();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
  return undefined;
}
