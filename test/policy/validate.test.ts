import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { isVaultError } from "../../src/errors/index.js";
import { canonicalJson, policyHash, validatePolicy } from "../../src/policy/index.js";
import {
  ALICE,
  BOB,
  examplePolicy,
  ROUTER,
  UNKNOWN_TOKEN,
  USDC_BASE,
  USDC_BASE_SEPOLIA,
} from "./fixtures.js";

type Draft = Record<string, unknown>;
type Mutation = (p: Draft) => unknown;

/** The draft's asset entries, for editing in place. */
const assetsOf = (p: Draft) => p.assets as Record<string, Draft>;
/** One asset entry of the draft; a fixture without it is a broken test, not a pass. */
function assetOf(p: Draft, key: string): Draft {
  const entry = assetsOf(p)[key];
  if (!entry) throw new Error(`fixture policy has no asset ${key}`);
  return entry;
}

const U = USDC_BASE_SEPOLIA;
const badChecksum = U.replace("C", "c"); // one letter's case flipped: EIP-55 fails

function withAsset(key: string, entry: unknown): Mutation {
  return (p) => {
    assetsOf(p)[key] = entry as Draft;
  };
}
function setUsdc(field: string, value: unknown): Mutation {
  return (p) => {
    assetOf(p, U)[field] = value;
  };
}
function setEth(field: string, value: unknown): Mutation {
  return (p) => {
    assetOf(p, "ETH")[field] = value;
  };
}
function setTop(field: string, value: unknown): Mutation {
  return (p) => {
    p[field] = value;
  };
}

function invalidPolicy(mutate: Mutation): unknown {
  const p = examplePolicy();
  const replaced = mutate(p);
  return replaced === undefined ? p : replaced;
}

