/**
 * One revocation stream over Server-Sent Events (WHATWG HTML §9.2): the signed SETs after
 * `cursor`, then live ones, with a heartbeat every `heartbeatMs` whose `head` tells the
 * receiver when it has caught up. Shared by the operators' stream (GET /v1/events/stream)
 * and the public federation stream (GET /v1/federation/events).
 */
import type { FastifyReply } from "fastify";
import type { RevocationPublisher } from "../../auth/revocation/publisher.js";

const BATCH = 500;

export function serveStream(
  reply: FastifyReply,
  publisher: RevocationPublisher,
  from: number,
  heartbeatMs: number,
  open: Set<{ end(): void }>,
): void {
  let cursor = from;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  // Events are small writes: send each at once (no Nagle delay waiting for an ACK).
  res.socket?.setNoDelay(true);
  open.add(res);
  let closed = false;
  let sending = Promise.resolve();
  // One send at a time, in order: each reads what is new since the last one it wrote.
  const flush = () => {
    sending = sending.then(async () => {
      while (!closed) {
        const batch = await publisher.after(cursor, BATCH);
        if (batch.length === 0) return;
        for (const e of batch) res.write(`id: ${e.seq}\nevent: revocation\ndata: ${e.set}\n\n`);
        cursor = batch[batch.length - 1]?.seq ?? cursor;
      }
    });
  };
  const beat = () => {
    const head = publisher.head();
    if (!publisher.signHeartbeat) {
      res.write(`event: heartbeat\ndata: ${JSON.stringify({ head, at: Date.now() })}\n\n`);
      return;
    }
    void publisher.signHeartbeat(head).then((jwt) => {
      if (!closed) res.write(`event: heartbeat\ndata: ${jwt}\n\n`);
    });
  };
  const stop = publisher.onEvent(flush);
  const timer = setInterval(beat, heartbeatMs);
  timer.unref();
  res.on("close", () => {
    closed = true;
    open.delete(res);
    stop();
    clearInterval(timer);
  });
  // The backlog first, then a heartbeat: its head tells the receiver it has caught up.
  flush();
  void sending.then(() => {
    if (!closed) beat();
  });
}
