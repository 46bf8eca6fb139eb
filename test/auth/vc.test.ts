import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { verifyCredential } from "did-jwt-vc";
import { Resolver } from "did-resolver";
import { getResolver as keyResolver } from "key-did-resolver";
import { openTokenKeyStore } from "../../src/auth/jwt/keys.js";
import { type CredentialService, createCredentialService } from "../../src/auth/vc/index.js";
import { openCredentialStore, TooManyChallenges } from "../../src/auth/vc/store.js";
import { parseAuthConfig } from "../../src/config/auth.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import type { Sql } from "../../src/store/sql/types.js";
import {
  agentAuthorization,
  didKey,
  didPkh,
  didWebHost,
  presentation,
  selfSignedCert,
  type TestDid,
} from "../helpers/did.js";
import { onBothEngines } from "../helpers/engines.js";
import { codeOf } from "../helpers/errors.js";

const AUD = "urn:agent-vault:local";
let clock = Date.now();
let sql: Sql;
let svc: CredentialService;
let untrustedCaSvc: CredentialService;
let web: Awaited<ReturnType<typeof didWebHost>>;
const issuer = didKey();
const stranger = didKey();
const subject = (_holder: string, extra: Record<string, unknown> = {}) => ({
  agentId: "agt_a",
  operator: "local",
  capabilities: ["read", "execute", "spend"],
  spendLimit: { ETH: "0.005" },
  humanPrincipal: "alice@example.com",
  ...extra,
});

before(async () => {
  const tls = selfSignedCert();
  web = await didWebHost(tls);
  sql = createSqliteSql(openDatabase(":memory:"));
  const config = parseAuthConfig({
    VAULT_TRUSTED_VC_ISSUERS: JSON.stringify([
      { did: issuer.did, capabilities: ["read", "execute", "spend"] },
    ]),
  });
  const keys = await openTokenKeyStore(sql, { passphrase: "p" });
  svc = await createCredentialService({
    sql,
    config,
    keys,
    web: { ca: tls.cert },
    now: () => clock,
  });
  untrustedCaSvc = await createCredentialService({ sql, config, keys, web: { timeoutMs: 2000 } });
});
after(async () => {
  await web?.close();
  await sql?.close();
});

const code = codeOf;

async function present(
  holder: TestDid,
  opts: {
    vcIssuer?: TestDid;
    subj?: Record<string, unknown>;
    exp?: number;
    vpExp?: number;
    aud?: string;
    challenge?: string;
    types?: string[];
  } = {},
) {
  const vc = await agentAuthorization(
    opts.vcIssuer ?? issuer,
    holder.did,
    opts.subj ?? subject(holder.did),
    {
      ...(opts.exp !== undefined ? { exp: opts.exp } : {}),
      ...(opts.types ? { types: opts.types } : {}),
    },
  );
  const challenge = opts.challenge ?? (await svc.challenge()).challenge;
  return presentation(holder, [vc], challenge, opts.aud ?? AUD, {
    ...(opts.vpExp !== undefined ? { exp: opts.vpExp } : {}),
  });
}

test("did:key, did:pkh (eip155) and did:web (HTTPS, test CA) holders authenticate", async () => {
  for (const holder of [didKey(), didPkh(), web.add("agent-1")]) {
    const t0 = performance.now();
    const p = await svc.authenticate(await present(holder));
    console.log(
      `# ${holder.did.split(":").slice(0, 2).join(":")} presentation verified in ${(performance.now() - t0).toFixed(1)} ms`,
    );
    assert.equal(p.agentId, "agt_a");
    assert.equal(p.did, holder.did);
    assert.equal(p.via, "vc");
    assert.deepEqual([...p.scopes].sort(), ["EXECUTE", "READ", "SPEND"]);
    assert.deepEqual(p.spendLimits, [{ ETH: "0.005" }]);
    assert.equal(p.humanPrincipal, "alice@example.com");
  }
});

test("did:web is refused when its certificate is not trusted", async () => {
  const holder = web.add("agent-2");
  const challenge = (await untrustedCaSvc.challenge()).challenge;
  const vp = await presentation(
    holder,
    [await agentAuthorization(issuer, holder.did, subject(holder.did))],
    challenge,
    AUD,
  );
  assert.equal(await code(untrustedCaSvc.authenticate(vp)), "DID_UNRESOLVABLE");
});

test("challenges are single use, expire, and must have been issued here", async () => {
  const holder = didKey();
  const vp = await present(holder);
  assert.equal(await code(svc.authenticate(vp)), "accepted");
  assert.equal(await code(svc.authenticate(vp)), "CHALLENGE_REPLAYED");
  assert.equal(
    await code(svc.authenticate(await present(holder, { challenge: "never-issued" }))),
    "CHALLENGE_INVALID",
  );
  const stale = await present(holder);
  clock += 121_000;
  assert.equal(await code(svc.authenticate(stale)), "CHALLENGE_EXPIRED");
  clock = Date.now();
});

