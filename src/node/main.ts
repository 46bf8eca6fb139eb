/**
 * Entry of `agent-vault node`: runs one signer node until SIGTERM. It holds its data
 * directory's lock while it runs (src/store/data-dir-lock.ts); a node that cannot take
 * the lock or listen exits non-zero instead of running half-started.
 */
import { lockDataDir } from "../store/data-dir-lock.js";
import { type NodeOptions, startNode } from "./server.js";

/**
 * A supervised node may be replacing one whose vault just died: that one exits on its
 * own (stdin lifeline, at most 2 s), so wait a little for its lock before giving up.
 */
const SUPERVISED_LOCK_WAIT_MS = 10_000;

export async function runNode(opts: NodeOptions & { supervised?: boolean }): Promise<void> {
  const lock = await lockDataDir(opts.dataDir, {
    waitMs: opts.supervised ? SUPERVISED_LOCK_WAIT_MS : 0,
  });
  let started: Awaited<ReturnType<typeof startNode>>;
  try {
    started = await startNode(opts);
  } catch (err) {
    lock.release();
    throw err;
  }
  const { server, node } = started;
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  process.stdout.write(
    `READY ${JSON.stringify({ index: opts.index, port, ...node.identity.publicIdentity })}\n`,
  );
  // The lock is released by its exit hook, on every exit path below.
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (opts.supervised) {
    process.stdin.on("end", stop);
    process.stdin.on("close", stop);
    process.stdin.resume();
  }
}
