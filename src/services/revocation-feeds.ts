/**
 * Following other issuers' revocations by push (README "Revocation push"). For each
 * trusted token issuer with a `revocationFeed`, this vault holds its SSE stream open
 * (GET /v1/events/stream, resumed from the last seq taken), verifies each SET with the
 * issuer's own JWKS, and records the revocation and the cursor in one transaction. The
 * revocations and cursors are in the database, shared by every process on it; freshness
 * (the heartbeats heard) is this process's own, each process following every feed.
 *
 * Fail closed: an issuer's feed counts as fresh only while a heartbeat arrived in the last
 * VAULT_REVOCATION_STALE_MS *and* that heartbeat's head had been taken. Until then (at
 * start, after a partition, while a backlog replays) every token of that issuer is refused
 * with REVOCATION_FEED_STALE. Stale and fresh periods are audited.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { JWTVerifyGetKey } from "jose";
import type { AuditLog } from "../audit/types.js";
import { verifyHeartbeat, verifySet } from "../auth/revocation/set.js";
import type { TrustedIssuer } from "../config/auth.js";
import { VaultError } from "../errors/index.js";
import type { RevocationEventStore } from "../store/revocation-events.js";

export interface FeedStatus {
  issuer: string;
  fresh: boolean;
  cursor: number;
  lastHeardMs: number | null;
}

/** One issuer's stream: where it is, how to authenticate to it, the keys of its SETs. */
export interface FeedSource {
  issuer: string;
  url: string;
  getKey: JWTVerifyGetKey;
  /** The Authorization header value, read at each (re)connection; none for a public stream. */
  authorization?: () => string | Promise<string>;
  /** Extra CA (PEM) trusted for an https stream. */
  ca?: string;
  /** What identifies the stream's signing key: a source whose key changed replaces the old. */
  keyId?: string;
  /** Record only these kinds of revocation (others just move the cursor). */
  kinds?: readonly string[];
  /** Heartbeats are signed JWTs (heartbeat+jwt) by the issuer; unsigned ones count for nothing. */
  signedHeartbeats?: boolean;
}

export interface RevocationFeeds {
  /** Why a token of `issuer` must be refused now (stale feed, revoked jti), or undefined. */
  refusal(issuer: string, jti: string): Promise<VaultError | undefined>;
  /** REVOCATION_FEED_STALE unless `issuer`'s feed is followed and fresh now. */
  stale(issuer: string): Promise<VaultError | undefined>;
  /** True when `issuer`'s feed revoked this subject ("delegation:<cid>", …). */
  revokedBy(issuer: string, subject: string): Promise<boolean>;
  /** Starts following a feed; a followed one is replaced only if its URL or key changed. */
  follow(source: FeedSource): void;
  /** Waits up to `ms` for `issuer`'s feed to be fresh; true once it is. */
  awaitFresh(issuer: string, ms: number): Promise<boolean>;
  /** True when any feed revoked this subject ("jwt:<jti>", …). */
  isRevoked(subject: string): Promise<boolean>;
  status(): Promise<FeedStatus[]>;
  stop(): void;
}

