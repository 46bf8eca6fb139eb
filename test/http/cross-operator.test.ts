/**
 * Cross-operator trust with three vault processes on loopback, each serving HTTPS and its
 * own did:web document (README "Cross-operator trust"):
 *  - T, the trust anchor, admits operator X with the caps X may grant;
 *  - X, a member, grants its agent (a DID whose key the test holds) a link;
 *  - Y, the relying vault, trusts T (VAULT_TRUST_ANCHORS) and nothing about X: its agent B
 *    delegates a budget to T's operator key.
 * X's agent pays through Y's x402 route within what T allows X, is refused beyond it, and
 * is refused at Y once X revokes its grant or T removes X, both learnt by push; a silent
 * stream from X fails closed. Client-side UCANs are made with iso-ucan directly.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { verifyTypedData } from "ethers";
import { SignJWT } from "jose";
import { Delegation, type EdDSASigner, holder, invoke } from "../auth/delegation/helpers.js";
import { selfSignedCert } from "../helpers/did.js";
import { TRANSFER_WITH_AUTHORIZATION_FIELDS, USDC_DOMAIN } from "../helpers/eip3009.js";
import { freePort, killed, startVaultProcess } from "../helpers/process.js";
import { ADMIN_KEY, BASE_SEPOLIA, USDC_BASE_SEPOLIA } from "../helpers/vault.js";
import { until } from "../helpers/wait.js";

const PAY = "/vault/x402/pay";
const MERCHANT = "0x00000000000000000000000000000000000000Cc";
const STALE_MS = 800;
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

interface Operator {
  base: string;
  did: string;
  child: ChildProcess;
}

let ca: string;
let tlsDir: string;
let t: Operator;
let x: Operator;
let y: Operator;
let agentB: { id: string; address: string };
let rootToT: string;
let statementOfX: { cid: string; delegation: string; key: string };

function call(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string } } }> {
  return new Promise((resolve, reject) => {
    const headers = {
      ...opts.headers,
      ...(opts.body ? { "content-type": "application/json" } : {}),
    };
    const req = request(new URL(path, base), { method, headers, ca }, (res) => {
      let raw = "";
      res.on("data", (c: Buffer) => {
        raw += c.toString();
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : {} }),
      );
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

async function startOperator(port: number, env: Record<string, string> = {}): Promise<Operator> {
  const base = `https://127.0.0.1:${port}`;
  // A fresh folder each (not the shared first-start snapshot): each operator has its own keys.
  const dir = mkdtempSync(join(tmpdir(), "av-operator-"));
  const child = await startVaultProcess({
    VAULT_DATA_DIR: dir,
    VAULT_ADMIN_KEY: ADMIN_KEY,
    VAULT_HOST: "127.0.0.1",
    VAULT_PORT: String(port),
    VAULT_URL: base,
    VAULT_TLS_CERT_FILE: join(tlsDir, "cert.pem"),
    VAULT_TLS_KEY_FILE: join(tlsDir, "key.pem"),
    VAULT_DID_WEB_CA_FILE: join(tlsDir, "cert.pem"),
    VAULT_PRESIG_POOL: "2",
    VAULT_EVENTS_HEARTBEAT_MS: "100",
    VAULT_REVOCATION_STALE_MS: String(STALE_MS),
    ...env,
  });
  return { base, did: `did:web:127.0.0.1%3A${port}`, child };
}

const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();
const usdc = (maxPerTx: string, maxPer24h: string) => ({
  [USDC_BASE_SEPOLIA]: { maxPerTx, maxPer24h },
});

function paymentRequired(amount: string) {
  return {
    x402Version: 2,
    resource: { url: "https://merchant.example/report", description: "a report" },
    accepts: [
      {
        scheme: "exact",
        network: `eip155:${BASE_SEPOLIA}`,
        asset: USDC_BASE_SEPOLIA,
        amount,
        payTo: MERCHANT,
        maxTimeoutSeconds: 120,
        extra: { name: "USDC", version: "2" },
      },
    ],
  };
}

/** X's agent pays through Y's x402 route with the chain root → T → X → agent. */
async function payAtY(chain: string[], by: EdDSASigner, amount: string | undefined) {
  const path = `/v1/agents/${agentB.id}/x402/pay`;
  // Without an amount, a body the route refuses after the door: a probe that never signs.
  const body = JSON.stringify({ paymentRequired: amount ? paymentRequired(amount) : "!" });
  const inv = await invoke({ chain, by, cmd: PAY, method: "POST", path, body });
  return call(y.base, "POST", path, {
    headers: { authorization: `Delegation ${chain.join(",")}`, "ucan-invocation": inv },
    body,
  });
}

