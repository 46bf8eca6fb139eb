/**
 * The lit-v7 response parser on executeJs answers in the exact shapes lit-node-client
 * 7.4.0 returns (ExecuteJsResponse; get-signatures.ts joins r, s, recid into
 * `signature`; a signing-free run returns the nodes' own object with the response as a
 * string). Lit shut the Datil networks down in 2026, so these answers are not captured
 * from a live network: they are written in those shapes with a fixed test key, and the
 * node errors carry the codes Lit documents (NodeActionNotAllowed, NodeJsExecutionError,
 * rate_limit_exceeded with HTTP 402, …).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recoverAddress } from "ethers";
import { isVaultError } from "../../../../src/errors/index.js";
import { litV7Failure } from "../../../../src/signers/lit/v7/errors.js";
import { signatureFromResponse } from "../../../../src/signers/lit/v7/response.js";

const PUB =
  "04c91d295563aa25d500374244b0428ed9d7978740d8dae8e466b8a16c15945b370bac0dc7f0ec446bd4ffa8eafd854a4808be5468cd6f66722c7295719d9f4b86";
const ADDRESS = "0xdB00079cad3e665853Bf766eFe26F4C38cdbdCDA";
const DIGEST = "0xea7e834f34c2548a3e54c582ba6b2b18a99f2a3e9032be373b6363e099e623e6";
const R = "a7618cb3485390230029f9e81de844d60ad931f5797046ba5b2190ded6f73126";
const S = "09c196c4484131071b589f611725be7cc55d75f189993396b47ae34af3477aae";
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const EXPECTED = { digest: DIGEST, publicKey: `0x${PUB}`, address: ADDRESS };

const sig = (over: Record<string, unknown> = {}) => ({
  r: R,
  s: S,
  recid: 0,
  signature: `0x${R}${S}1b`,
  publicKey: PUB,
  dataSigned: DIGEST.slice(2),
  ...over,
});

/** What executeJs returns when the action signed (response parsed from its JSON). */
const signed = (over: Record<string, unknown> = {}, response: unknown = allowed) => ({
  claims: undefined,
  signatures: { sig: sig(over) },
  response,
  logs: "",
});
const allowed = { ok: true, digest: DIGEST, address: ADDRESS };

/** What executeJs returns when nothing was signed: the node's object, response a string. */
const unsigned = (response: string) => ({
  success: true,
  signedData: {},
  decryptedData: {},
  claimData: {},
  response,
  logs: "",
});

