import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  getBytes,
  hashMessage,
  hexlify,
  Interface,
  parseEther,
  parseUnits,
  recoverAddress,
  Transaction,
  toUtf8Bytes,
  Wallet,
} from "ethers";
import { type ErrorCode, isVaultError } from "../../src/errors/index.js";
import { decodeIntent, type SignIntent, type TxRequest } from "../../src/policy/index.js";
import { TRANSFER_WITH_AUTHORIZATION_FIELDS } from "../helpers/eip3009.js";
import {
  ALICE,
  BOB,
  MAIL_DOMAIN,
  MAIL_TYPES,
  ROUTER,
  USDC_BASE,
  USDC_BASE_SEPOLIA,
} from "./fixtures.js";

const wallet = Wallet.createRandom();
const erc20 = new Interface([
  "function transfer(address to, uint256 amount)",
  "function transferFrom(address from, address to, uint256 amount)",
  "function approve(address spender, uint256 amount)",
]);
const swap = new Interface(["function swap(address token, uint256 amount)"]);
const lower = (a: string) => a.toLowerCase();

function assertVaultError(fn: () => unknown, code: ErrorCode, field?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isVaultError(err), `a VaultError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (field !== undefined) assert.equal(err.details.field, field);
    // A short reason, never ethers' internals (stack, version, codes).
    assert.doesNotMatch(err.message, /version=|code=|\n\s+at /);
    return true;
  });
}

// ---------------------------------------------------------------- messages

describe("a message digest is what Wallet.signMessage signs (EIP-191)", () => {
  const messages: Array<[string, Uint8Array]> = [
    ["an empty message", new Uint8Array()],
    ["a text message", toUtf8Bytes("I authorise agent #7")],
    ["32 raw bytes", getBytes(`0x${"ab".repeat(32)}`)],
  ];
  for (const [what, bytes] of messages) {
    test(what, async () => {
      const decoded = decodeIntent({ kind: "message", message: hexlify(bytes) });
      assert.equal(decoded.digest, hashMessage(bytes));
      assert.equal(recoverAddress(decoded.digest, await wallet.signMessage(bytes)), wallet.address);
      assert.equal(
        recoverAddress(decoded.digest, wallet.signingKey.sign(decoded.digest)),
        wallet.address,
      );
      assert.deepEqual(decoded, { kind: "message", digest: decoded.digest, spends: [] });
    });
  }
});

test("a message that is not 0x hex bytes fails with VALIDATION_FAILED on message", () => {
  for (const message of ["hello", "0x1", "0xzz", "ab", 12, null]) {
    assertVaultError(
      () => decodeIntent({ kind: "message", message } as SignIntent),
      "VALIDATION_FAILED",
      "message",
    );
  }
});

test("an intent of unknown kind, or no intent, fails with VALIDATION_FAILED", () => {
  assertVaultError(() => decodeIntent({ kind: "psbt" } as never), "VALIDATION_FAILED", "kind");
  assertVaultError(() => decodeIntent(null as never), "VALIDATION_FAILED");
});

// ---------------------------------------------------------------- typed data

const EIP712_DOMAIN = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];
const AUTH_FIELDS = TRANSFER_WITH_AUTHORIZATION_FIELDS;
const usdcDomain = {
  name: "USDC",
  version: "2",
  chainId: 84532,
  verifyingContract: USDC_BASE_SEPOLIA,
};

function authorisation(primaryType: string, overrides: Record<string, unknown> = {}) {
  return {
    kind: "typed-data" as const,
    domain: { ...usdcDomain } as Record<string, unknown>,
    // Clients (viem, MetaMask) send EIP712Domain along; the decoder must strip it.
    types: { EIP712Domain: EIP712_DOMAIN, [primaryType]: AUTH_FIELDS },
    primaryType,
    message: {
      from: wallet.address,
      to: ALICE,
      value: "2500000",
      validAfter: 0,
      validBefore: 1_900_000_000,
      nonce: `0x${"07".repeat(32)}`,
      ...overrides,
    } as Record<string, unknown>,
  };
}

const mail = {
  kind: "typed-data" as const,
  domain: { ...MAIL_DOMAIN } as Record<string, unknown>,
  types: MAIL_TYPES,
  primaryType: "Mail",
  message: {
    from: { name: "Cow", wallet: ALICE },
    to: [{ name: "Bob", wallet: BOB }],
    contents: "Hello, Bob!",
  } as Record<string, unknown>,
};

async function assertSignedByWallet(
  intent: Extract<SignIntent, { kind: "typed-data" }>,
  types: object,
) {
  const decoded = decodeIntent(intent);
  const signature = await wallet.signTypedData(intent.domain, types as never, intent.message);
  assert.equal(recoverAddress(decoded.digest, signature), wallet.address);
  assert.equal(
    recoverAddress(decoded.digest, wallet.signingKey.sign(decoded.digest)),
    wallet.address,
  );
  return decoded;
}

for (const primaryType of ["TransferWithAuthorization", "ReceiveWithAuthorization"]) {
  test(`an EIP-3009 ${primaryType} is a spend of the domain's token to message.to`, async () => {
    const intent = authorisation(primaryType);
    const decoded = await assertSignedByWallet(intent, { [primaryType]: AUTH_FIELDS });
    assert.deepEqual(decoded, {
      kind: "typed-data",
      digest: decoded.digest,
      chainId: 84532,
      primaryType,
      spends: [
        {
          chainId: 84532,
          asset: lower(USDC_BASE_SEPOLIA),
          amount: 2_500_000n,
          recipient: lower(ALICE),
        },
      ],
    });
  });
}

