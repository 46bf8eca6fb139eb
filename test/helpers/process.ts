/** The vault as a real OS process (`agent-vault start` under tsx), for crash tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The CLI as this file runs: the sources under tsx, or the test run's transpiled mirror. */
export const CLI = import.meta.url.endsWith(".ts")
  ? ["--import", "tsx", fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url))]
  : [fileURLToPath(new URL("../../src/cli/main.js", import.meta.url))];

export function runCli(
  args: string[],
  env: Record<string, string>,
  onStderrLine: (line: string) => void = () => {},
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      env: { ...process.env, VAULT_ZK_SETUP: "off", ...env },
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    createInterface({ input: child.stderr }).on("line", onStderrLine);
    child.on("exit", (code) => resolve({ code: code ?? 1, stdout }));
  });
}

export async function startVaultProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...CLI, "start"], {
    env: { ...process.env, VAULT_LOG_LEVEL: "silent", VAULT_ZK_SETUP: "off", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (line.includes("listening on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`vault exited during start (${code})`)));
  });
  return child;
}

export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
  });
}
