// Property-based tests (fast-check) of the intent decoder. Central property: whatever the
// decoder accepts decodes to spends that count at least the value the signed bytes can
// move. Fixed seed in the unit tier; FC_RUNS=<n> for a longer run.
import assert from "node:assert/strict";
import { test } from "node:test";
import { getAddress, hexlify, Interface } from "ethers";
import fc from "fast-check";
import { isVaultError } from "../../src/errors/index.js";
import { VALUE_MOVING_ABI, VALUE_MOVING_SELECTORS } from "../../src/policy/calldata.js";
import { decodeIntent, type SignIntent, type Spend } from "../../src/policy/index.js";
import { VALUE_MOVING_TYPED_DATA } from "../../src/policy/typed-spends.js";
import {
  eip2612,
  FC_OPTIONS,
  PERMIT2,
  permitBatch,
  permitSingle,
  permitTransfer,
  type TokenAmount,
  txTo,
  UINT160_MAX,
  UINT256_MAX,
} from "./permits.js";

const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b)));
/** Amounts biased towards the edges: 0, 1, the uint160 and uint256 maxima. */
const uint256 = fc.oneof(
  fc.bigInt({ min: 0n, max: UINT256_MAX }),
  fc.bigInt({ min: 0n, max: 10n ** 12n }),
  fc.constantFrom(0n, 1n, UINT160_MAX, UINT256_MAX),
);
const uint160 = fc.oneof(
  fc.bigInt({ min: 0n, max: UINT160_MAX }),
  fc.constantFrom(0n, UINT160_MAX),
);

const lower = (a: string) => a.toLowerCase();
const sum = (spends: Spend[]) => spends.reduce((n, s) => n + s.amount, 0n);

function decodeOrCode(intent: SignIntent): { spends: Spend[]; contractCall?: string } | string {
  try {
    return decodeIntent(intent);
  } catch (err) {
    if (!isVaultError(err)) throw err; // anything else would be a 500
    return err.code;
  }
}

const erc20 = new Interface([
  "function transfer(address to, uint256 amount)",
  "function transferFrom(address from, address to, uint256 amount)",
  "function approve(address spender, uint256 amount)",
  "function increaseAllowance(address spender, uint256 addedValue)",
]);

test("property: ERC-20 calldata decodes to exactly its token, recipient and (at least) amount", () => {
  const call = fc.record({
    fn: fc.constantFrom("transfer", "transferFrom", "approve", "increaseAllowance"),
    token: address,
    from: address,
    to: address,
    amount: uint256,
  });
  fc.assert(
    fc.property(call, ({ fn, token, from, to, amount }) => {
      const args = fn === "transferFrom" ? [from, to, amount] : [to, amount];
      const decoded = decodeIntent({
        kind: "transaction",
        tx: txTo(token, erc20.encodeFunctionData(fn, args)),
      });
      assert.equal(decoded.contractCall, undefined);
      assert.equal(decoded.spends.length, 1);
      const [s] = decoded.spends as [Spend];
      assert.equal(s.asset, lower(token));
      assert.equal(s.recipient, lower(to));
      // transferFrom/approve share ERC-721's selectors: a token id 0 still counts 1.
      const floor = fn === "transferFrom" || fn === "approve" ? 1n : 0n;
      assert.equal(s.amount, amount > floor ? amount : floor);
      assert.equal(
        s.unlimited === true,
        amount === UINT256_MAX && fn !== "transfer" && fn !== "transferFrom",
      );
    }),
    FC_OPTIONS,
  );
});

const tokenAmounts = (amount: fc.Arbitrary<bigint>) =>
  fc.array(fc.record({ token: address, amount }), { minLength: 1, maxLength: 4 });

test("property: permits decode to the encoded tokens and amounts, to the spender", () => {
  const permit = fc.oneof(
    fc.record({ kind: fc.constant("2612"), spender: address, list: tokenAmounts(uint256) }),
    fc.record({ kind: fc.constant("single"), spender: address, list: tokenAmounts(uint160) }),
    fc.record({ kind: fc.constant("batch"), spender: address, list: tokenAmounts(uint160) }),
    fc.record({
      kind: fc.constantFrom("transfer", "witness"),
      spender: address,
      list: tokenAmounts(uint256),
    }),
  );
  fc.assert(
    fc.property(permit, ({ kind, spender, list }) => {
      const first = list[0] as TokenAmount;
      let intent: SignIntent;
      let expected: TokenAmount[] = list;
      let max = UINT256_MAX;
      if (kind === "2612") {
        intent = eip2612(spender, first.amount);
        expected = [{ token: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", amount: first.amount }];
      } else if (kind === "single") {
        intent = permitSingle(spender, first);
        expected = [first];
        max = UINT160_MAX;
      } else if (kind === "batch") {
        intent = permitBatch(spender, list);
        max = UINT160_MAX;
      } else {
        intent = permitTransfer(spender, list, { witness: kind === "witness" });
        max = UINT256_MAX + 1n; // a one-shot transfer: counted in full, never "unlimited"
      }
      const decoded = decodeIntent(intent);
      assert.deepEqual(
        decoded.spends.map((s) => [s.asset, s.amount, s.recipient, s.unlimited === true]),
        expected.map((e) => [lower(e.token), e.amount, lower(spender), e.amount >= max]),
      );
      assert.equal(
        sum(decoded.spends),
        expected.reduce((n, e) => n + e.amount, 0n),
      );
    }),
    FC_OPTIONS,
  );
});

const identifier = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,11}$/);
const fieldType = fc.constantFrom("uint256", "address", "string", "bool", "bytes32", "uint8");

