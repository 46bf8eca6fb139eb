/**
 * What the push stream and the polling route serve: this vault's revocation events as
 * signed SETs (set.ts), each signed once and kept in a bounded cache.
 */
import type { KeyObject } from "node:crypto";
import type { RevocationEventRow } from "../../store/revocation-events.js";
import type { RevocationEvents } from "./events.js";
import { signHeartbeat, signSet } from "./set.js";

const CACHE_MAX = 4096;

type SigningKey = { kid: string; privateKey: KeyObject };

export interface RevocationPublisher {
  readonly issuer: string;
  /** Signed events after `seq`, oldest first, at most `limit`. */
  after(seq: number, limit: number): Promise<Array<{ seq: number; set: string }>>;
  head(): Promise<number>;
  onEvent(listener: () => void): () => void;
  /** A heartbeat signed like the events (set when the stream signs them), else undefined. */
  signHeartbeat?: (head: number) => Promise<string>;
}

export function createRevocationPublisher(deps: {
  events: RevocationEvents;
  issuer: string;
  /** The key events and heartbeats are signed with (read at each signature). */
  signingKey: () => SigningKey | Promise<SigningKey>;
  /**
   * Publish only these kinds' subjects; any other event keeps its place in the sequence
   * (so a receiver still notices a gap) as kind "redacted" with its seq as the subject.
   */
  kinds?: readonly string[];
  /**
   * Sign heartbeats too (a JWT, typ heartbeat+jwt, {iss, head, iat}): a receiver then knows
   * the head it must reach comes from the issuer, not from whoever serves the stream.
   */
  signedHeartbeats?: boolean;
}): RevocationPublisher {
  const cache = new Map<number, string>();
  const shown = (row: RevocationEventRow) =>
    !deps.kinds || deps.kinds.includes(row.kind)
      ? { kind: row.kind, subject: row.subject }
      : { kind: "redacted", subject: String(row.seq) };
  const signed = async (row: RevocationEventRow) => {
    const hit = cache.get(row.seq);
    if (hit) return hit;
    const set = await signSet(
      { seq: row.seq, ...shown(row), atMs: row.at_ms },
      deps.issuer,
      await deps.signingKey(),
    );
    cache.set(row.seq, set);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value as number);
    return set;
  };
  return {
    issuer: deps.issuer,
    async after(seq, limit) {
      const rows = await deps.events.after(seq, limit);
      return Promise.all(rows.map(async (r) => ({ seq: r.seq, set: await signed(r) })));
    },
    head: () => deps.events.head(),
    onEvent: (l) => deps.events.onEvent(l),
    ...(deps.signedHeartbeats
      ? {
          signHeartbeat: async (head: number) =>
            signHeartbeat(head, deps.issuer, await deps.signingKey()),
        }
      : {}),
  };
}
