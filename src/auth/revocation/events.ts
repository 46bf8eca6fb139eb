/**
 * The revocations this vault makes, as a numbered sequence (README "Revocation push").
 * Every revocation is already an audit entry written in the transaction that revokes
 * ("key.revoked", "token.revoked", "delegation.revoked"); the audit log handed to the
 * services records the event beside it, in the same transaction, so no revocation can be
 * committed without its event. Listeners (the push streams) are told after the commit.
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
  after(seq: number, limit: number): RevocationEventRow[];
  head(): number;
  /** Called (after the revoking transaction) whenever an event is recorded. */
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
    // After the synchronous transaction that recorded it has committed.
    setImmediate(() => {
      pending = false;
      bus.emit("event");
    });
  };
  return {
    after: store.after,
    head: store.head,
    onEvent(listener) {
      bus.on("event", listener);
      return () => bus.off("event", listener);
    },
    wrap(audit) {
      return {
        ...audit,
        append(input: AuditEntryInput) {
          const entry = audit.append(input);
          const revoked = revokedBy(entry);
          if (revoked) {
            store.append(revoked[0], revoked[1], Date.parse(entry.ts));
            notify();
          }
          return entry;
        },
      };
    },
  };
}
