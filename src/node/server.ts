/**
 * A signer node: its own OS process, listening on its own socket. Every request is
 * an envelope signed by the vault's Ed25519 key (src/transport/envelope.ts); the node
 * refuses unknown senders, envelopes for another receiver, stale ones and replays
 * (nonces are remembered in its SQLite store past the clock-skew window), and signs
 * every reply with its own key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { openDatabase } from "../store/db.js";
import {
  type Envelope,
  EnvelopeError,
  MAX_CLOCK_SKEW_MS,
  openEnvelope,
  sealEnvelope,
} from "../transport/envelope.js";
import { importPublic, loadOrCreateIdentity } from "../transport/identity.js";
import { createAtRestCipher, loadOrCreateStorageKey } from "./at-rest.js";
import { agentState, enroll, setPolicy, signedHeads } from "./protocol/admin.js";
import { NodeContext, NodeRefusal } from "./protocol/context.js";
import { dkgRound, dkgStart } from "./protocol/dkg.js";
import { presignRound, presignStart } from "./protocol/presign.js";
import { combine, contribute, release } from "./protocol/sign.js";
import { createNodeStore } from "./store.js";

export interface NodeOptions {
  index: number;
  host: string;
  port: number;
  dataDir: string;
  /** The vault's Ed25519 public key (base64 SPKI DER): the only sender accepted. */
  vaultKey: string;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

// biome-ignore lint/suspicious/noExplicitAny: bodies are checked by each handler
type Handler = (node: NodeContext, sessionId: string, body: any) => unknown;

const OPS: Record<string, Handler> = {
  "cluster.enroll": (n, _s, b) => enroll(n, b),
  "dkg.start": dkgStart,
  "dkg.round": dkgRound,
  "presign.start": presignStart,
  "presign.round": presignRound,
  "sign.contribute": contribute,
  "sign.combine": combine,
  "sign.release": (n, s) => release(n, s),
  "policy.set": (n, _s, b) => setPolicy(n, b),
  "agent.state": (n, _s, b) => agentState(n, b),
  "checkpoint.heads": (n) => signedHeads(n),
};

export function createNodeContext(opts: NodeOptions): NodeContext {
  const identity = loadOrCreateIdentity(join(opts.dataDir, "identity.json"));
  const cipher = createAtRestCipher(loadOrCreateStorageKey(join(opts.dataDir, "storage.key")));
  const store = createNodeStore(openDatabase(join(opts.dataDir, "node.sqlite")), cipher);
  return new NodeContext(opts.index, identity, store, importPublic(opts.vaultKey));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new NodeRefusal("TOO_LARGE", "request too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function dispatch(node: NodeContext, env: Envelope): { ok: boolean; [k: string]: unknown } {
  // Own properties only: "constructor" or "toString" must not reach Object.prototype.
  const handler = Object.hasOwn(OPS, env.op) ? OPS[env.op] : undefined;
  if (!handler)
    return { ok: false, error: { code: "UNKNOWN_OP", message: `unknown op ${env.op}` } };
  try {
    return { ok: true, result: handler(node, env.sessionId, env.body) };
  } catch (err) {
    if (err instanceof NodeRefusal) {
      return { ok: false, error: { code: err.code, message: err.message, ...err.details } };
    }
    // Internals stay in the node's own log; the vault gets a stable code.
    console.error(`[${node.name}] ${env.op} failed:`, (err as Error).message);
    return {
      ok: false,
      error: { code: "NODE_ERROR", message: `${env.op} failed on ${node.name}` },
    };
  }
}

async function handleRpc(node: NodeContext, req: IncomingMessage, res: ServerResponse) {
  let env: Envelope;
  try {
    const signed = JSON.parse(await readBody(req));
    env = openEnvelope(signed, node.name, (id) => (id === "vault" ? node.vaultKey : undefined));
    if (!node.store.rememberNonce(env.nonce, Date.now(), 2 * MAX_CLOCK_SKEW_MS)) {
      throw new EnvelopeError("replay");
    }
  } catch (err) {
    const reason = err instanceof EnvelopeError ? err.reason : "malformed";
    return send(res, 401, { error: { code: "ENVELOPE_REFUSED", reason } });
  }
  const reply = dispatch(node, env);
  send(
    res,
    200,
    sealEnvelope(node.identity.signing, {
      from: node.name,
      to: env.from,
      op: env.op,
      sessionId: env.sessionId,
      inReplyTo: env.nonce,
      body: reply,
    }),
  );
}

export function createNodeServer(node: NodeContext): Server {
  return createServer((req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      return send(res, 200, {
        ok: true,
        node: node.name,
        enrolled: node.store.cluster() !== undefined,
      });
    }
    if (req.method === "GET" && req.url === "/identity") {
      return send(res, 200, { index: node.index, ...node.identity.publicIdentity });
    }
    if (req.method === "POST" && req.url === "/rpc") {
      handleRpc(node, req, res).catch(() => send(res, 500, { error: { code: "NODE_ERROR" } }));
      return;
    }
    send(res, 404, { error: { code: "NOT_FOUND" } });
  });
}

export async function startNode(opts: NodeOptions): Promise<{ server: Server; node: NodeContext }> {
  const node = createNodeContext(opts);
  const server = createNodeServer(node);
  server.keepAliveTimeout = 60_000;
  const sweeper = setInterval(() => node.store.sweepConsumedPresigs(), 5000);
  sweeper.unref();
  server.on("close", () => clearInterval(sweeper));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return { server, node };
}
