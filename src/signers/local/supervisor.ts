/**
 * Starts and supervises the embedded signer nodes as child processes
 * (`agent-vault node …`) on loopback, restarting one that dies. Each child prints one
 * `READY {json}` line once it listens; that is how the supervisor learns its port.
 * Its children never outlive it: a failed start stops the ones that did start, and
 * any exit of the vault process signals them (and closes their stdin lifeline).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { extname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface SupervisedNode {
  index: number;
  url: string;
  port: number;
  pid: number | undefined;
}

export interface SupervisorOptions {
  n: number;
  host: string;
  /** First port; node i listens on basePort + i (0: any free port). */
  basePort: number;
  dataDir: string;
  vaultKey: string;
  restart: boolean;
  /** Passed to each node as --warm-presigs. */
  warmPresigs?: number;
  log?: (line: string) => void;
}

const here = fileURLToPath(import.meta.url);
const CLI_ENTRY = join(here, "..", "..", "..", "cli", `main${extname(here)}`);

export function nodeCommand(args: string[]): { cmd: string; args: string[] } {
  // Under tsx the child needs the same loader flags; from dist, execArgv is empty.
  return { cmd: process.execPath, args: [...process.execArgv, CLI_ENTRY, "node", ...args] };
}

export class NodeSupervisor {
  private readonly children = new Map<number, ChildProcess>();
  private readonly ports = new Map<number, number>();
  private stopping = false;

  private readonly killAllOnExit = () => {
    for (const c of this.children.values()) c.kill("SIGTERM");
  };

  constructor(private readonly opts: SupervisorOptions) {}

  /** Spawns every node; if one fails to start, stops the others and rethrows. */
  async start(): Promise<SupervisedNode[]> {
    process.on("exit", this.killAllOnExit);
    const spawned = await Promise.allSettled(
      Array.from({ length: this.opts.n }, (_, i) => this.spawnNode(i)),
    );
    const failed = spawned.find((r) => r.status === "rejected");
    if (failed?.status === "rejected") {
      await this.stop();
      throw failed.reason;
    }
    return this.list();
  }

  list(): SupervisedNode[] {
    return [...this.ports.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, port]) => ({
        index,
        port,
        url: `http://${this.opts.host}:${port}`,
        pid: this.children.get(index)?.pid,
      }));
  }

  private spawnNode(index: number): Promise<void> {
    const port =
      this.ports.get(index) ?? (this.opts.basePort === 0 ? 0 : this.opts.basePort + index);
    const { cmd, args } = nodeCommand([
      `--index=${index}`,
      `--host=${this.opts.host}`,
      `--port=${port}`,
      `--data-dir=${join(this.opts.dataDir, `node-${index}`)}`,
      `--vault-key=${this.opts.vaultKey}`,
      "--supervised",
      ...(this.opts.warmPresigs === undefined ? [] : [`--warm-presigs=${this.opts.warmPresigs}`]),
    ]);
    // stdin stays open as a lifeline: if the vault dies, even by SIGKILL, the pipe
    // closes and the node exits instead of lingering on its port.
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.children.set(index, child);
    let lastError = "";
    child.stderr?.on("data", (d: Buffer) => {
      lastError = d.toString().trimEnd();
      this.opts.log?.(`[node-${index}] ${lastError}`);
    });
    child.on("exit", (code, signal) => this.onExit(index, child, code, signal));
    return new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on("line", (line) => {
        if (!line.startsWith("READY ")) return this.opts.log?.(`[node-${index}] ${line}`);
        this.ports.set(index, (JSON.parse(line.slice(6)) as { port: number }).port);
        this.opts.log?.(
          `node-${index} (pid ${child.pid}) listens on port ${this.ports.get(index)}`,
        );
        resolve();
      });
      child.once("exit", (code) =>
        reject(
          new Error(
            `node-${index} exited during start (code ${code})${lastError ? `: ${lastError}` : ""}`,
          ),
        ),
      );
    });
  }

  private onExit(
    index: number,
    child: ChildProcess,
    code: number | null,
    signal: string | null,
  ): void {
    if (this.children.get(index) !== child) return;
    this.children.delete(index);
    if (this.stopping || !this.opts.restart) return;
    this.opts.log?.(`node-${index} exited (${signal ?? code}); restarting in 1 s`);
    setTimeout(
      () =>
        void this.spawnNode(index).catch((err: unknown) =>
          this.opts.log?.(`node-${index} could not be restarted: ${(err as Error).message}`),
        ),
      1000,
    ).unref();
  }

  /** Kills one node (tests and drills); it is restarted only if `restart` is on. */
  kill(index: number, signal: NodeJS.Signals = "SIGKILL"): void {
    this.children.get(index)?.kill(signal);
  }

  async respawn(index: number): Promise<void> {
    await this.spawnNode(index);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    process.removeListener("exit", this.killAllOnExit);
    await Promise.all(
      [...this.children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
          }),
      ),
    );
  }
}
