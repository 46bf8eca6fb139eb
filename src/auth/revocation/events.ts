/**
 * The revocations this vault makes, as a numbered sequence (README "Revocation push").
 * Every revocation is already an audit entry written in the transaction that revokes
 * ("key.revoked", "token.revoked", "delegation.revoked"); the audit log handed to the
 * services records the event beside it, in the same transaction, so no revocation can be
 * committed without its event. Listeners (the push streams) are told after the commit, in
 * every process sharing the database (src/store/revocation-events.ts).
 */
import { EventEmitter } from "node:events";
import type { AuditEntry, AuditEntryInput, AuditLog } from "../../audit/types.js";
import type { RevocationEventRow, RevocationEventStore } from "../../store/revocation-events.js";

/** The credential an audit entry revokes, as [kind, id], or undefined. */
export function revokedBy(e: Pick<AuditEntry, "type" | "data">): [string, string] | undefined {
  const d = e.data as Record<string, unknown>;
  const id = (k: string) => (typeof d[k] === "string" ? (d[k] as string) : undefined);
  if (e.type === "key.revoked" && id("keyId")) return ["apikey", id("keyId") as string];
  if (e.type === "token.revoked" && id("jti")) return ["jwt", id("jti") as string];
  if (e.type === "delegation.revoked" && id("cid")) return ["delegation", id("cid") as string];
  if (e.type === "credential.revoked" && id("id")) return ["vc", id("id") as string];
  return undefined;
}

export interface RevocationEvents {
  after(seq: number, limit: number): Promise<RevocationEventRow[]>;
  head(): Promise<number>;
  /**
   * Called after each event commits, in this process or (PostgreSQL) any other sharing the
   * database, and when events may have been missed (a lost connection): read from a cursor.
   */
  onEvent(listener: () => void): () => void;
  /** The audit log the services use: it records an event with each revocation entry. */
  wrap(audit: AuditLog): AuditLog;
}

export function createRevocationEvents(store: RevocationEventStore): RevocationEvents {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  let pending = false;
  const notify = () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      bus.emit("event");
    });
  };
  // Every process's events, told once their transaction has committed. A listener that
  // cannot be set up leaves this process's own events (below) and the streams' heartbeats,
  // which re-read whenever the head is ahead of what they sent.
  void store.watch(notify).catch(() => undefined);
  return {
    after: (seq, limit) => store.after(seq, limit),
    head: () => store.head(),
    onEvent(listener) {
      bus.on("event", listener);
      return () => bus.off("event", listener);
    },
    wrap(audit) {
      return {
        ...audit,
        async append(input: AuditEntryInput) {
          if (!revokedBy({ type: input.type, data: input.data ?? {} })) return audit.append(input);
          // The entry and its event commit together (in the caller's transaction, if any).
          const entry = await store.transaction(async () => {
            const e = await audit.append(input);
            const revoked = revokedBy(e);
            if (revoked) await store.append(revoked[0], revoked[1], Date.parse(e.ts));
            return e;
          });
          // Announced by the store's own notification, delivered once the outermost
          // transaction commits (both engines): never from inside it, where a stream
          // reading now would run in the caller's open transaction and could publish an
          // event that then rolls back.
          return entry;
        },
      };
    },
  };
}
