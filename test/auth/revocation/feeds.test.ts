/**
 * The revocation feed receiver (src/services/revocation-feeds.ts) against a stream served
 * on a real socket with signed SETs (RFC 8417): a feed whose head falls behind the cursor
 * (its numbering restarted) never counts as fresh, and a feed limited to some kinds
 * records only those (another operator cannot revoke this vault's own tokens).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { openAuditLog } from "../../../src/audit/index.js";
import { signHeartbeat, signSet } from "../../../src/auth/revocation/set.js";
import { createRevocationFeeds } from "../../../src/services/revocation-feeds.js";
import { openDatabase } from "../../../src/store/db.js";
import { openRevocationEventStore } from "../../../src/store/revocation-events.js";
import { createSqliteSql } from "../../../src/store/sql/sqlite.js";
import { tempDbFile } from "../../audit/helpers.js";

const ISSUER = "did:web:issuer.example";
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const streams = new Set<ServerResponse>();
let events: Array<{ seq: number; kind: string; subject: string }> = [];
let head = 0;
/** How the fixture signs its heartbeats: not at all, as the issuer, or as someone else. */
let heartbeatsBy: "unsigned" | "issuer" | "other" = "unsigned";

const server = createServer(async (req, res) => {
  const after = Number(new URL(req.url ?? "/", "http://x").searchParams.get("after") ?? 0);
  res.writeHead(200, { "content-type": "text/event-stream" });
  streams.add(res);
  res.on("close", () => streams.delete(res));
  for (const e of events.filter((e) => e.seq > after)) {
    const set = await signSet({ ...e, atMs: Date.now() }, ISSUER, { kid: "k", privateKey });
    res.write(`id: ${e.seq}\nevent: revocation\ndata: ${set}\n\n`);
  }
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream`;
const beat = setInterval(async () => {
  const data =
    heartbeatsBy === "unsigned"
      ? `{"head":${head}}`
      : await signHeartbeat(head, heartbeatsBy === "issuer" ? ISSUER : "did:web:relay.example", {
          kid: "k",
          privateKey,
        });
  for (const res of streams) res.write(`event: heartbeat\ndata: ${data}\n\n`);
}, 20);
after(() => {
  clearInterval(beat);
  for (const res of streams) res.end();
  server.close();
});

async function receiver(kinds?: string[], signedHeartbeats = false) {
  const sql = createSqliteSql(openDatabase(tempDbFile()));
  const store = await openRevocationEventStore(sql);
  const feeds = createRevocationFeeds({
    sources: [
      {
        issuer: ISSUER,
        url,
        getKey: async () => publicKey,
        ...(kinds ? { kinds } : {}),
        ...(signedHeartbeats ? { signedHeartbeats } : {}),
      },
    ],
    store,
    audit: await openAuditLog(sql),
    staleMs: 200,
  });
  return { feeds, store };
}

test("a feed limited to delegations records those, and never another kind", async (t) => {
  events = [
    { seq: 1, kind: "jwt", subject: "our-token" },
    { seq: 2, kind: "delegation", subject: "bafy-link" },
  ];
  head = 2;
  const { feeds, store } = await receiver(["delegation"]);
  t.after(() => feeds.stop());
  assert.equal(await feeds.awaitFresh(ISSUER, 5000), true);
  assert.equal(await store.cursor(ISSUER), 2);
  assert.equal(await feeds.revokedBy(ISSUER, "delegation:bafy-link"), true);
  assert.equal(await feeds.revokedBy(ISSUER, "jwt:our-token"), false);
  assert.equal(await feeds.isRevoked("jwt:our-token"), false);
});

test("a feed whose head falls behind the cursor is never fresh (its numbering restarted)", async (t) => {
  events = [
    { seq: 1, kind: "delegation", subject: "a" },
    { seq: 2, kind: "delegation", subject: "b" },
  ];
  head = 2;
  const { feeds, store } = await receiver();
  t.after(() => feeds.stop());
  assert.equal(await feeds.awaitFresh(ISSUER, 5000), true);
  assert.equal(await feeds.stale(ISSUER), undefined);
  // The issuer comes back with a fresh database: its head is 0 while we hold cursor 2.
  events = [];
  head = 0;
  assert.equal(await store.cursor(ISSUER), 2);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await feeds.stale(ISSUER))?.code, "REVOCATION_FEED_STALE");
  assert.equal(await feeds.awaitFresh(ISSUER, 300), false);
});

test("a feed that needs signed heartbeats is fresh only on the issuer's own", async (t) => {
  events = [{ seq: 1, kind: "delegation", subject: "a" }];
  head = 1;
  const { feeds } = await receiver(["delegation"], true);
  t.after(() => {
    feeds.stop();
    heartbeatsBy = "unsigned";
  });
  // Unsigned, or signed under another name: whoever serves the stream claims the head.
  heartbeatsBy = "unsigned";
  assert.equal(await feeds.awaitFresh(ISSUER, 400), false);
  heartbeatsBy = "other";
  assert.equal(await feeds.awaitFresh(ISSUER, 400), false);
  heartbeatsBy = "issuer";
  assert.equal(await feeds.awaitFresh(ISSUER, 5000), true);
});
