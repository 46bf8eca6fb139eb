/**
 * The node's handle on its engine thread (engine-worker.ts). DKLs23 is synchronous
 * WASM: a DKG round or a presignature round run on the event loop would hold up
 * /healthz and the online signing step until it finished, and the vault would report
 * the node down while it is merely busy. Those rounds run in one worker thread owned
 * by the node; the event loop awaits them. The online step (restore, last message,
 * combine: a few ms) stays on the event loop, so it never queues behind a DKG round.
 *
 * The worker starts on first use and is replaced if it dies; the parties it held are
 * lost with it (their sessions fail, as after a node restart).
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { WireMessage } from "../threshold/engine.js";

export type EngineRequest = { id: number; handle: number } & (
  | { op: "keygen.start"; n: number; t: number; index: number }
  | { op: "keygen.round"; messages: WireMessage[]; commitments?: Uint8Array[]; commit: boolean }
  | { op: "keygen.finish"; messages: WireMessage[] }
  | { op: "presign.start"; share: Uint8Array }
  | { op: "presign.round"; messages: WireMessage[] }
  | { op: "presign.finish"; messages: WireMessage[] }
  | { op: "free" }
);

export type EngineReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string };

type Payload<K extends EngineRequest["op"]> = Omit<
  Extract<EngineRequest, { op: K }>,
  "id" | "handle" | "op"
>;

const here = fileURLToPath(import.meta.url);
const WORKER_ENTRY = new URL(`./engine-worker${extname(here)}`, import.meta.url);

/**
 * From dist the worker is plain JS. Under tsx (tests, `npm test`), Node 20 does not
 * carry tsx's loader hooks into worker threads, so a small bootstrap registers them
 * in the thread before it loads the .ts entry.
 */
function spawnWorker(): Worker {
  if (extname(here) !== ".ts") return new Worker(WORKER_ENTRY);
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const entry = JSON.stringify(WORKER_ENTRY.href);
  const boot = `import(${api}).then((tsx) => { tsx.register(); return import(${entry}); });`;
  return new Worker(boot, { eval: true });
}

export class EngineHost {
  private worker: Worker | undefined;
  private nextId = 1;
  private nextHandle = 1;
  private readonly pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void }
  >();

  /** Starts the thread ahead of the first DKG (it loads the WASM module). */
  warm(): void {
    this.thread();
  }

  newHandle(): number {
    return this.nextHandle++;
  }

  run<K extends EngineRequest["op"]>(op: K, handle: number, payload: Payload<K>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread().postMessage({ ...payload, id, handle, op });
    });
  }

  /** Frees a party in the worker; nothing waits for it. */
  free(handle: number): void {
    this.run("free", handle, {}).catch((err: unknown) =>
      console.error(`engine thread: free failed: ${(err as Error).message}`),
    );
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker();
    // The node's server keeps the process alive; the engine thread must not.
    worker.unref();
    worker.on("message", (reply: EngineReply) => this.settle(reply));
    worker.on("error", (err) => this.failAll(worker, err));
    worker.on("exit", (code) => this.failAll(worker, new Error(`engine thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private settle(reply: EngineReply): void {
    const waiter = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (!waiter) return;
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(reply.message));
  }

  private failAll(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}

/** One party's key generation, held by the engine thread. */
export class RemoteKeygen {
  private constructor(
    private readonly host: EngineHost,
    private readonly handle: number,
  ) {}

  static async start(host: EngineHost, n: number, t: number, index: number) {
    const party = new RemoteKeygen(host, host.newHandle());
    const first = (await host.run("keygen.start", party.handle, { n, t, index })) as WireMessage;
    return { party, first };
  }

  /** Rounds 2–4; with `commit` (round 2) the reply carries the chain-code commitment. */
  async round(messages: WireMessage[], commitments: Uint8Array[] | undefined, commit: boolean) {
    const payload = commitments ? { messages, commitments, commit } : { messages, commit };
    return (await this.host.run("keygen.round", this.handle, payload)) as {
      messages: WireMessage[];
      commitment?: Uint8Array;
    };
  }

  async finish(messages: WireMessage[]) {
    return (await this.host.run("keygen.finish", this.handle, { messages })) as {
      share: Uint8Array;
      publicKey: Uint8Array;
    };
  }

  free(): void {
    this.host.free(this.handle);
  }
}

/** One party's presignature rounds, held by the engine thread. */
export class RemotePresign {
  private constructor(
    private readonly host: EngineHost,
    private readonly handle: number,
  ) {}

  static async start(host: EngineHost, share: Uint8Array) {
    const party = new RemotePresign(host, host.newHandle());
    const first = (await host.run("presign.start", party.handle, { share })) as WireMessage;
    return { party, first };
  }

  async round(messages: WireMessage[]) {
    return (await this.host.run("presign.round", this.handle, { messages })) as WireMessage[];
  }

  /** The last round; returns the serialised presignature (the worker frees its copy). */
  async finish(messages: WireMessage[]) {
    return (await this.host.run("presign.finish", this.handle, { messages })) as Uint8Array;
  }

  free(): void {
    this.host.free(this.handle);
  }
}
