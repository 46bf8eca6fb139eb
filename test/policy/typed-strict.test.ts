// Typed data must match its declared types exactly: what is signed is what is shown.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isVaultError } from "../../src/errors/index.js";
import { decodeIntent, type SignIntent } from "../../src/policy/index.js";
import { ALICE, BOB, MAIL_DOMAIN, MAIL_TYPES } from "./fixtures.js";

type Fields = Array<{ name: string; type: string }>;

function mail(message: Record<string, unknown>, types?: Record<string, Fields>): SignIntent {
  return {
    kind: "typed-data",
    domain: { ...MAIL_DOMAIN },
    types: types ?? MAIL_TYPES,
    primaryType: "Mail",
    message,
  };
}
const ok = {
  from: { name: "Cow", wallet: ALICE },
  to: [{ name: "Bob", wallet: BOB }],
  contents: "Hello",
};

function refusal(intent: SignIntent): { code: string; field?: unknown } {
  try {
    decodeIntent(intent);
    return { code: "no error" };
  } catch (err) {
    assert.ok(isVaultError(err), `a VaultError, got ${String(err)}`);
    return { code: err.code, field: err.details.field };
  }
}

test("the well-formed message decodes", () => {
  assert.equal(decodeIntent(mail(ok)).kind, "typed-data");
});

test("an undeclared field in message is TYPED_DATA_UNDECLARED_FIELD naming it", () => {
  assert.deepEqual(refusal(mail({ ...ok, amount: "1000000" })), {
    code: "TYPED_DATA_UNDECLARED_FIELD",
    field: "message.amount",
  });
});

test("an undeclared field in a nested struct or array element is refused too", () => {
  assert.deepEqual(refusal(mail({ ...ok, from: { ...ok.from, admin: true } })), {
    code: "TYPED_DATA_UNDECLARED_FIELD",
    field: "message.from.admin",
  });
  assert.deepEqual(refusal(mail({ ...ok, to: [{ name: "B", wallet: BOB, x: 1 }] })), {
    code: "TYPED_DATA_UNDECLARED_FIELD",
    field: "message.to[0].x",
  });
});

test("a domain member beyond the EIP-712 domain fields is refused, naming it", () => {
  const intent = mail(ok) as Extract<SignIntent, { kind: "typed-data" }>;
  intent.domain = { ...intent.domain, spender: ALICE };
  assert.deepEqual(refusal(intent), { code: "MALFORMED_TYPED_DATA", field: "domain.spender" });
});

/** A chain of struct types Level0 → Level1 → … → Level<n>. */
function nested(levels: number): SignIntent {
  const types: Record<string, Fields> = {};
  for (let i = 0; i < levels; i++) types[`L${i}`] = [{ name: "next", type: `L${i + 1}` }];
  types[`L${levels}`] = [{ name: "v", type: "uint256" }];
  let message: Record<string, unknown> = { v: 1 };
  for (let i = levels - 1; i >= 0; i--) message = { next: message };
  return { kind: "typed-data", domain: { chainId: 1 }, types, primaryType: "L0", message };
}

test("nesting up to the limit decodes; deeper is TYPED_DATA_TOO_DEEP", () => {
  assert.equal(decodeIntent(nested(8)).kind, "typed-data");
  assert.equal(refusal(nested(9)).code, "TYPED_DATA_TOO_DEEP");
  assert.equal(refusal(nested(500)).code, "TYPED_DATA_TOO_DEEP");
});

test("cyclic types and a cyclic message object are TYPED_DATA_TOO_DEEP, never a crash", () => {
  const types = { Node: [{ name: "next", type: "Node" }] };
  const message: Record<string, unknown> = {};
  message.next = message;
  const intent: SignIntent = {
    kind: "typed-data",
    domain: { chainId: 1 },
    types,
    primaryType: "Node",
    message,
  };
  assert.equal(refusal(intent).code, "TYPED_DATA_TOO_DEEP");
  const mutual = {
    A: [{ name: "b", type: "B[]" }],
    B: [{ name: "a", type: "A" }],
  };
  assert.equal(
    refusal({ ...intent, types: mutual, primaryType: "A", message: { b: [] } }).code,
    "TYPED_DATA_TOO_DEEP",
  );
});

test("a message with more values than the limit is TYPED_DATA_TOO_DEEP", () => {
  const many = Array.from({ length: 5000 }, () => ({ name: "B", wallet: BOB }));
  assert.equal(refusal(mail({ ...ok, to: many })).code, "TYPED_DATA_TOO_DEEP");
});

test("atomic values are written as their type: ethers would sign something else ('false' as true)", () => {
  const types: Record<string, Fields> = {
    Order: [
      { name: "approved", type: "bool" },
      { name: "amount", type: "uint256" },
      { name: "delta", type: "int64" },
      { name: "owner", type: "address" },
      { name: "tag", type: "bytes4" },
      { name: "note", type: "string" },
    ],
  };
  const order = (changes: Record<string, unknown>): SignIntent => ({
    kind: "typed-data",
    domain: { name: "Shop", version: "1", chainId: 8453 },
    types,
    primaryType: "Order",
    message: {
      approved: false,
      amount: "5",
      delta: -3,
      owner: ALICE,
      tag: "0x01020304",
      note: "n",
      ...changes,
    },
  });
  assert.equal(refusal(order({})).code, "no error");
  assert.equal(refusal(order({ amount: "0x05", delta: "-0x3" })).code, "no error");
  const bad: Array<[string, unknown]> = [
    ["approved", "false"], // ethers hashes a bool by truthiness: this would sign `true`
    ["approved", 0],
    ["amount", " 5"],
    ["amount", "05"],
    ["amount", "0b101"],
    ["amount", "-5"],
    ["amount", 2 ** 53],
    ["delta", "--3"],
    ["owner", "XE7338O073KYGTWWZN0F2WZ0R8PX5ZPPZS"], // ICAP, which ethers takes
    ["owner", ALICE.slice(2)],
    ["tag", "01020304"],
    ["note", 12],
  ];
  for (const [field, value] of bad) {
    assert.deepEqual(
      refusal(order({ [field]: value })),
      { code: "MALFORMED_TYPED_DATA", field: `message.${field}` },
      `${field}: ${String(value)}`,
    );
  }
});