interface Feed {
  source: FeedSource;
  stopped: boolean;
  behind: boolean;
  lastHeard: number | undefined;
  wasFresh: boolean;
  abort: AbortController | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** The trusted token issuers that name a revocation feed, as feed sources. */
export function tokenIssuerFeeds(
  issuers: ReadonlyMap<string, { trust: TrustedIssuer; getKey: JWTVerifyGetKey }>,
): FeedSource[] {
  return [...issuers].flatMap(([issuer, { trust, getKey }]) => {
    const feed = trust.revocationFeed;
    if (!feed) return [];
    const authorization = () => `Bearer ${readFileSync(feed.apiKeyFile, "utf8").trim()}`;
    return [{ issuer, url: feed.url, getKey, authorization }];
  });
}

/** Opens an SSE stream over http(s) (node's own clients: an extra CA can be given). */
async function openStream(
  url: URL,
  source: FeedSource,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (source.authorization) headers.authorization = await source.authorization();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers, signal, ...(source.ca ? { ca: source.ca } : {}) },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`the feed answered ${res.statusCode}`));
        } else resolve(res);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export function createRevocationFeeds(deps: {
  sources: FeedSource[];
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
  let stopped = false;
  const fresh = (f: Feed) => f.lastHeard !== undefined && now() - f.lastHeard <= staleMs;

  const onMessage = async (issuer: string, f: Feed, m: EventSourceMessage) => {
    if (m.event === "heartbeat") {
      const head = f.source.signedHeartbeats
        ? await verifyHeartbeat(m.data, issuer, f.source.getKey, staleMs)
        : Number((JSON.parse(m.data) as { head?: unknown }).head);
      const cursor = await store.cursor(issuer);
      // Fresh only once caught up: a heartbeat ahead of what was taken refreshes nothing.
      // One BEHIND the cursor means the issuer's numbering restarted (a restore, a new
      // install): its new revocations would be skipped, so it never counts as fresh.
      if (Number.isSafeInteger(head) && head < cursor && !f.behind) {
        f.behind = true;
        log(`revocation feed ${issuer}: its head ${head} is behind our cursor ${cursor}`);
        await audit.append({
          type: "revocation.feed.behind",
          actor: `feed:${issuer}`,
          data: { issuer, head, cursor },
        });
      }
      if (Number.isSafeInteger(head) && head === cursor) f.lastHeard = now();
      else if (Number.isSafeInteger(head) && head < cursor) f.lastHeard = undefined;
      return;
    }
    if (m.event !== "revocation") return;
    const e = await verifySet(m.data, issuer, f.source.getKey);
    const cursor = await store.cursor(issuer);
    if (e.seq <= cursor) return;
    if (e.seq !== cursor + 1) throw new Error(`gap in the feed: ${cursor} then ${e.seq}`);
    if (f.source.kinds && !f.source.kinds.includes(e.kind)) {
      await store.advance(issuer, e.seq);
      return;
    }
    const subject = `${e.kind}:${e.subject}`;
    // Another process following the same feed may have taken it first: audited once.
    if (!(await store.putRemote(issuer, subject, e.seq, now()))) return;
    await audit.append({
      type: "revocation.received",
      actor: `feed:${issuer}`,
      data: { issuer, subject, seq: e.seq },
    });
  };

  const listen = async (issuer: string, f: Feed) => {
    const url = new URL(f.source.url);
    url.searchParams.set("after", String(await store.cursor(issuer)));
    f.abort = new AbortController();
    const res = await openStream(url, f.source, f.abort.signal);
    const queue: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (m) => void queue.push(m) });
    const decoder = new TextDecoder();
    for await (const chunk of res as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      while (queue.length > 0) await onMessage(issuer, f, queue.shift() as EventSourceMessage);
    }
    throw new Error("the feed closed");
  };

  const run = async (issuer: string, f: Feed) => {
    let backoff = 50;
    while (!stopped && !f.stopped) {
      try {
        await listen(issuer, f);
      } catch (err) {
        if (stopped || f.stopped) return;
        log(`revocation feed ${issuer}: ${(err as Error).message}; reconnecting`);
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, Math.max(100, staleMs / 4));
    }
  };

  /** Whether the feed is fresh now; each change is audited when first noticed. */
  const track = async (issuer: string, f: Feed): Promise<boolean> => {
    const isFresh = fresh(f);
    if (isFresh !== f.wasFresh) {
      f.wasFresh = isFresh;
      await audit.append({
        type: isFresh ? "revocation.feed.fresh" : "revocation.feed.stale",
        actor: `feed:${issuer}`,
        data: { issuer, cursor: await store.cursor(issuer), staleMs },
      });
    }
    return isFresh;
  };
  const watch = setInterval(
    () => {
      for (const [issuer, f] of feeds)
        void track(issuer, f).catch((err: unknown) =>
          log(`revocation feed ${issuer}: ${(err as Error).message}`),
        );
    },
    Math.max(50, Math.floor(staleMs / 4)),
  );
  watch.unref();
  const follow = (source: FeedSource) => {
    const old = feeds.get(source.issuer);
    if (stopped || (old && old.source.url === source.url && old.source.keyId === source.keyId))
      return;
    if (old) {
      old.stopped = true;
      old.abort?.abort();
      log(`revocation feed ${source.issuer}: its URL or key changed; following the new one`);
    }
    const f: Feed = {
      source,
      stopped: false,
      behind: false,
      lastHeard: undefined,
      wasFresh: false,
      abort: undefined,
    };
    feeds.set(source.issuer, f);
    void run(source.issuer, f);
  };
  for (const source of deps.sources) follow(source);

  return {
    follow,
    async awaitFresh(issuer, ms) {
      const end = now() + ms;
      for (;;) {
        const f = feeds.get(issuer);
        if (f && fresh(f)) return true;
        if (now() >= end || stopped) return false;
        await sleep(10);
      }
    },
    async stale(issuer) {
      const f = feeds.get(issuer);
      return f && (await track(issuer, f))
        ? undefined
        : new VaultError("REVOCATION_FEED_STALE", undefined, { issuer });
    },
    revokedBy: (issuer, subject) => store.isRemotelyRevoked(issuer, subject),
    async refusal(issuer, jti) {
      const f = feeds.get(issuer);
      if (!f) return undefined;
      if (!(await track(issuer, f)))
        return new VaultError("REVOCATION_FEED_STALE", undefined, { issuer });
      return (await store.isRemotelyRevoked(issuer, `jwt:${jti}`))
        ? new VaultError("TOKEN_REVOKED")
        : undefined;
    },
    isRevoked: (subject) => store.isRevokedByAnyFeed(subject),
    async status() {
      const out: FeedStatus[] = [];
      for (const [issuer, f] of feeds)
        out.push({
          issuer,
          fresh: fresh(f),
          cursor: await store.cursor(issuer),
          lastHeardMs: f.lastHeard ?? null,
        });
      return out;
    },
    stop() {
      stopped = true;
      clearInterval(watch);
      for (const f of feeds.values()) f.abort?.abort();
    },
  };
}