test("property: random typed data decodes to no spends unless its type is known to move value", () => {
  const typed = fc.record({
    primaryType: fc.oneof(identifier, fc.constantFrom(...VALUE_MOVING_TYPED_DATA)),
    fields: fc.uniqueArray(
      fc.record({ name: fc.stringMatching(/^[a-z]{1,8}$/), type: fieldType }),
      {
        selector: (f) => f.name,
        maxLength: 5,
      },
    ),
    values: fc.dictionary(
      fc.stringMatching(/^[a-z]{1,8}$/),
      fc.oneof(fc.integer(), fc.string(), fc.boolean()),
    ),
  });
  fc.assert(
    fc.property(typed, ({ primaryType, fields, values }) => {
      const result = decodeOrCode({
        kind: "typed-data",
        domain: { name: "X", chainId: 8453, verifyingContract: getAddress(`0x${"12".repeat(20)}`) },
        types: { [primaryType]: fields },
        primaryType,
        message: values,
      });
      if (typeof result === "string") return; // refused with a stable code
      if (!VALUE_MOVING_TYPED_DATA.includes(primaryType)) assert.deepEqual(result.spends, []);
      else assert.ok(result.spends.length > 0, `${primaryType} accepted without a spend`);
    }),
    FC_OPTIONS,
  );
});

test("property: any JSON as typed data is decoded or refused with a VaultError, never a crash", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), fc.jsonValue(), (domain, types, message) => {
      decodeOrCode({ kind: "typed-data", domain, types, primaryType: "Mail", message } as never);
    }),
    FC_OPTIONS,
  );
});

test("property: garbage calldata is a spend, a refusal, or a contract call, never a silent zero-spend transfer", () => {
  const selector = fc.oneof(
    fc.constantFrom(...VALUE_MOVING_SELECTORS),
    fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => hexlify(b)),
  );
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    // Word-aligned bodies with small words, so some of them decode canonically.
    fc
      .array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 255n }), uint256), {
        maxLength: 8,
      })
      .map((words) =>
        Uint8Array.from(
          Buffer.from(words.map((w) => w.toString(16).padStart(64, "0")).join(""), "hex"),
        ),
      ),
  );
  fc.assert(
    fc.property(address, selector, body, (to, sel, bytes) => {
      const data = `${sel}${hexlify(bytes).slice(2)}`;
      const result = decodeOrCode({ kind: "transaction", tx: txTo(to, data) });
      if (typeof result === "string") {
        assert.equal(result, "MALFORMED_TRANSACTION");
        return;
      }
      if (VALUE_MOVING_SELECTORS.includes(sel)) {
        assert.equal(result.contractCall, intermediary(to, result.spends));
        // Only a batch with no ids moves nothing; every other known call names a spend.
        if (sel !== "0x2eb2c2d6") assert.ok(result.spends.length > 0);
      } else {
        // Unknown selector: a contract call, so the policy's `contracts` list must name it.
        assert.equal(result.contractCall, lower(to));
        assert.deepEqual(result.spends, []);
      }
    }),
    FC_OPTIONS,
  );
});

/**
 * A known call is a contract call too only when it spends another asset than the contract
 * called (Permit2's approve names its token) and that contract is not Permit2 itself.
 */
function intermediary(to: string, spends: Spend[]): string | undefined {
  const other = spends.some((s) => s.asset !== lower(to));
  return other && lower(to) !== lower(PERMIT2) ? lower(to) : undefined;
}

/** Random arguments for a function's inputs (the types the value-moving ABI uses). */
function argsFor(types: string[]): fc.Arbitrary<unknown[]> {
  const one = (t: string): fc.Arbitrary<unknown> => {
    if (t === "address") return address;
    if (t === "bool") return fc.boolean();
    if (t === "bytes") return fc.uint8Array({ maxLength: 40 }).map((b) => hexlify(b));
    if (t.endsWith("[]")) return fc.array(one(t.slice(0, -2)), { maxLength: 3 });
    const bits = BigInt(t.slice(4) || "256");
    return fc.oneof(fc.bigInt({ min: 0n, max: (1n << bits) - 1n }), fc.constant((1n << bits) - 1n));
  };
  return fc.tuple(...types.map(one));
}

const abi = new Interface(VALUE_MOVING_ABI);
const knownCall = fc.constantFrom(...VALUE_MOVING_SELECTORS).chain((sel) => {
  const fn = abi.getFunction(sel);
  if (fn === null) throw new Error(sel);
  return argsFor(fn.inputs.map((i) => i.type)).map((args) => abi.encodeFunctionData(fn, args));
});

test("property: a known value-moving call, intact or with one byte changed, is a spend or a refusal, never a contract call", () => {
  fc.assert(
    fc.property(
      address,
      knownCall,
      fc.nat(),
      fc.nat(255),
      fc.boolean(),
      (to, data, at, byte, flip) => {
        const bytes = Buffer.from(data.slice(2), "hex");
        if (flip) bytes[4 + (at % (bytes.length - 4 || 1))] = byte; // keep the selector
        const sent = `0x${bytes.toString("hex")}`;
        const result = decodeOrCode({ kind: "transaction", tx: txTo(to, sent) });
        if (typeof result === "string") {
          assert.equal(result, "MALFORMED_TRANSACTION");
          assert.ok(flip || data.startsWith("0x2eb2c2d6"), "an intact call was refused");
          return;
        }
        assert.equal(result.contractCall, intermediary(to, result.spends));
        if (!sent.startsWith("0x2eb2c2d6")) assert.ok(result.spends.length > 0);
      },
    ),
    FC_OPTIONS,
  );
});
