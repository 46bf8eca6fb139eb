/**
 * Delegation chains (UCAN 1.0) as the vault verifies them: a 3-hop chain with an invocation
 * made by iso-ucan on the holder's side, and one refusal, with its stable code, per way a
 * chain or invocation can be wrong: widening at each hop, time bounds, a broken signature,
 * the wrong audience, a revoked ancestor, a replay, a chain too deep, a stolen chain.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { openAuditLog } from "../../../src/audit/log.js";
import {
  createDelegationService,
  type DelegationService,
} from "../../../src/auth/delegation/index.js";
import { openDatabase } from "../../../src/store/db.js";
import { openDelegationStore } from "../../../src/store/delegations.js";
import { createSqliteSql } from "../../../src/store/sql/sqlite.js";
import { openVaultStore } from "../../../src/store/vault-store.js";
import { type EdDSASigner, holder, invoke, nowS, redelegate, sha256Hex } from "./helpers.js";

const AGENT = "agt_chain";
const PATH = `/v1/agents/${AGENT}/sign/transaction`;
const CMD = "/vault/sign/transaction";
const BODY = JSON.stringify({ tx: { to: "0x00000000000000000000000000000000000000aa" } });
const RECIPIENT = "0x00000000000000000000000000000000000000aa";
const ROOT_TERMS = {
  agent: AGENT,
  commands: ["/vault/sign/message", CMD],
  caps: { ETH: { maxPerTx: "0.1", maxPer24h: "1" } },
};

let svc: DelegationService;
let alice: EdDSASigner;
let bob: EdDSASigner;
let carol: EdDSASigner;
let root: string;

async function make(maxDepth = 8) {
  const sql = createSqliteSql(openDatabase(":memory:"));
  await openVaultStore(sql);
  return createDelegationService({
    store: await openDelegationStore(sql),
    audit: await openAuditLog(sql),
    passphrase: "test",
    maxDepth,
    agentExists: (id) => id === AGENT,
  });
}

async function issueTo(
  s: DelegationService,
  audience: string,
  extra: Record<string, unknown> = {},
) {
  const out = await s.issue(
    {
      agentId: AGENT,
      audience,
      commands: ROOT_TERMS.commands,
      caps: ROOT_TERMS.caps,
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      ...extra,
    },
    "admin",
  );
  return out.delegation;
}

before(async () => {
  svc = await make();
  [alice, bob, carol] = await Promise.all([holder(), holder(), holder()]);
  root = await issueTo(svc, alice.did);
});

const request = (body = BODY) => ({
  agentId: AGENT,
  command: CMD,
  method: "POST",
  path: PATH,
  bodySha256: sha256Hex(body),
});

/** root → alice → bob → carol, each narrowing; carol invokes. */
async function threeHops(bobTerms?: Record<string, unknown>, carolTerms?: Record<string, unknown>) {
  const d1 = await redelegate({
    chain: [root],
    from: alice,
    audience: bob.did,
    vault: { ...ROOT_TERMS, caps: { ETH: { maxPerTx: "0.05", maxPer24h: "0.5" } } },
  });
  const d2 = await redelegate({
    chain: [root, d1],
    from: bob,
    audience: carol.did,
    vault: bobTerms ?? { agent: AGENT, commands: [CMD], recipients: [RECIPIENT] },
  });
  const chain = [root, d1, d2];
  if (carolTerms) return chain;
  return chain;
}

async function verifyAs(
  chain: string[],
  by: EdDSASigner,
  opts: Partial<Parameters<typeof invoke>[0]> = {},
) {
  const inv = await invoke({
    chain,
    by,
    cmd: CMD,
    method: "POST",
    path: PATH,
    body: BODY,
    ...opts,
  });
  return svc.verify(chain.join(","), inv, request());
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; hop?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: string; details?: { hop?: number } };
    return { code: e.code, ...(e.details?.hop !== undefined ? { hop: e.details.hop } : {}) };
  }
  assert.fail("expected a refusal");
}

test("a 3-hop chain verifies; the terms in force are the intersection of every link", async () => {
  const chain = await threeHops();
  const g = await verifyAs(chain, carol);
  assert.equal(g.agentId, AGENT);
  assert.equal(g.holder, carol.did);
  assert.equal(g.links.length, 3);
  assert.deepEqual(g.terms.caps, { ETH: { maxPerTx: "0.05", maxPer24h: "0.5" } });
  assert.deepEqual(g.terms.recipients, [RECIPIENT]);
  assert.deepEqual(g.terms.commands, [CMD]);
  // Each link with caps of its own is a budget; the last inherits its caps from bob's link.
  assert.deepEqual(g.links[0]?.caps, ROOT_TERMS.caps);
  assert.deepEqual(g.links[1]?.caps, { ETH: { maxPerTx: "0.05", maxPer24h: "0.5" } });
});

