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
  /** The highest seq this stream wrote (0: none yet). */
  let sent = 0;
  let sending = Promise.resolve();
  // One job at a time, in order: each send reads what is new since the last one it wrote,
  // and a heartbeat is never written between a read and its events.
  const queue = (job: () => Promise<void>) => {
    sending = sending
      .then(job)
      // The events cannot be read now (the database is unreachable): the receiver
      // reconnects and resumes from the last id it took.
      .catch(() => {
        closed = true; // nothing queued after this may write to the ended stream
        res.end();
      });
  };
  const send = async () => {
    while (!closed) {
      const batch = await publisher.after(cursor, BATCH);
      if (batch.length === 0) return;
      for (const e of batch) res.write(`id: ${e.seq}\nevent: revocation\ndata: ${e.set}\n\n`);
      cursor = batch[batch.length - 1]?.seq ?? cursor;
      sent = cursor;
    }
  };
  const flush = () => queue(send);
  let beating = false;
  const beat = () => {
    if (beating) return; // one heartbeat waiting at most, however slow the database
    beating = true;
    queue(async () => {
      beating = false;
      const read = await publisher.head();
      // An event this stream was not told of (another process's, a lost notification) is
      // sent first: the heartbeat then names a head the receiver has been sent.
      if (read > cursor) await send();
      if (closed) return;
      // Events sent just now may be newer than the head read: the head is at least theirs.
      const head = Math.max(read, sent);
      if (!publisher.signHeartbeat) {
        res.write(`event: heartbeat\ndata: ${JSON.stringify({ head, at: Date.now() })}\n\n`);
        return;
      }
      const jwt = await publisher.signHeartbeat(head);
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
  beat();
}