function refusedWith(code: string, check?: (details: Record<string, unknown>) => void) {
  return (err: unknown) => {
    assert.ok(isVaultError(err), `expected a VaultError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check?.(err.details);
    return true;
  };
}

describe("lit-v7 executeJs responses", () => {
  it("an allowed request's signature is r‖s‖v and recovers to the PKP", () => {
    const signature = signatureFromResponse(signed(), EXPECTED);
    assert.equal(signature, `0x${R}${S}1b`);
    assert.equal(recoverAddress(DIGEST, signature), ADDRESS);
  });

  it("accepts the response as the JSON string when the SDK could not parse it", () => {
    const signature = signatureFromResponse(signed({}, JSON.stringify(allowed)), EXPECTED);
    assert.equal(recoverAddress(DIGEST, signature), ADDRESS);
  });

  it("turns a high s into the low s of the same signature (EIP-2)", () => {
    const high = (N - BigInt(`0x${S}`)).toString(16).padStart(64, "0");
    const raw = signed({ s: high, recid: 1, signature: `0x${R}${high}1c` });
    const signature = signatureFromResponse(raw, EXPECTED);
    assert.equal(signature, `0x${R}${S}1b`);
  });

  it("a policy denial is POLICY_DENIED with the rule, enforced by the action", () => {
    const denial = { ok: false, code: "POLICY_DENIED", rule: "maxPerTx", message: "too much" };
    assert.throws(
      () => signatureFromResponse(unsigned(JSON.stringify(denial)), EXPECTED),
      refusedWith("POLICY_DENIED", (d) => {
        assert.equal(d.rule, "maxPerTx");
        assert.equal(d.enforcedBy, "lit-action");
      }),
    );
  });

  for (const code of ["DIGEST_MISMATCH", "POLICY_UNAUTHORIZED", "BAD_REQUEST"]) {
    it(`the action's ${code} is LIT_ACTION_REFUSED`, () => {
      const refusal = JSON.stringify({ ok: false, code, message: "no" });
      assert.throws(
        () => signatureFromResponse(unsigned(refusal), EXPECTED),
        refusedWith("LIT_ACTION_REFUSED", (d) => assert.equal(d.reason, code)),
      );
    });
  }

  const malformed: [string, unknown][] = [
    ["not an object", "oops"],
    ["allowed but no signature", unsigned(JSON.stringify(allowed))],
    [
      "signatures null (no signed data)",
      { ...unsigned(JSON.stringify(allowed)), signatures: null },
    ],
    ["a signature under another name", { ...signed(), signatures: { other: sig() } }],
    ["a response that is not JSON", unsigned("undefined")],
    ["an unknown refusal code", unsigned(JSON.stringify({ ok: false, code: "NOPE" }))],
    ["a refusal with a signature", signed({}, { ok: false, code: "POLICY_DENIED", message: "x" })],
    ["r with 0x", signed({ r: `0x${R}` })],
    ["short s", signed({ s: S.slice(2) })],
    ["recid 27", signed({ recid: 27 })],
    ["signature not r‖s‖v", signed({ signature: `0x${R}${S}1c` })],
    ["another public key", signed({ publicKey: `04${"11".repeat(64)}` })],
    ["other data signed", signed({ dataSigned: "00".repeat(32) })],
    [
      "the action answered another digest",
      signed({}, { ...allowed, digest: `0x${"00".repeat(32)}` }),
    ],
    [
      "the action answered another address",
      signed({}, { ...allowed, address: `0x${"22".repeat(20)}` }),
    ],
  ];
  for (const [what, raw] of malformed) {
    it(`refuses ${what} as LIT_BAD_RESPONSE`, () => {
      assert.throws(() => signatureFromResponse(raw, EXPECTED), refusedWith("LIT_BAD_RESPONSE"));
    });
  }
});

describe("lit-v7 node errors", () => {
  /** Shaped as @lit-protocol/constants' NodeError: name, code, info from the nodes. */
  const nodeError = (errorCode: string, message = "x") =>
    Object.assign(new Error(`There was an error getting the signing shares: ${message}`), {
      name: "NodeError",
      code: "node_error",
      info: { requestId: "r", errorCode, message },
    });
  const cases: [string, unknown, string][] = [
    [
      "rate_limit_exceeded",
      nodeError("rate_limit_exceeded", "Rate limit exceeded."),
      "LIT_RATE_LIMITED",
    ],
    ["NodeActionNotAllowed", nodeError("NodeActionNotAllowed"), "LIT_NOT_PERMITTED"],
    ["NodeInvalidAuthSig", nodeError("NodeInvalidAuthSig"), "LIT_NOT_PERMITTED"],
    ["NodeJsExecutionError", nodeError("NodeJsExecutionError", "boom"), "LIT_ACTION_FAILED"],
    [
      "no capacity",
      nodeError("NodeUnknownError", "insufficient capacity credits"),
      "LIT_NO_CREDITS",
    ],
    [
      "NetworkError",
      Object.assign(new Error("fetch failed"), { name: "NetworkError" }),
      "LIT_UNAVAILABLE",
    ],
    [
      "not ready",
      Object.assign(new Error("x"), { name: "LitNodeClientNotReadyError" }),
      "LIT_UNAVAILABLE",
    ],
  ];
  for (const [what, err, code] of cases) {
    it(`${what} → ${code}`, () => {
      const mapped = litV7Failure(err);
      assert.equal(mapped.code, code);
      assert.doesNotMatch(mapped.message, /signing shares/);
    });
  }
});
