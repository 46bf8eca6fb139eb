/**
 * Revocation push between two vaults on real sockets (README "Revocation push"): X serves
 * its revocations as signed SETs over SSE; Y trusts X's tokens and follows X's stream. A
 * token revoked at X is refused at Y without any polling; a stream that goes quiet makes Y
 * refuse all of X's tokens (fail closed) until it has caught up from its cursor, missed
 * revocations included. The stream is also read with a stock EventSource client.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { EventSource } from "eventsource";
import type { FastifyInstance } from "fastify";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { buildApp } from "../../src/http/app.js";
import { BASIC_POLICY, startTestVault, type TestVault } from "../helpers/vault.js";
import { until } from "../helpers/wait.js";

const STALE_MS = 600;
let x: TestVault;
let y: TestVault;
let xApp: FastifyInstance;
let xUrl: string;
let agentX: { id: string };
let feedKey: string;

const issuerX = "urn:agent-vault:opx";

async function listenX(port = 0) {
  xApp = port === 0 ? x.app : await buildApp(x.vault);
  await xApp.listen({ host: "127.0.0.1", port });
  const addr = xApp.server.address();
  if (!addr || typeof addr === "string") throw new Error("no port");
  xUrl = `http://127.0.0.1:${addr.port}`;
}

before(async () => {
  x = await startTestVault({ VAULT_OPERATOR_ID: "opx", VAULT_EVENTS_HEARTBEAT_MS: "100" });
  await listenX();
  agentX = await x.createAgent(BASIC_POLICY);
  const key = await x.app.inject({
    method: "POST",
    url: "/v1/keys",
    headers: x.admin,
    payload: { scopes: ["AUDIT"] },
  });
  feedKey = (key.json() as { key: string }).key;
  const keyFile = join(x.dir, "feed-key-for-y");
  writeFileSync(keyFile, feedKey, { mode: 0o600 });
  y = await startTestVault({
    VAULT_OPERATOR_ID: "opy",
    VAULT_REVOCATION_STALE_MS: String(STALE_MS),
    VAULT_TRUSTED_ISSUERS: JSON.stringify([
      {
        issuer: issuerX,
        operatorId: "opx",
        jwksUrl: `${xUrl}/.well-known/jwks.json`,
        revocationFeed: { url: `${xUrl}/v1/events/stream`, apiKeyFile: keyFile },
      },
    ]),
  });
});

after(async () => {
  await y?.stop();
  await xApp?.close();
  await x?.stop();
});

async function tokenFromX(): Promise<{ token: string; jti: string }> {
  const res = await x.app.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: x.admin,
    payload: { agentId: agentX.id, capabilities: ["read"], audience: "urn:agent-vault:opy" },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { token: string; jti: string };
}

const atY = (token: string) =>
  y.app.inject({
    method: "GET",
    url: "/v1/cluster",
    headers: { authorization: `Bearer ${token}` },
  });

const codeAtY = async (token: string) => {
  const res = await atY(token);
  return res.statusCode === 200 ? "ok" : (res.json() as { error: { code: string } }).error.code;
};

test("a token revoked at X is refused at Y by push; the SET verifies with X's keys", async () => {
  const t = await tokenFromX();
  await until("Y to accept X's token", async () =>
    (await codeAtY(t.token)) === "ok" ? true : undefined,
  );
  // A stock EventSource client on X's stream, with the operator key Y was given.
  const seen: Array<{ id: string; data: string }> = [];
  const es = new EventSource(`${xUrl}/v1/events/stream`, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${feedKey}` } }),
  });
  es.addEventListener("revocation", (e) => seen.push({ id: e.lastEventId, data: e.data }));
  await until("the stream to open", async () =>
    es.readyState === EventSource.OPEN ? true : undefined,
  );
  const revoke = await x.app.inject({
    method: "POST",
    url: `/v1/tokens/${t.jti}/revoke`,
    headers: x.admin,
  });
  assert.equal(revoke.statusCode, 200, revoke.body);
  assert.equal(
    await until("Y to refuse", async () => {
      const c = await codeAtY(t.token);
      return c === "ok" ? undefined : c;
    }),
    "TOKEN_REVOKED",
  );
  const ev = await until("the SET", async () => seen.find((s) => s.data.length > 0));
  es.close();
  const jwks = createRemoteJWKSet(new URL(`${xUrl}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(ev.data, jwks, {
    issuer: issuerX,
    typ: "secevent+jwt",
  });
  assert.equal(protectedHeader.typ, "secevent+jwt");
  const change = (
    payload.events as Record<string, { subject: { id: string }; change_type: string }>
  )["https://schemas.openid.net/secevent/caep/event-type/credential-change"];
  assert.equal(change?.change_type, "revoke");
  assert.equal(change?.subject.id, `jwt:${t.jti}`);
  assert.equal(String(payload.seq), ev.id);
  const received = (await y.vault.audit.list(1, 100_000)).filter(
    (e) => e.type === "revocation.received",
  );
  assert.ok(received.some((e) => e.data.subject === `jwt:${t.jti}`));
});

test("the stream replays from a cursor; agents' keys cannot subscribe", async () => {
  const head = await x.app.inject({
    method: "GET",
    url: "/v1/events",
    headers: { authorization: `Bearer ${feedKey}` },
  });
  const body = head.json() as { events: Array<{ seq: number }>; head: number; issuer: string };
  assert.equal(body.issuer, issuerX);
  assert.ok(body.events.length >= 1);
  const later = await x.app.inject({
    method: "GET",
    url: `/v1/events?after=${body.head}`,
    headers: { authorization: `Bearer ${feedKey}` },
  });
  assert.deepEqual((later.json() as { events: unknown[] }).events, []);
  const agentKey = await x.issueKey(agentX.id, ["AUDIT", "READ"]);
  const refused = await x.app.inject({ method: "GET", url: "/v1/events", headers: agentKey.auth });
  assert.equal(refused.statusCode, 403);
});

test("a quiet stream fails closed; after reconnecting, Y catches up on what it missed", async () => {
  const live = await tokenFromX();
  const missed = await tokenFromX();
  await until("Y to accept", async () => ((await codeAtY(live.token)) === "ok" ? true : undefined));
  const port = Number(new URL(xUrl).port);
  await xApp.close(); // X's HTTP goes away: no heartbeats reach Y
  assert.equal(
    await until("Y to fail closed", async () => {
      const c = await codeAtY(live.token);
      return c === "ok" ? undefined : c;
    }),
    "REVOCATION_FEED_STALE",
  );
  // Revoked at X while Y cannot hear: Y must learn it from the replay, not miss it.
  await x.vault.tokens.revoke(missed.jti, "admin");
  await listenX(port);
  await until("Y to catch up", async () =>
    (await codeAtY(live.token)) === "ok" ? true : undefined,
  );
  assert.equal(await codeAtY(missed.token), "TOKEN_REVOKED");
  const types = (await y.vault.audit.list(1, 100_000)).map((e) => e.type);
  assert.ok(types.includes("revocation.feed.stale"));
  assert.ok(types.includes("revocation.feed.fresh"));
});