test("bad presentations are refused with a specific code each", async () => {
  const holder = didKey();
  const past = Math.floor(Date.now() / 1000) - 60;
  const other = didKey();
  // A presentation claiming to be `holder` but signed by another key.
  const forged = await present({ ...holder, signer: other.signer });
  const cases: Array<[string, string]> = [
    ["not a jwt", "CREDENTIAL_MALFORMED"],
    ["eyJhbGciOiJFZERTQSJ9.eyJmb28iOjF9.c2ln", "CREDENTIAL_MALFORMED"],
    [forged, "SIGNATURE_INVALID"],
    [await present(holder, { aud: "urn:agent-vault:elsewhere" }), "AUDIENCE_MISMATCH"],
    [await present(holder, { vcIssuer: stranger }), "ISSUER_UNKNOWN"],
    [await present(holder, { exp: past }), "CREDENTIAL_EXPIRED"],
    [await present(holder, { vpExp: past }), "CREDENTIAL_EXPIRED"],
    [
      await present(holder, { subj: subject(holder.did, { operator: "someone-else" }) }),
      "CREDENTIAL_INVALID",
    ],
    [await present(holder, { types: ["SomethingElse"] }), "CREDENTIAL_INVALID"],
    [
      await present(holder, { subj: subject(holder.did, { spendLimit: { ETH: "lots" } }) }),
      "CREDENTIAL_INVALID",
    ],
    [
      await present(holder, { subj: subject(holder.did, { agentId: undefined }) }),
      "CREDENTIAL_INVALID",
    ],
    [
      await present(didKey(), {
        challenge: (await svc.challenge()).challenge,
        subj: subject("did:key:zSomeoneElse"),
      }),
      "accepted",
    ],
  ];
  // The last case: the subject id always comes from `sub` (the holder), so it is accepted.
  for (const [vp, expected] of cases) {
    assert.equal(await code(svc.authenticate(vp)), expected, `${expected}: ${vp.slice(0, 30)}`);
  }
  // A credential issued to another DID, presented by this holder.
  const vcForOther = await agentAuthorization(issuer, other.did, subject(other.did));
  const vp = await presentation(holder, [vcForOther], (await svc.challenge()).challenge, AUD);
  assert.equal(await code(svc.authenticate(vp)), "CREDENTIAL_INVALID");
});

test("the vault's agent credential binds the agent's DID to its address, checkable by anyone", async () => {
  const holder = didKey();
  await svc.authenticate(await present(holder));
  const out = await svc.agentCredential({
    id: "agt_a",
    address: "0x1111111111111111111111111111111111111111",
  });
  assert.equal(out.subject, holder.did);
  const verified = await verifyCredential(out.credential, new Resolver({ ...keyResolver() }));
  assert.equal(verified.issuer, svc.did);
  const s = verified.verifiableCredential.credentialSubject as Record<string, unknown>;
  assert.equal(s.id, holder.did);
  assert.equal(s.vaultAddress, "0x1111111111111111111111111111111111111111");
  const none = await svc.agentCredential({
    id: "agt_b",
    address: "0x2222222222222222222222222222222222222222",
  });
  assert.equal(none.subject, "did:pkh:eip155:1:0x2222222222222222222222222222222222222222");
});

onBothEngines({
  "a challenge is used once by one replica; outstanding ones are bounded; revocations and DIDs round-trip":
    async (f) => {
      const a = await openCredentialStore(f.open());
      const b = await openCredentialStore(f.open());
      const limits = { pruneBefore: 0, maxOutstanding: 2 };
      await a.putChallenge("c1", 1_000, 10, limits);
      await b.putChallenge("c2", 1_000, 10, limits);
      await assert.rejects(a.putChallenge("c3", 1_000, 10, limits), TooManyChallenges);
      assert.deepEqual(await b.challenge("c1"), { expires_ms: 1_000, used_ms: null });
      assert.equal(await b.challenge("c3"), undefined);
      const used = await Promise.all([a.useChallenge("c1", 20), b.useChallenge("c1", 20)]);
      assert.deepEqual(used.sort(), [false, true]);
      assert.deepEqual(await a.challenge("c1"), { expires_ms: 1_000, used_ms: 20 });
      assert.equal(await a.useChallenge("c2", 1_000), false); // expired
      // A used one no longer counts; expired ones are pruned once old enough.
      await a.putChallenge("c3", 1_000, 20, limits);
      await a.putChallenge("c4", 3_000, 2_000, { pruneBefore: 1_500, maxOutstanding: 2 });
      assert.equal(await b.challenge("c1"), undefined);
      assert.deepEqual(await b.challenge("c4"), { expires_ms: 3_000, used_ms: null });

      assert.equal(await a.revoke("did:key:zRevoked", 5, "admin"), true);
      assert.equal(await b.revoke("did:key:zRevoked", 6, "admin"), false);
      assert.equal(await b.isRevoked("did:key:zRevoked"), true);
      assert.equal(await b.isRevoked("did:key:zOther"), false);

      assert.equal(await a.didOf("agt_a"), undefined);
      await a.bindDid("agt_a", "did:key:z1", "did:key:zIssuer", 1);
      await b.bindDid("agt_a", "did:key:z2", "did:key:zIssuer", 2);
      assert.equal(await a.didOf("agt_a"), "did:key:z2");
    },
});