test("typed data other than EIP-3009 has no spends, its primary type and the domain's chain", async () => {
  const decoded = await assertSignedByWallet(mail, mail.types);
  assert.deepEqual(decoded, {
    kind: "typed-data",
    digest: decoded.digest,
    chainId: 8453,
    primaryType: "Mail",
    spends: [],
  });
});

test("typed data without domain.chainId decodes without a chainId", async () => {
  const intent = { ...mail, domain: { name: "Ether Mail", version: "1" } };
  const decoded = await assertSignedByWallet(intent, mail.types);
  assert.equal("chainId" in decoded, false);
});

test("types unreachable from primaryType are ignored, as eth_signTypedData_v4 does", async () => {
  const intent = { ...mail, types: { ...mail.types, Unused: [{ name: "x", type: "uint8" }] } };
  await assertSignedByWallet(intent, mail.types);
});

test("a string or hex domain.chainId is read as a number", () => {
  assert.equal(
    decodeIntent({ ...mail, domain: { ...mail.domain, chainId: "0x2105" } }).chainId,
    8453,
  );
  assert.equal(
    decodeIntent({ ...mail, domain: { ...mail.domain, chainId: "8453" } }).chainId,
    8453,
  );
});

const malformedTypedData: Array<[string, () => unknown]> = [
  ["domain is not an object", () => ({ ...mail, domain: "Ether Mail" })],
  ["types is not an object", () => ({ ...mail, types: [] })],
  ["message is not an object", () => ({ ...mail, message: null })],
  ["primaryType is not defined in types", () => ({ ...mail, primaryType: "Letter" })],
  ["primaryType is EIP712Domain", () => ({ ...authorisation("X"), primaryType: "EIP712Domain" })],
  [
    "a type is not an array of fields",
    () => ({ ...mail, types: { ...mail.types, Person: "string name" } }),
  ],
  [
    "a field lacks its type",
    () => ({ ...mail, types: { ...mail.types, Person: [{ name: "name" }] } }),
  ],
  [
    "the message lacks a field",
    () => ({ ...mail, message: { from: mail.message.from, contents: "x" } }),
  ],
  ["a field has the wrong type", () => ({ ...mail, message: { ...mail.message, to: "Bob" } })],
  ["the domain has an unknown key", () => ({ ...mail, domain: { ...mail.domain, owner: "me" } })],
  [
    "domain.chainId is not a number",
    () => ({ ...mail, domain: { ...mail.domain, chainId: "base" } }),
  ],
  ["domain.chainId is zero", () => ({ ...mail, domain: { ...mail.domain, chainId: 0 } })],
  [
    "declared EIP712Domain disagrees with the domain",
    () => ({
      ...authorisation("TransferWithAuthorization"),
      domain: { name: "USDC", chainId: 84532 },
    }),
  ],
  [
    "declared EIP712Domain uses another chainId type",
    () => {
      const intent = authorisation("TransferWithAuthorization");
      intent.types.EIP712Domain = EIP712_DOMAIN.map((f) =>
        f.name === "chainId" ? { ...f, type: "uint64" } : f,
      );
      return intent;
    },
  ],
  [
    "EIP-3009 without verifyingContract",
    () => {
      const { verifyingContract: _, ...domain } = usdcDomain;
      return {
        ...authorisation("TransferWithAuthorization"),
        domain,
        types: { TransferWithAuthorization: AUTH_FIELDS },
      };
    },
  ],
  [
    "EIP-3009 without chainId",
    () => {
      const { chainId: _, ...domain } = usdcDomain;
      return {
        ...authorisation("TransferWithAuthorization"),
        domain,
        types: { TransferWithAuthorization: AUTH_FIELDS },
      };
    },
  ],
  [
    "EIP-3009 whose value is not an integer",
    () => ({
      ...authorisation("TransferWithAuthorization", { value: "lots" }),
      types: {
        TransferWithAuthorization: AUTH_FIELDS.map((f) =>
          f.name === "value" ? { ...f, type: "string" } : f,
        ),
      },
    }),
  ],
  [
    "EIP-3009 without a `to`",
    () => ({
      ...authorisation("TransferWithAuthorization", { to: undefined, payee: ALICE }),
      types: {
        TransferWithAuthorization: AUTH_FIELDS.map((f) =>
          f.name === "to" ? { ...f, name: "payee" } : f,
        ),
      },
    }),
  ],
];

