/**
 * A signer node answers only envelopes signed by the vault's pinned key, addressed
 * to itself, fresh, and never seen before; everything else gets HTTP 401
 * ENVELOPE_REFUSED with the reason, and the node stays healthy. Raw fetch against a
 * real node process: no NodeClient in the way.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Envelope, openEnvelope, sealEnvelope } from "../../src/transport/envelope.js";
import { generateIdentity, importPublic } from "../../src/transport/identity.js";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";
import { killNode } from "../signers/local/by-hand.js";

let tc: TestCluster;
let url = "";
before(async () => {
  tc = await startTestCluster(2, 3);
  url = (tc.supervisor.list()[0] as { url: string }).url;
});
after(async () => tc?.stop());

const fields = (to = "node-0") => ({
  from: "vault",
  to,
  op: "checkpoint.heads",
  sessionId: "envelope-test",
  body: {},
});

async function post(text: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: text,
  });
  return { status: res.status, body: await res.json() };
}

function assertRefused(res: { status: number; body: unknown }, reason: string): void {
  assert.equal(res.status, 401, `HTTP status (body ${JSON.stringify(res.body)})`);
  assert.deepEqual(res.body, { error: { code: "ENVELOPE_REFUSED", reason } });
}

/** The node's signed reply, opened with its published key. */
async function openReply(res: { status: number; body: unknown }) {
  assert.equal(res.status, 200, `HTTP status (body ${JSON.stringify(res.body)})`);
  const identity = (await (await fetch(`${url}/identity`)).json()) as { signingKey: string };
  return openEnvelope<{ ok: boolean }>(res.body, "vault", (id) =>
    id === "node-0" ? importPublic(identity.signingKey) : undefined,
  );
}

test("a replayed envelope is refused (reason replay)", async () => {
  const text = JSON.stringify(sealEnvelope(tc.vault.signing, fields()));
  const first = await openReply(await post(text));
  assert.equal(first.body.ok, true, "the first delivery is answered");
  assert.equal(
    first.inReplyTo,
    (JSON.parse((JSON.parse(text) as { envelope: string }).envelope) as Envelope).nonce,
  );
  assertRefused(await post(text), "replay");
  assertRefused(await post(text), "replay");
});

test("a replay is refused even after the node is killed and restarted", async () => {
  const text = JSON.stringify(sealEnvelope(tc.vault.signing, fields()));
  assert.equal((await openReply(await post(text))).body.ok, true);
  await killNode(tc, 0);
  await tc.supervisor.respawn(0); // same port: `url` still names node 0
  assertRefused(await post(text), "replay");
});

test("an envelope claiming the vault but signed by another key is refused (bad-signature)", async () => {
  const mallory = generateIdentity();
  assertRefused(
    await post(JSON.stringify(sealEnvelope(mallory.signing, fields()))),
    "bad-signature",
  );
});

test("an envelope from a sender the node does not know is refused (unknown-sender)", async () => {
  const mallory = generateIdentity();
  const text = JSON.stringify(sealEnvelope(mallory.signing, { ...fields(), from: "mallory" }));
  assertRefused(await post(text), "unknown-sender");
  // Even the vault's key does not make "node-1" a sender node-0 accepts.
  const asPeer = JSON.stringify(sealEnvelope(tc.vault.signing, { ...fields(), from: "node-1" }));
  assertRefused(await post(asPeer), "unknown-sender");
});

test("a tampered envelope text is refused (bad-signature)", async () => {
  const signed = sealEnvelope(tc.vault.signing, { ...fields(), op: "agent.state" });
  const tampered = signed.envelope.replace('"agent.state"', '"checkpoint.heads"');
  assert.notEqual(tampered, signed.envelope);
  assertRefused(await post(JSON.stringify({ ...signed, envelope: tampered })), "bad-signature");
  const flipped = Buffer.from(signed.sig, "base64");
  flipped[0] = (flipped[0] as number) ^ 1;
  assertRefused(
    await post(JSON.stringify({ ...signed, sig: flipped.toString("base64") })),
    "bad-signature",
  );
});

test("an envelope addressed to another node is refused (wrong-receiver)", async () => {
  assertRefused(
    await post(JSON.stringify(sealEnvelope(tc.vault.signing, fields("node-1")))),
    "wrong-receiver",
  );
});

test("a stale envelope is refused (stale), in the past or the future", async () => {
  const fiveMinutes = 5 * 60 * 1000;
  for (const ts of [Date.now() - fiveMinutes, Date.now() + fiveMinutes]) {
    assertRefused(
      await post(JSON.stringify(sealEnvelope(tc.vault.signing, fields(), ts))),
      "stale",
    );
  }
});

test("malformed requests are refused (malformed)", async () => {
  for (const text of [
    "{not json",
    "null",
    JSON.stringify({ envelope: 5, sig: "x" }),
    JSON.stringify({ envelope: "{not json", sig: "x" }),
    JSON.stringify({ envelope: JSON.stringify({ v: 2, from: "vault", nonce: "n" }), sig: "x" }),
  ]) {
    assertRefused(await post(text), "malformed");
  }
});

test("an authenticated envelope for an operation the node does not have gets UNKNOWN_OP", async () => {
  // Names every plain object inherits included: they are not operations either.
  for (const op of ["no.such.op", "constructor", "toString", "__proto__", "hasOwnProperty"]) {
    const reply = await openReply(
      await post(JSON.stringify(sealEnvelope(tc.vault.signing, { ...fields(), op }))),
    );
    const body = reply.body as { ok: boolean; error?: { code: string }; result?: unknown };
    assert.equal(body.ok, false, `${op}: answered ${JSON.stringify(body).slice(0, 160)}`);
    assert.equal(body.error?.code, "UNKNOWN_OP", `${op}`);
  }
});

test("the node is still healthy and answering after every refusal", async () => {
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { ok: true, node: "node-0", enrolled: true });
  const reply = await openReply(
    await post(JSON.stringify(sealEnvelope(tc.vault.signing, fields()))),
  );
  assert.equal(reply.body.ok, true);
});
