/**
 * A signer node: its own OS process, listening on its own socket. Every request is
 * an envelope signed by the vault's Ed25519 key (src/transport/envelope.ts); the node
 * refuses unknown senders, envelopes for another receiver, stale ones and replays
 * (nonces are remembered in its SQLite store past the clock-skew window), and signs
 * every reply with its own key. Bodies are checked against the protocol's schemas
 * (src/protocol/node) in dispatch.ts before any handler runs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { DEFAULT_WARM_PRESIGS } from "../protocol/node/limits.js";
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
import { dispatch } from "./dispatch.js";
import { NodeContext, NodeRefusal } from "./protocol/context.js";
import { createNodeStore } from "./store.js";

export interface NodeOptions {
  index: number;
  host: string;
  port: number;
  dataDir: string;
  /** The vault's Ed25519 public key (base64 SPKI DER): the only sender accepted. */
  vaultKey: string;
  /** Presignatures kept deserialised in memory (default DEFAULT_WARM_PRESIGS). */
  warmPresigs?: number;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export function createNodeContext(opts: NodeOptions): NodeContext {
  const identity = loadOrCreateIdentity(join(opts.dataDir, "identity.json"));
  const cipher = createAtRestCipher(loadOrCreateStorageKey(join(opts.dataDir, "storage.key")));
  const store = createNodeStore(openDatabase(join(opts.dataDir, "node.sqlite")), cipher);
  return new NodeContext(opts.index, identity, store, importPublic(opts.vaultKey), {
    warmPresigs: opts.warmPresigs ?? DEFAULT_WARM_PRESIGS,
  });
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
  const reply = await dispatch(node, env);
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
  node.engine.warm();
  server.keepAliveTimeout = 60_000;
  const sweeper = setInterval(() => node.store.sweepConsumedPresigs(), 5000);
  sweeper.unref();
  server.on("close", () => clearInterval(sweeper));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
  } catch (err) {
    // A node that cannot listen must not linger: its engine thread would keep it alive.
    clearInterval(sweeper);
    await node.engine.close();
    throw err;
  }
  return { server, node };
}