describe("malformed typed data fails with MALFORMED_TYPED_DATA", () => {
  for (const [what, build] of malformedTypedData) {
    test(what, () => {
      assertVaultError(() => decodeIntent(build() as SignIntent), "MALFORMED_TYPED_DATA");
    });
  }
});

// ---------------------------------------------------------------- transactions

function txRequest(overrides: Partial<TxRequest> = {}): TxRequest {
  return {
    chainId: 8453,
    to: BOB,
    value: "0",
    data: "0x",
    nonce: 7,
    gasLimit: 100_000,
    maxFeePerGas: "2000000000",
    maxPriorityFeePerGas: "1000000",
    ...overrides,
  };
}

/** The hash Wallet.signTransaction signed, recovered from its output. */
async function walletUnsignedHash(tx: TxRequest): Promise<string> {
  const signed = Transaction.from(
    await wallet.signTransaction({ ...tx, type: 2, nonce: Number(tx.nonce) }),
  );
  assert.equal(signed.from, wallet.address);
  return signed.unsignedHash;
}

const usdc = lower(USDC_BASE);
const tenthEth = parseEther("0.1");
const fiveUsdc = parseUnits("5", 6);

const txCases: Array<[string, TxRequest, { spends: object[]; contractCall?: string }]> = [
  [
    "a plain ETH transfer is a native spend to `to`",
    txRequest({ value: tenthEth.toString() }),
    { spends: [{ chainId: 8453, asset: "ETH", amount: tenthEth, recipient: lower(BOB) }] },
  ],
  [
    "numbers as 0x strings decode the same",
    txRequest({
      chainId: "0x2105",
      value: `0x${tenthEth.toString(16)}`,
      nonce: "0x7",
      gasLimit: "0x186a0",
    }),
    { spends: [{ chainId: 8453, asset: "ETH", amount: tenthEth, recipient: lower(BOB) }] },
  ],
  ["zero value and no data is a plain call with no spend", txRequest(), { spends: [] }],
  [
    "omitted value and data is a plain call with no spend",
    txRequest({ value: undefined, data: undefined }),
    { spends: [] },
  ],
  [
    "ERC-20 transfer(to, amount) is a token spend to `to`",
    txRequest({ to: USDC_BASE, data: erc20.encodeFunctionData("transfer", [ALICE, fiveUsdc]) }),
    { spends: [{ chainId: 8453, asset: usdc, amount: fiveUsdc, recipient: lower(ALICE) }] },
  ],
  [
    "ERC-20 calldata in upper-case hex decodes the same",
    txRequest({
      to: USDC_BASE,
      data: `0x${erc20.encodeFunctionData("transfer", [ALICE, fiveUsdc]).slice(2).toUpperCase()}`,
    }),
    { spends: [{ chainId: 8453, asset: usdc, amount: fiveUsdc, recipient: lower(ALICE) }] },
  ],
  [
    "ERC-20 transferFrom(from, to, amount) is a token spend to `to`",
    txRequest({
      to: USDC_BASE,
      data: erc20.encodeFunctionData("transferFrom", [BOB, ALICE, fiveUsdc]),
    }),
    { spends: [{ chainId: 8453, asset: usdc, amount: fiveUsdc, recipient: lower(ALICE) }] },
  ],
  [
    "ERC-20 approve(spender, amount) is a token spend to the spender (2^256-1: unlimited)",
    txRequest({
      to: USDC_BASE,
      data: erc20.encodeFunctionData("approve", [ROUTER, 2n ** 256n - 1n]),
    }),
    {
      spends: [
        {
          chainId: 8453,
          asset: usdc,
          amount: 2n ** 256n - 1n,
          recipient: lower(ROUTER),
          unlimited: true,
        },
      ],
    },
  ],
  [
    "value sent along with a token transfer is both spends",
    txRequest({
      to: USDC_BASE,
      value: "1",
      data: erc20.encodeFunctionData("transfer", [ALICE, fiveUsdc]),
    }),
    {
      spends: [
        { chainId: 8453, asset: "ETH", amount: 1n, recipient: usdc },
        { chainId: 8453, asset: usdc, amount: fiveUsdc, recipient: lower(ALICE) },
      ],
    },
  ],
  [
    "other calldata is a contract call",
    txRequest({ to: ROUTER, data: swap.encodeFunctionData("swap", [USDC_BASE, 1n]) }),
    { spends: [], contractCall: lower(ROUTER) },
  ],
  [
    "other calldata with value is a contract call and a native spend",
    txRequest({ to: ROUTER, value: "5", data: swap.encodeFunctionData("swap", [USDC_BASE, 1n]) }),
    {
      spends: [{ chainId: 8453, asset: "ETH", amount: 5n, recipient: lower(ROUTER) }],
      contractCall: lower(ROUTER),
    },
  ],
  [
    "calldata shorter than a selector is a contract call",
    txRequest({ to: ROUTER, data: "0x12" }),
    { spends: [], contractCall: lower(ROUTER) },
  ],
];