test("widening is refused at the hop that widens, whatever it widens", async () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    [
      "maxPerTx",
      { agent: AGENT, commands: [CMD], caps: { ETH: { maxPerTx: "0.06", maxPer24h: "0.5" } } },
    ],
    [
      "maxPer24h",
      { agent: AGENT, commands: [CMD], caps: { ETH: { maxPerTx: "0.01", maxPer24h: "0.51" } } },
    ],
    [
      "a new asset",
      {
        agent: AGENT,
        commands: [CMD],
        caps: {
          ETH: { maxPerTx: "0.01", maxPer24h: "0.1" },
          "0x036CbD53842c5426634e7929541eC2318f3dCF7e": { maxPerTx: "1", maxPer24h: "1" },
        },
      },
    ],
    ["a new command", { agent: AGENT, commands: [CMD, "/vault/x402/pay"] }],
    ["another agent", { agent: "agt_other", commands: [CMD] }],
  ];
  for (const [what, terms] of cases) {
    const chain = await threeHops(terms);
    assert.deepEqual(
      await refusal(verifyAs(chain, carol)),
      { code: "DELEGATION_WIDENS", hop: 2 },
      what,
    );
  }
  // Widening at the first re-delegation (hop 1), against the root's caps.
  const d1 = await redelegate({
    chain: [root],
    from: alice,
    audience: bob.did,
    vault: { ...ROOT_TERMS, caps: { ETH: { maxPerTx: "0.2", maxPer24h: "1" } } },
  });
  assert.deepEqual(await refusal(verifyAs([root, d1], bob)), { code: "DELEGATION_WIDENS", hop: 1 });
  // A recipients list, then a later link adding a recipient to it.
  const d2 = await redelegate({
    chain: [root, d1],
    from: bob,
    audience: carol.did,
    vault: { agent: AGENT, commands: [CMD], recipients: [RECIPIENT] },
  });
  const ok1 = await redelegate({
    chain: [root],
    from: alice,
    audience: bob.did,
    vault: { ...ROOT_TERMS, recipients: [RECIPIENT] },
  });
  const wider = await redelegate({
    chain: [root, ok1],
    from: bob,
    audience: carol.did,
    vault: {
      agent: AGENT,
      commands: [CMD],
      recipients: [RECIPIENT, "0x00000000000000000000000000000000000000bb"],
    },
  });
  assert.deepEqual(await refusal(verifyAs([root, ok1, wider], carol)), {
    code: "DELEGATION_WIDENS",
    hop: 2,
  });
  assert.ok(d2);
});

test("a UCAN cmd outside the link before it is widening; commands match whole segments", async () => {
  const d1 = await redelegate({
    chain: [root],
    from: alice,
    audience: bob.did,
    cmd: "/vault/sign/transaction",
  });
  const d2 = await redelegate({ chain: [root, d1], from: bob, audience: carol.did, cmd: "/vault" });
  assert.deepEqual(await refusal(verifyAs([root, d1, d2], carol)), {
    code: "DELEGATION_WIDENS",
    hop: 2,
  });
  // "/vault/sign/transactionx" is not under "/vault/sign/transaction".
  const odd = await redelegate({
    chain: [root, d1],
    from: bob,
    audience: carol.did,
    cmd: "/vault/sign/transactionx",
  });
  assert.deepEqual(await refusal(verifyAs([root, d1, odd], carol)), {
    code: "DELEGATION_WIDENS",
    hop: 2,
  });
  // A holder whose chain allows only message signing cannot invoke transactions.
  const msgOnly = await redelegate({
    chain: [root],
    from: alice,
    audience: bob.did,
    cmd: "/vault/sign/message",
  });
  assert.equal(
    (await refusal(verifyAs([root, msgOnly], bob))).code,
    "DELEGATION_COMMAND_NOT_ALLOWED",
  );
});

test("expired and not-yet-valid links are refused, naming the hop", async () => {
  const expired = await redelegate({
    chain: [root],
    from: alice,
    audience: bob.did,
    exp: nowS() - 5,
  });
  assert.deepEqual(await refusal(verifyAs([root, expired], bob)), {
    code: "DELEGATION_EXPIRED",
    hop: 1,
  });
  const early = await redelegate({
    chain: [root],
    from: alice,
    audience: bob.did,
    nbf: nowS() + 600,
  });
  assert.deepEqual(await refusal(verifyAs([root, early], bob)), {
    code: "DELEGATION_NOT_YET_VALID",
    hop: 1,
  });
});

test("a broken signature is refused at its hop", async () => {
  const d1 = await redelegate({ chain: [root], from: alice, audience: bob.did });
  const bytes = Buffer.from(d1, "base64");
  // The signature is the first CBOR item of the envelope: flip a byte inside it.
  bytes[10] = (bytes[10] ?? 0) ^ 0xff;
  const broken = bytes.toString("base64");
  assert.deepEqual(await refusal(verifyAs([root, broken], bob)), {
    code: "DELEGATION_SIGNATURE_INVALID",
    hop: 1,
  });
});