async function grantFromX(audience: string, caps = usdc("2", "3")) {
  const res = await call(x.base, "POST", "/v1/federation/grants", {
    headers: admin,
    body: JSON.stringify({ audience, commands: [PAY], caps, expiresAt: inAnHour() }),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { delegation: string; cid: string; issuer: string };
}

/** The code Y answers a probe with: "admitted" once past every door check. */
async function probe(chain: string[], by: EdDSASigner): Promise<string> {
  const res = await payAtY(chain, by, undefined);
  return res.status === 400 ? "admitted" : String(res.body.error?.code ?? res.status);
}

const WAIT_MS = 15_000;

/** Waits until Y admits the chain (it has caught up with every stream in it). */
const admitted = (chain: string[], by: EdDSASigner, what = "Y to admit the chain") =>
  until(what, async () => ((await probe(chain, by)) === "admitted" ? true : undefined), WAIT_MS);

/** Waits until Y refuses the chain, and answers the code. */
const refusal = (chain: string[], by: EdDSASigner, what = "Y to refuse") =>
  until(
    what,
    async () => {
      const c = await probe(chain, by);
      return c === "admitted" ? undefined : c;
    },
    WAIT_MS,
  );

/** T admits X: X's agents may be granted at most 2 USDC a payment, 6 a day in all. */
async function admitX(): Promise<{ cid: string; delegation: string; key: string }> {
  const res = await call(t.base, "POST", "/v1/federation/members", {
    headers: admin,
    body: JSON.stringify({
      member: x.did,
      commands: [PAY],
      caps: usdc("2", "6"),
      expiresAt: inAnHour(),
    }),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as unknown as { cid: string; delegation: string; key: string };
}

before(async () => {
  const tls = selfSignedCert();
  tlsDir = mkdtempSync(join(tmpdir(), "av-operators-tls-"));
  writeFileSync(join(tlsDir, "cert.pem"), tls.cert);
  writeFileSync(join(tlsDir, "key.pem"), tls.key, { mode: 0o600 });
  ca = tls.cert;
  const [tPort, xPort, yPort] = [await freePort(), await freePort(), await freePort()];
  [t, x, y] = await Promise.all([
    startOperator(tPort),
    startOperator(xPort),
    startOperator(yPort, { VAULT_TRUST_ANCHORS: JSON.stringify([`did:web:127.0.0.1%3A${tPort}`]) }),
  ]);
  // Y's agent B: a wallet whose policy allows USDC payments on Base Sepolia.
  const created = await call(y.base, "POST", "/v1/agents", {
    headers: admin,
    body: JSON.stringify({
      name: "sponsor",
      policy: {
        chains: [BASE_SEPOLIA],
        assets: {
          [USDC_BASE_SEPOLIA]: {
            symbol: "USDC",
            decimals: 6,
            maxPerTx: "5",
            maxPer24h: "100",
            approvalAbove: "1.8",
          },
        },
        allowTypedData: ["TransferWithAuthorization"],
        rateLimitPerMinute: 1000,
        validUntil: "2099-01-01T00:00:00Z",
      },
    }),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  agentB = created.body as unknown as { id: string; address: string };
  // Y's one piece of configuration besides the anchor: B delegates a budget to T's key.
  const doc = await call(t.base, "GET", "/.well-known/did.json");
  const tKey = (doc.body.alsoKnownAs as string[])[0] as string;
  const root = await call(y.base, "POST", "/v1/delegations", {
    headers: admin,
    body: JSON.stringify({
      agentId: agentB.id,
      audience: tKey,
      commands: [PAY],
      caps: usdc("5", "50"),
      expiresAt: inAnHour(),
    }),
  });
  assert.equal(root.status, 201, JSON.stringify(root.body));
  rootToT = root.body.delegation as string;
  statementOfX = await admitX();
});

after(async () => {
  for (const op of [t, x, y]) {
    if (!op) continue;
    op.child.kill("SIGTERM");
    await killed(op.child);
  }
});

test("each vault serves its did:web document; the anchor publishes its members", async () => {
  const doc = await call(x.base, "GET", "/.well-known/did.json");
  assert.equal(doc.status, 200);
  assert.equal(doc.body.id, x.did);
  assert.equal((doc.body.alsoKnownAs as string[])[0], statementOfX.key);
  const listed = await call(t.base, "GET", "/v1/federation/members");
  const members = listed.body.members as Array<{ member: string; cid: string }>;
  assert.deepEqual(
    members.map((m) => [m.member, m.cid]),
    [[x.did, statementOfX.cid]],
  );
  // The statement is a UCAN any library reads: T's key delegates to X's, for any subject.
  const d = await Delegation.fromString(statementOfX.delegation);
  assert.equal(d.aud, statementOfX.key);
  assert.equal(d.sub, null);
  assert.deepEqual((d.meta as { federation: unknown }).federation, { member: x.did });
});

test("X's agent pays through Y within what T allows X, and is refused beyond it", async () => {
  const agent = await holder();
  const grant = await grantFromX(agent.did);
  const chain = [rootToT, statementOfX.delegation, grant.delegation];
  await admitted(chain, agent, "Y to follow T's and X's streams");
  const paid = await payAtY(chain, agent, "1500000");
  assert.equal(paid.status, 200, JSON.stringify(paid.body));
  // The payment is B's signature over an EIP-3009 authorization to the merchant.
  const sig = JSON.parse(Buffer.from(String(paid.body.paymentSignature), "base64").toString());
  const { authorization, signature } = sig.payload;
  const signer = verifyTypedData(
    USDC_DOMAIN,
    { TransferWithAuthorization: TRANSFER_WITH_AUTHORIZATION_FIELDS },
    authorization,
    signature,
  );
  assert.equal(signer, agentB.address);
  assert.equal(authorization.value, "1500000");

  // Beyond a payment's cap (T allows X 2 USDC a payment).
  const tooBig = await payAtY(chain, agent, "2500000");
  assert.equal(tooBig.status, 403, JSON.stringify(tooBig.body));
  // The grant's own day (3 USDC): 1.5 + 1.5 fit, the next does not.
  assert.equal((await payAtY(chain, agent, "1500000")).status, 200);
  const overDay = await payAtY(chain, agent, "100000");
  assert.equal(overDay.status, 403, JSON.stringify(overDay.body));
  assert.match(String((overDay.body.error as { message?: string })?.message), /link 2/); // X's stream takes subscribers by their operator identity, and audits who subscribed.
  const anonymous = await call(x.base, "GET", "/v1/federation/events");
  assert.equal(anonymous.body.error?.code, "SUBSCRIBER_UNVERIFIED");
  // Claiming to be Y with another key.
  const { privateKey } = generateKeyPairSync("ed25519");
  const claim = await new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", typ: "operator-subscription+jwt" })
    .setIssuer(y.did)
    .setAudience(x.did)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(privateKey);
  const impostor = await call(x.base, "GET", "/v1/federation/events", {
    headers: { authorization: `Operator ${claim}` },
  });
  assert.equal(impostor.body.error?.code, "SUBSCRIBER_UNVERIFIED");
  const audit = await call(x.base, "GET", "/v1/audit?fromSeq=1&limit=1000", { headers: admin });
  const subscribed = (audit.body.entries as Array<{ type: string; data: { operator?: string } }>)
    .filter((e) => e.type === "events.subscribed")
    .map((e) => e.data.operator);
  assert.ok(subscribed.includes(y.did), `Y subscribed to X as ${y.did}: ${subscribed}`);
});

test("a grant wider than T allows X is refused at its hop", async () => {
  const agent = await holder();
  const wide = await grantFromX(agent.did, usdc("2", "60"));
  const res = await payAtY([rootToT, statementOfX.delegation, wide.delegation], agent, "1000");
  assert.equal(res.body.error?.code, "DELEGATION_WIDENS");
  assert.equal((res.body.error as { hop?: number }).hop, 2);
});

test("T's day bounds all of X's agents together: a third agent is refused at T's link", async () => {
  // 3 USDC went through T's statement above; two more agents, each within its own grant.
  const [second, third] = await Promise.all([holder(), holder()]);
  const chainOf = async (agent: EdDSASigner) => [
    rootToT,
    statementOfX.delegation,
    (await grantFromX(agent.did)).delegation,
  ];
  const [c2, c3] = await Promise.all([chainOf(second), chainOf(third)]);
  assert.equal((await payAtY(c2, second, "1500000")).status, 200);
  assert.equal((await payAtY(c2, second, "1500000")).status, 200);
  const refused = await payAtY(c3, third, "100000");
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.match(String((refused.body.error as { message?: string })?.message), /link 1/);
});

test("a payment parked for approval is checked again: revoked upstream meanwhile, refused", async () => {
  // T's day is spent (above): a fresh statement for X keeps this test's budget its own.
  const again = await admitX();
  const agent = await holder();
  const grant = await grantFromX(agent.did);
  const chain = [rootToT, again.delegation, grant.delegation];
  const parked = await payAtY(chain, agent, "1900000"); // above B's approvalAbove (1.8)
  assert.equal(parked.status, 202, JSON.stringify(parked.body));
  const revoked = await call(x.base, "DELETE", `/v1/delegations/${grant.cid}`, { headers: admin });
  assert.equal(revoked.status, 200);
  assert.equal(await refusal(chain, agent, "Y to learn of it"), "DELEGATION_REVOKED");
  const approved = await call(y.base, "POST", `/v1/approvals/${parked.body.approvalId}/approve`, {
    headers: admin,
  });
  // Nothing is signed: the chain's credential was revoked while the payment waited.
  assert.equal(approved.body.error?.code, "APPROVAL_NOT_SIGNED", JSON.stringify(approved.body));
});

test("only a trusted anchor vouches for a member: a look-alike statement is refused", async () => {
  const [impostor, agent] = await Promise.all([holder(), holder()]);
  // B delegates to an ordinary holder, who then claims to speak for the federation.
  const root = await call(y.base, "POST", "/v1/delegations", {
    headers: admin,
    body: JSON.stringify({
      agentId: agentB.id,
      audience: impostor.did,
      commands: [PAY],
      caps: usdc("1", "1"),
      expiresAt: inAnHour(),
    }),
  });
  const forged = await Delegation.create({
    iss: impostor,
    aud: agent.did,
    sub: null,
    cmd: PAY,
    pol: [],
    exp: Math.floor(Date.now() / 1000) + 600,
    meta: { federation: { member: x.did } },
  } as never);
  const res = await payAtY([String(root.body.delegation), forged.toString()], agent, "1000");
  assert.equal(res.body.error?.code, "ANCHOR_LINK_INVALID");
  assert.equal((res.body.error as { hop?: number }).hop, 1);
});

test("X revokes its grant: Y refuses it by push", async (ctx) => {
  const agent = await holder();
  const grant = await grantFromX(agent.did);
  const chain = [rootToT, statementOfX.delegation, grant.delegation];
  await admitted(chain, agent);
  const revoked = await call(x.base, "DELETE", `/v1/delegations/${grant.cid}`, { headers: admin });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  const at = Date.now();
  const code = await refusal(chain, agent);
  assert.equal(code, "DELEGATION_REVOKED");
  ctx.diagnostic(`X's revocation refused at Y after ${Date.now() - at} ms`);
});

test("T removes X: every chain through X is refused at Y by push", async (ctx) => {
  const agent = await holder();
  const grant = await grantFromX(agent.did);
  const chain = [rootToT, statementOfX.delegation, grant.delegation];
  await admitted(chain, agent);
  const removed = await call(
    t.base,
    "DELETE",
    `/v1/federation/members/${encodeURIComponent(x.did)}`,
    {
      headers: admin,
    },
  );
  // Every live statement of X (the first one and the one made for the approval test).
  assert.deepEqual(removed.body, { member: x.did, revoked: 2 });
  const at = Date.now();
  const code = await refusal(chain, agent);
  assert.equal(code, "DELEGATION_REVOKED");
  ctx.diagnostic(`T's removal of X refused at Y after ${Date.now() - at} ms`);
  const listed = await call(t.base, "GET", "/v1/federation/members");
  assert.deepEqual(listed.body.members, []);
});

test("X's stream going silent fails closed at Y", async () => {
  // A fresh statement (X was removed above) and a grant, admitted while X is up.
  const again = await admitX();
  const agent = await holder();
  const grant = await grantFromX(agent.did);
  const chain = [rootToT, again.delegation, grant.delegation];
  await admitted(chain, agent);
  x.child.kill("SIGKILL");
  await killed(x.child);
  const code = await refusal(chain, agent, "Y to fail closed");
  assert.equal(code, "REVOCATION_FEED_STALE");
});