describe("a transaction decodes to the hash Wallet.signTransaction signs and to its spends", () => {
  for (const [what, tx, expected] of txCases) {
    test(what, async () => {
      const decoded = decodeIntent({ kind: "transaction", tx });
      assert.equal(decoded.digest, await walletUnsignedHash(tx));
      assert.equal(
        recoverAddress(decoded.digest, wallet.signingKey.sign(decoded.digest)),
        wallet.address,
      );
      assert.deepEqual(decoded, {
        kind: "transaction",
        digest: decoded.digest,
        chainId: 8453,
        // The worst-case fee: gasLimit × maxFeePerGas.
        maxFee: BigInt(tx.gasLimit) * BigInt(tx.maxFeePerGas),
        ...expected,
      });
    });
  }
});

test("a different chain, nonce or fee gives a different digest (EIP-155 replay protection)", () => {
  const digest = (tx: TxRequest) => decodeIntent({ kind: "transaction", tx }).digest;
  const base = digest(txRequest());
  assert.notEqual(digest(txRequest({ chainId: 84532 })), base);
  assert.notEqual(digest(txRequest({ nonce: 8 })), base);
  assert.notEqual(digest(txRequest({ maxFeePerGas: "2000000001" })), base);
});

const transfer = erc20.encodeFunctionData("transfer", [ALICE, fiveUsdc]);
const malformedTx: Array<[string, unknown, string]> = [
  ["tx is not an object", "0x02f8", "tx"],
  ["to is missing (contract creation)", { ...txRequest(), to: undefined }, "tx.to"],
  ["to is not an address", txRequest({ to: "0x1234" }), "tx.to"],
  ["to has a bad checksum", txRequest({ to: USDC_BASE.replace("C", "c") }), "tx.to"],
  ["chainId is zero", txRequest({ chainId: 0 }), "tx.chainId"],
  ["chainId is text", txRequest({ chainId: "base" }), "tx.chainId"],
  ["chainId is fractional", txRequest({ chainId: 1.5 }), "tx.chainId"],
  ["value is negative", txRequest({ value: "-1" }), "tx.value"],
  ["value is in ether, not wei", txRequest({ value: "0.1" }), "tx.value"],
  ["value exceeds uint256", txRequest({ value: (2n ** 256n).toString() }), "tx.value"],
  ["data has an odd length", txRequest({ data: "0x123" }), "tx.data"],
  ["data is not hex", txRequest({ data: "transfer" }), "tx.data"],
  ["nonce is missing", { ...txRequest(), nonce: undefined }, "tx.nonce"],
  ["nonce is beyond a safe integer", txRequest({ nonce: "0x20000000000000" }), "tx.nonce"],
  ["gasLimit is missing", { ...txRequest(), gasLimit: undefined }, "tx.gasLimit"],
  ["maxFeePerGas is not a number", txRequest({ maxFeePerGas: "fast" }), "tx.maxFeePerGas"],
  [
    "maxPriorityFeePerGas exceeds maxFeePerGas",
    txRequest({ maxPriorityFeePerGas: "2000000001" }),
    "tx.maxPriorityFeePerGas",
  ],
  [
    "ERC-20 calldata is truncated",
    txRequest({ to: USDC_BASE, data: transfer.slice(0, -2) }),
    "tx.data",
  ],
  [
    "ERC-20 calldata has trailing bytes",
    txRequest({ to: USDC_BASE, data: `${transfer}00` }),
    "tx.data",
  ],
  [
    "ERC-20 calldata has a dirty address word",
    txRequest({ to: USDC_BASE, data: `${transfer.slice(0, 10)}ff${transfer.slice(12)}` }),
    "tx.data",
  ],
];

describe("a malformed transaction fails with MALFORMED_TRANSACTION naming the field", () => {
  for (const [what, tx, field] of malformedTx) {
    test(what, () => {
      assertVaultError(
        () => decodeIntent({ kind: "transaction", tx } as SignIntent),
        "MALFORMED_TRANSACTION",
        field,
      );
    });
  }
});
