/**
 * Following other issuers' revocations by push (README "Revocation push"). For each
 * trusted token issuer with a `revocationFeed`, this vault holds its SSE stream open
 * (GET /v1/events/stream, resumed from the last seq taken), verifies each SET with the
 * issuer's own JWKS, and records the revocation and the cursor in one transaction.
 *
 * Fail closed: an issuer's feed counts as fresh only while a heartbeat arrived in the last
 * VAULT_REVOCATION_STALE_MS *and* that heartbeat's head had been taken. Until then (at
 * start, after a partition, while a backlog replays) every token of that issuer is refused
 * with REVOCATION_FEED_STALE. Stale and fresh periods are audited.
 */
import { readFileSync } from "node:fs";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { JWTVerifyGetKey } from "jose";
import type { AuditLog } from "../audit/types.js";
import { verifySet } from "../auth/revocation/set.js";
import type { TrustedIssuer } from "../config/auth.js";
import { VaultError } from "../errors/index.js";
import type { RevocationEventStore } from "../store/revocation-events.js";

export interface FeedStatus {
  issuer: string;
  fresh: boolean;
  cursor: number;
  lastHeardMs: number | null;
}

export interface RevocationFeeds {
  /** Why a token of `issuer` must be refused now (stale feed, revoked jti), or undefined. */
  refusal(issuer: string, jti: string): VaultError | undefined;
  /** True when any feed revoked this subject ("jwt:<jti>", …). */
  isRevoked(subject: string): boolean;
  status(): FeedStatus[];
  stop(): void;
}

interface Feed {
  trust: TrustedIssuer & { revocationFeed: NonNullable<TrustedIssuer["revocationFeed"]> };
  getKey: JWTVerifyGetKey;
  lastHeard: number | undefined;
  wasFresh: boolean;
  abort: AbortController | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export function createRevocationFeeds(deps: {
  issuers: ReadonlyMap<string, { trust: TrustedIssuer; getKey: JWTVerifyGetKey }>;
  store: RevocationEventStore;
  audit: AuditLog;
  staleMs: number;
  log?: (line: string) => void;
  now?: () => number;
}): RevocationFeeds {
  const { store, audit, staleMs } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => {});
  const feeds = new Map<string, Feed>();
  for (const [issuer, { trust, getKey }] of deps.issuers) {
    if (!trust.revocationFeed) continue;
    feeds.set(issuer, {
      trust: trust as Feed["trust"],
      getKey,
      lastHeard: undefined,
      wasFresh: false,
      abort: undefined,
    });
  }
  let stopped = false;
  const fresh = (f: Feed) => f.lastHeard !== undefined && now() - f.lastHeard <= staleMs;

  const onMessage = async (issuer: string, f: Feed, m: EventSourceMessage) => {
    if (m.event === "heartbeat") {
      const head = Number((JSON.parse(m.data) as { head?: unknown }).head);
      // Fresh only once caught up: a heartbeat ahead of what was taken refreshes nothing.
      if (Number.isSafeInteger(head) && head <= store.cursor(issuer)) f.lastHeard = now();
      return;
    }
    if (m.event !== "revocation") return;
    const e = await verifySet(m.data, issuer, f.getKey);
    const cursor = store.cursor(issuer);
    if (e.seq <= cursor) return;
    if (e.seq !== cursor + 1) throw new Error(`gap in the feed: ${cursor} then ${e.seq}`);
    const subject = `${e.kind}:${e.subject}`;
    store.putRemote(issuer, subject, e.seq, now());
    audit.append({
      type: "revocation.received",
      actor: `feed:${issuer}`,
      data: { issuer, subject, seq: e.seq },
    });
  };

  const follow = async (issuer: string, f: Feed) => {
    const key = readFileSync(f.trust.revocationFeed.apiKeyFile, "utf8").trim();
    const url = new URL(f.trust.revocationFeed.url);
    url.searchParams.set("after", String(store.cursor(issuer)));
    f.abort = new AbortController();
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${key}`, accept: "text/event-stream" },
      signal: f.abort.signal,
    });
    if (!res.ok || !res.body) throw new Error(`the feed answered ${res.status}`);
    const queue: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (m) => void queue.push(m) });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      while (queue.length > 0) await onMessage(issuer, f, queue.shift() as EventSourceMessage);
    }
    throw new Error("the feed closed");
  };

  const run = async (issuer: string, f: Feed) => {
    let backoff = 50;
    while (!stopped) {
      try {
        await follow(issuer, f);
      } catch (err) {
        if (stopped) return;
        log(`revocation feed ${issuer}: ${(err as Error).message}; reconnecting`);
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, Math.max(100, staleMs / 4));
    }
  };

  /** Whether the feed is fresh now; each change is audited when first noticed. */
  const track = (issuer: string, f: Feed): boolean => {
    const isFresh = fresh(f);
    if (isFresh !== f.wasFresh) {
      f.wasFresh = isFresh;
      audit.append({
        type: isFresh ? "revocation.feed.fresh" : "revocation.feed.stale",
        actor: `feed:${issuer}`,
        data: { issuer, cursor: store.cursor(issuer), staleMs },
      });
    }
    return isFresh;
  };
  const watch = setInterval(
    () => {
      for (const [issuer, f] of feeds) track(issuer, f);
    },
    Math.max(50, Math.floor(staleMs / 4)),
  );
  watch.unref();
  for (const [issuer, f] of feeds) void run(issuer, f);

  return {
    refusal(issuer, jti) {
      const f = feeds.get(issuer);
      if (!f) return undefined;
      if (!track(issuer, f)) return new VaultError("REVOCATION_FEED_STALE", undefined, { issuer });
      return store.isRemotelyRevoked(issuer, `jwt:${jti}`)
        ? new VaultError("TOKEN_REVOKED")
        : undefined;
    },
    isRevoked: (subject) => store.isRevokedByAnyFeed(subject),
    status: () =>
      [...feeds].map(([issuer, f]) => ({
        issuer,
        fresh: fresh(f),
        cursor: store.cursor(issuer),
        lastHeardMs: f.lastHeard ?? null,
      })),
    stop() {
      stopped = true;
      clearInterval(watch);
      for (const f of feeds.values()) f.abort?.abort();
    },
  };
}