const rejected: Array<[string, Mutation, string]> = [
  ["a non-object policy", () => null, "policy"],
  ["an array as policy", () => [], "policy"],
  ["an unknown top-level key", setTop("maxPerDay", 1), "maxPerDay"],
  ["missing chains", setTop("chains", undefined), "chains"],
  ["empty chains", setTop("chains", []), "chains"],
  ["chains not an array", setTop("chains", 8453), "chains"],
  ["a zero chain id", setTop("chains", [8453, 0]), "chains[1]"],
  ["a negative chain id", setTop("chains", [-1]), "chains[0]"],
  ["a fractional chain id", setTop("chains", [1.5]), "chains[0]"],
  ["a string chain id", setTop("chains", ["8453"]), "chains[0]"],
  ["missing assets", setTop("assets", undefined), "assets"],
  ["assets as an array", setTop("assets", []), "assets"],
  ["a lower-case eth key", withAsset("eth", { maxPerTx: "1", maxPer24h: "1" }), "assets.eth"],
  ["a short address key", withAsset("0x1234", { maxPerTx: "1", maxPer24h: "1" }), "assets.0x1234"],
  ["an address key without 0x", withAsset(U.slice(2), {}), `assets.${U.slice(2)}`],
  ["a bad-checksum address key", withAsset(badChecksum, {}), `assets.${badChecksum}`],
  [
    "the same token twice in different case",
    withAsset(U.toLowerCase(), { maxPerTx: "1", maxPer24h: "1" }),
    `assets.${U.toLowerCase()}`,
  ],
  ["an asset entry that is not an object", withAsset("ETH", "0.01"), "assets.ETH"],
  ["an unknown asset field", setEth("approvalabove", "0.001"), "assets.ETH.approvalabove"],
  ["a missing maxPerTx", setEth("maxPerTx", undefined), "assets.ETH.maxPerTx"],
  ["a missing maxPer24h", setEth("maxPer24h", undefined), "assets.ETH.maxPer24h"],
  ["a numeric amount", setEth("maxPerTx", 0.01), "assets.ETH.maxPerTx"],
  ["a negative amount", setEth("maxPerTx", "-1"), "assets.ETH.maxPerTx"],
  ["an exponent amount", setEth("maxPerTx", "1e-3"), "assets.ETH.maxPerTx"],
  ["a leading-dot amount", setEth("maxPerTx", ".5"), "assets.ETH.maxPerTx"],
  ["a trailing-dot amount", setEth("maxPerTx", "1."), "assets.ETH.maxPerTx"],
  ["an empty amount", setEth("maxPerTx", ""), "assets.ETH.maxPerTx"],
  ["a padded amount", setEth("maxPerTx", " 0.01"), "assets.ETH.maxPerTx"],
  ["a hex amount", setEth("maxPerTx", "0x10"), "assets.ETH.maxPerTx"],
  ["19 decimals for ETH", setEth("maxPerTx", "0.0000000000000000001"), "assets.ETH.maxPerTx"],
  ["7 decimals for USDC", setUsdc("maxPer24h", "100.0000001"), `assets.${U}.maxPer24h`],
  ["an amount beyond uint256", setEth("maxPer24h", "1".padEnd(80, "0")), "assets.ETH.maxPer24h"],
  ["maxPerTx above maxPer24h", setEth("maxPerTx", "0.050000000000000001"), "assets.ETH.maxPerTx"],
  [
    "approvalAbove above maxPerTx",
    setUsdc("approvalAbove", "10.000001"),
    `assets.${U}.approvalAbove`,
  ],
  ["a malformed approvalAbove", setUsdc("approvalAbove", "five"), `assets.${U}.approvalAbove`],
  [
    "an unknown token without symbol",
    withAsset(UNKNOWN_TOKEN, { decimals: 18, maxPerTx: "1", maxPer24h: "1" }),
    `assets.${UNKNOWN_TOKEN}.symbol`,
  ],
  [
    "an unknown token without decimals",
    withAsset(UNKNOWN_TOKEN, { symbol: "XYZ", maxPerTx: "1", maxPer24h: "1" }),
    `assets.${UNKNOWN_TOKEN}.decimals`,
  ],
  ["decimals above 255", setUsdc("decimals", 256), `assets.${U}.decimals`],
  ["negative decimals", setUsdc("decimals", -1), `assets.${U}.decimals`],
  ["fractional decimals", setUsdc("decimals", 1.5), `assets.${U}.decimals`],
  ["string decimals", setUsdc("decimals", "6"), `assets.${U}.decimals`],
  ["wrong decimals for a known token", setUsdc("decimals", 18), `assets.${U}.decimals`],
  ["non-18 decimals for ETH", setEth("decimals", 6), "assets.ETH.decimals"],
  ["an empty symbol", setUsdc("symbol", " "), `assets.${U}.symbol`],
  ["a numeric symbol", setUsdc("symbol", 5), `assets.${U}.symbol`],
  ["recipients not an array", setTop("recipients", ALICE), "recipients"],
  ["a bad recipient", setTop("recipients", [ALICE, "0x123"]), "recipients[1]"],
  ["a bad-checksum recipient", setTop("recipients", [badChecksum]), "recipients[0]"],
  ["contracts not an array", setTop("contracts", {}), "contracts"],
  ["a bad contract", setTop("contracts", [ROUTER, 42]), "contracts[1]"],
  ["allowMessageSigning as a string", setTop("allowMessageSigning", "true"), "allowMessageSigning"],
  ["allowTypedData as a string", setTop("allowTypedData", "Permit"), "allowTypedData"],
  ["an empty typed-data name", setTop("allowTypedData", [""]), "allowTypedData[0]"],
  ["a numeric typed-data name", setTop("allowTypedData", ["Permit", 1]), "allowTypedData[1]"],
  ["a fee cap as a number", setTop("maxFeePerTx", 0.01), "maxFeePerTx"],
  ["a fee cap finer than wei", setTop("maxFeePerTx", "0.0000000000000000001"), "maxFeePerTx"],
  ["a zero rate limit", setTop("rateLimitPerMinute", 0), "rateLimitPerMinute"],
  ["a negative rate limit", setTop("rateLimitPerMinute", -5), "rateLimitPerMinute"],
  ["a fractional rate limit", setTop("rateLimitPerMinute", 1.5), "rateLimitPerMinute"],
  ["a string rate limit", setTop("rateLimitPerMinute", "60"), "rateLimitPerMinute"],
  ["a free-text validUntil", setTop("validUntil", "tomorrow"), "validUntil"],
  ["a numeric validUntil", setTop("validUntil", 1814313600000), "validUntil"],
  ["a non-existent date", setTop("validUntil", "2027-02-30T00:00:00Z"), "validUntil"],
  ["April 31st", setTop("validUntil", "2027-04-31T00:00:00Z"), "validUntil"],
  ["February 29th of a common year", setTop("validUntil", "2027-02-29T00:00:00Z"), "validUntil"],
  ["month 13", setTop("validUntil", "2027-13-01T00:00:00Z"), "validUntil"],
  ["minute 60", setTop("validUntil", "2027-06-30T10:60:00Z"), "validUntil"],
  ["a date without time", setTop("validUntil", "2027-06-30"), "validUntil"],
  ["a time without zone", setTop("validUntil", "2027-06-30T00:00:00"), "validUntil"],
  ["hour 24", setTop("validUntil", "2027-06-30T24:00:00Z"), "validUntil"],
  ["an impossible offset", setTop("validUntil", "2027-06-30T00:00:00+25:00"), "validUntil"],
];

