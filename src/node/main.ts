/** Entry of `agent-vault node`: runs one signer node until SIGTERM. */
import { type NodeOptions, startNode } from "./server.js";

export async function runNode(opts: NodeOptions & { supervised?: boolean }): Promise<void> {
  const { server, node } = await startNode(opts);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  process.stdout.write(
    `READY ${JSON.stringify({ index: opts.index, port, ...node.identity.publicIdentity })}\n`,
  );
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
