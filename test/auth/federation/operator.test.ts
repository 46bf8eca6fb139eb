/**
 * An operator's did:web document (README "Cross-operator trust"): what this vault serves
 * reads back as the same identity, and a document that lends its name to another key, has
 * no operator key, or no https stream is refused.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import {
  type OperatorIdentity,
  operatorDidOf,
  operatorDocument,
  readOperatorDocument,
} from "../../../src/auth/federation/operator.js";
import { didKeyOf } from "../../../src/auth/vc/index.js";

function identity(did = "did:web:127.0.0.1%3A8443"): OperatorIdentity {
  const jwk = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" });
  const x = String(jwk.x);
  return {
    did,
    keyDid: didKeyOf(Buffer.from(x, "base64url")),
    jwk: { kty: "OKP", crv: "Ed25519", x },
    events: "https://127.0.0.1:8443/v1/federation/events",
  };
}

test("did:web of an https base URL, the port's colon percent-encoded; nothing else has one", () => {
  assert.equal(operatorDidOf("https://127.0.0.1:8443"), "did:web:127.0.0.1%3A8443");
  assert.equal(operatorDidOf("https://vault.example.com/"), "did:web:vault.example.com");
  assert.equal(operatorDidOf("http://vault.example.com"), undefined);
  assert.equal(operatorDidOf("https://vault.example.com/sub"), undefined);
  assert.equal(operatorDidOf("not a url"), undefined);
});

test("the served document reads back as the same identity", () => {
  const id = identity();
  const doc = JSON.parse(JSON.stringify(operatorDocument(id)));
  assert.deepEqual(readOperatorDocument(id.did, doc), id);
});

test("a document naming someone else's did:key, or none, is refused", () => {
  const id = identity();
  const other = identity();
  const lent = { ...operatorDocument(id), alsoKnownAs: [other.keyDid] };
  assert.throws(() => readOperatorDocument(id.did, lent), /alsoKnownAs/);
  const none = { ...operatorDocument(id), alsoKnownAs: [] };
  assert.throws(() => readOperatorDocument(id.did, none), /alsoKnownAs/);
});

test("a document for another DID, without an Ed25519 key, or without an https stream is refused", () => {
  const id = identity();
  const doc = operatorDocument(id) as Record<string, unknown>;
  assert.throws(() => readOperatorDocument("did:web:elsewhere.example", doc), /id/);
  const p256 = {
    ...doc,
    verificationMethod: [
      {
        id: `${id.did}#operator`,
        type: "JsonWebKey2020",
        publicKeyJwk: { kty: "EC", crv: "P-256" },
      },
    ],
  };
  assert.throws(() => readOperatorDocument(id.did, p256), /Ed25519/);
  const http = {
    ...doc,
    service: [{ type: "RevocationEventStream", serviceEndpoint: "http://x" }],
  };
  assert.throws(() => readOperatorDocument(id.did, http), /https/);
  for (const junk of [null, 7, "doc", [], { id: id.did }]) {
    assert.throws(() => readOperatorDocument(id.did, junk));
  }
});