test("a link not issued by the previous link's audience is refused", async () => {
  // Carol was never given anything, yet signs a link as if she held alice's.
  const forged = await redelegate({ chain: [root], from: carol, audience: bob.did });
  assert.deepEqual(await refusal(verifyAs([root, forged], bob)), {
    code: "DELEGATION_AUDIENCE_MISMATCH",
    hop: 1,
  });
});

test("a stolen chain is useless: the invocation must be signed by its holder", async () => {
  const chain = await threeHops();
  assert.equal((await refusal(verifyAs(chain, bob))).code, "DELEGATION_AUDIENCE_MISMATCH");
  // Or an invocation naming carol but signed by another key.
  const forged = await invoke({
    chain,
    by: bob,
    claim: carol.did,
    cmd: CMD,
    method: "POST",
    path: PATH,
    body: BODY,
  });
  assert.equal(
    (await refusal(svc.verify(chain.join(","), forged, request()))).code,
    "INVOCATION_SIGNATURE_INVALID",
  );
  // Or no invocation at all.
  assert.equal(
    (await refusal(svc.verify(chain.join(","), "", request()))).code,
    "INVOCATION_MALFORMED",
  );
});

test("the invocation binds method, path and body; it is used once and is short-lived", async () => {
  const chain = await threeHops();
  const inv = await invoke({ chain, by: carol, cmd: CMD, method: "POST", path: PATH, body: BODY });
  assert.equal(
    (await refusal(svc.verify(chain.join(","), inv, request(`${BODY} `)))).code,
    "INVOCATION_MISMATCH",
  );
  await svc.verify(chain.join(","), inv, request());
  assert.equal(
    (await refusal(svc.verify(chain.join(","), inv, request()))).code,
    "INVOCATION_REPLAYED",
  );
  const stale = await invoke({
    chain,
    by: carol,
    cmd: CMD,
    method: "POST",
    path: PATH,
    body: BODY,
    iat: nowS() - 600,
    exp: nowS() + 60,
  });
  assert.equal(
    (await refusal(svc.verify(chain.join(","), stale, request()))).code,
    "INVOCATION_STALE",
  );
  const long = await invoke({
    chain,
    by: carol,
    cmd: CMD,
    method: "POST",
    path: PATH,
    body: BODY,
    exp: nowS() + 3600,
  });
  assert.equal(
    (await refusal(svc.verify(chain.join(","), long, request()))).code,
    "INVOCATION_STALE",
  );
});

test("revoking an ancestor refuses every chain below it on the next request", async () => {
  const chain = await threeHops();
  await verifyAs(chain, carol);
  const { links } = await verifyAs(chain, carol);
  await svc.revoke(links[1]?.cid as string, "admin");
  assert.deepEqual(await refusal(verifyAs(chain, carol)), { code: "DELEGATION_REVOKED", hop: 1 });
  assert.deepEqual((await svc.refusal(links.map((l) => l.cid)))?.code, "DELEGATION_REVOKED");
  // Alice's own link, above the revoked one, still works.
  const d1 = await redelegate({ chain: [root], from: alice, audience: bob.did });
  await verifyAs([root, d1], bob);
});

test("a chain deeper than the configured maximum is refused", async () => {
  const shallow = await make(2);
  const r = await issueTo(shallow, alice.did);
  const d1 = await redelegate({ chain: [r], from: alice, audience: bob.did });
  const d2 = await redelegate({ chain: [r, d1], from: bob, audience: carol.did });
  const inv = await invoke({
    chain: [r, d1, d2],
    by: carol,
    cmd: CMD,
    method: "POST",
    path: PATH,
    body: BODY,
  });
  const out = await refusal(shallow.verify([r, d1, d2].join(","), inv, request()));
  assert.equal(out.code, "DELEGATION_TOO_DEEP");
  const inv2 = await invoke({
    chain: [r, d1],
    by: bob,
    cmd: CMD,
    method: "POST",
    path: PATH,
    body: BODY,
  });
  await shallow.verify([r, d1].join(","), inv2, request());
});

test("a root not signed by one of this vault's agents is refused", async () => {
  const stranger = await holder();
  const fake = await redelegate({ chain: [root], from: stranger, audience: bob.did });
  // A self-issued "root" by a stranger claiming the agent's terms.
  const { Delegation } = await import("./helpers.js");
  const selfRoot = await Delegation.create({
    iss: stranger,
    aud: bob.did,
    sub: stranger.did,
    cmd: "/vault",
    pol: [],
    exp: nowS() + 600,
    meta: { vault: ROOT_TERMS },
  } as never);
  assert.equal(
    (await refusal(verifyAs([selfRoot.toString()], bob))).code,
    "DELEGATION_ISSUER_UNKNOWN",
  );
  assert.ok(fake);
});
