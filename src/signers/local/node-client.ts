/**
 * The vault's side of one signer node's socket: signs each request envelope with the
 * vault's Ed25519 key and accepts only replies signed by the node's pinned key that
 * answer that very request (inReplyTo = our nonce).
 */
import type { KeyObject } from "node:crypto";
import { Agent, request } from "node:http";
import type { NodeOp, NodeParams, NodeReply, NodeResult } from "../../protocol/node/ops.js";
import { openEnvelope, sealEnvelope } from "../../transport/envelope.js";

export interface NodeEndpoint {
  index: number;
  url: string;
  /** Pinned Ed25519 public key of the node. */
  signingKey: KeyObject;
}

/** A node answered, and refused (a protocol or policy refusal with a code). */
export class NodeRefused extends Error {
  constructor(
    readonly node: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A node could not be reached or did not answer properly (`cause`: the socket error). */
export class NodeUnreachable extends Error {
  constructor(
    readonly node: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A POST over node:http with a keep-alive agent: lighter per call than fetch. */
function post(
  agent: Agent,
  url: string,
  body: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

export class NodeClient {
  // Idle sockets close on our side (30 s) before the node's keep-alive timeout (60 s),
  // so a request never lands on a socket the node is closing.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 30_000 });

  constructor(
    readonly endpoint: NodeEndpoint,
    private readonly vaultKey: KeyObject,
  ) {}

  get index(): number {
    return this.endpoint.index;
  }

  get name(): string {
    return `node-${this.endpoint.index}`;
  }

  /** One op of the protocol (src/protocol/node/ops.ts): its params in, its result out. */
  async call<K extends NodeOp>(
    op: K,
    sessionId: string,
    params: NodeParams<K>,
    timeoutMs = 30_000,
  ): Promise<NodeResult<K>> {
    const signed = sealEnvelope(this.vaultKey, {
      from: "vault",
      to: this.name,
      op,
      sessionId,
      body: params,
    });
    const sentNonce = (JSON.parse(signed.envelope) as { nonce: string }).nonce;
    let text: string;
    try {
      const res = await post(
        this.agent,
        `${this.endpoint.url}/rpc`,
        JSON.stringify(signed),
        timeoutMs,
      );
      text = res.body;
      if (res.status !== 200) throw new Error(`status ${res.status}: ${text.slice(0, 200)}`);
    } catch (err) {
      throw new NodeUnreachable(this.index, `${this.name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return this.unwrap(text, sentNonce) as NodeResult<K>;
  }

  private unwrap(text: string, sentNonce: string): unknown {
    let reply: NodeReply;
    try {
      const env = openEnvelope<NodeReply>(JSON.parse(text), "vault", (id) =>
        id === this.name ? this.endpoint.signingKey : undefined,
      );
      if (env.inReplyTo !== sentNonce) throw new Error("reply does not answer this request");
      reply = env.body;
    } catch (err) {
      throw new NodeUnreachable(this.index, `${this.name}: bad reply (${(err as Error).message})`);
    }
    if (!reply.ok) {
      const { code, message, ...details } = reply.error;
      throw new NodeRefused(this.index, code, message, details);
    }
    return reply.result;
  }

  async healthy(timeoutMs = 1000): Promise<boolean> {
    try {
      const res = await fetch(`${this.endpoint.url}/healthz`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }
}