describe("validatePolicy rejects every bad value and names the offending field", () => {
  for (const [what, mutate, field] of rejected) {
    test(`${what} → INVALID_POLICY on ${field}`, () => {
      assert.throws(
        () => validatePolicy(invalidPolicy(mutate)),
        (err: unknown) => {
          assert.ok(isVaultError(err), "a VaultError");
          assert.equal(err.code, "INVALID_POLICY");
          assert.equal(err.details.field, field);
          assert.ok(err.message.includes(field), `message "${err.message}" names ${field}`);
          return true;
        },
      );
    });
  }
});

const accepted: Array<[string, Mutation]> = [
  ["the spec's example policy", () => undefined],
  ["the smallest policy (one chain, no assets)", () => ({ chains: [1], assets: {} })],
  ["maxPerTx equal to maxPer24h", setEth("maxPerTx", "0.05")],
  ["approvalAbove equal to maxPerTx", setUsdc("approvalAbove", "10")],
  ["zero limits", withAsset("ETH", { maxPerTx: "0", maxPer24h: "0" })],
  ["18 decimal places for ETH", setEth("maxPerTx", "0.000000000000000001")],
  ["trailing zeros within decimals", setUsdc("maxPerTx", "10.000000")],
  [
    "a known token without symbol/decimals",
    withAsset(USDC_BASE, { maxPerTx: "1", maxPer24h: "2" }),
  ],
  ["a known token with its true decimals", setUsdc("decimals", 6)],
  [
    "ETH with decimals 18 and a symbol",
    withAsset("ETH", { symbol: "ETH", decimals: 18, maxPerTx: "1", maxPer24h: "1" }),
  ],
  [
    "an unknown token with symbol and decimals",
    withAsset(UNKNOWN_TOKEN, { symbol: "XYZ", decimals: 0, maxPerTx: "3", maxPer24h: "9" }),
  ],
  [
    "a lower-case address key",
    (p) => ({ ...p, assets: { [U.toLowerCase()]: { maxPerTx: "1", maxPer24h: "1" } } }),
  ],
  ["empty recipients (nobody)", setTop("recipients", [])],
  ["no optional fields", (p) => ({ chains: p.chains, assets: p.assets })],
  ["allowMessageSigning false", setTop("allowMessageSigning", false)],
  [
    "validUntil with an offset and milliseconds",
    setTop("validUntil", "2027-06-30T02:00:00.250+02:00"),
  ],
  ["validUntil without seconds", setTop("validUntil", "2027-06-30T00:00Z")],
  ["validUntil on a leap day", setTop("validUntil", "2028-02-29T23:59:59Z")],
];

describe("validatePolicy accepts good policies", () => {
  for (const [what, mutate] of accepted) {
    test(what, () => {
      assert.doesNotThrow(() => validatePolicy(invalidPolicy(mutate)));
    });
  }
});

test("validatePolicy lower-cases address keys, recipients and contracts and keeps everything else", () => {
  const input = examplePolicy();
  const snapshot = structuredClone(input);
  const policy = validatePolicy(input);
  assert.deepEqual(policy, {
    chains: [8453, 84532],
    assets: {
      ETH: { maxPerTx: "0.01", maxPer24h: "0.05" },
      [U.toLowerCase()]: {
        symbol: "USDC",
        decimals: 6,
        maxPerTx: "10",
        maxPer24h: "100",
        approvalAbove: "5",
      },
    },
    recipients: [ALICE.toLowerCase(), BOB.toLowerCase()],
    contracts: [ROUTER.toLowerCase()],
    allowMessageSigning: true,
    allowTypedData: ["TransferWithAuthorization"],
    rateLimitPerMinute: 60,
    validUntil: "2027-06-30T00:00:00Z",
  });
  assert.deepEqual(input, snapshot, "the input is not mutated");
  assert.deepEqual(validatePolicy(policy), policy, "validation is idempotent");
});

test("policyHash is sha256 of sorted-key JSON and ignores key order and address case", () => {
  const policy = validatePolicy(examplePolicy());
  const expected = createHash("sha256").update(canonicalJson(policy)).digest("hex");
  assert.match(policyHash(policy), /^[0-9a-f]{64}$/);
  assert.equal(policyHash(policy), expected);

  const reordered = Object.fromEntries(Object.entries(examplePolicy()).reverse());
  reordered.recipients = [ALICE.toLowerCase(), BOB.toUpperCase().replace("0X", "0x")];
  assert.equal(policyHash(reordered as never), expected);

  const changed = examplePolicy();
  assetOf(changed, "ETH").maxPerTx = "0.02";
  assert.notEqual(policyHash(changed as never), expected, "a different limit, a different hash");
});

test("canonicalJson sorts keys at every depth and drops undefined members", () => {
  assert.equal(
    canonicalJson({ b: [{ z: 1, a: null }], a: { y: "x", c: undefined, b: true } }),
    '{"a":{"b":true,"y":"x"},"b":[{"a":null,"z":1}]}',
  );
});
