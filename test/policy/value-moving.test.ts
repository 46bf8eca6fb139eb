// Every way value moves is a spend or a refusal: permits (EIP-2612, DAI, Permit2) and
// NFT/allowance calldata decode to spends of the named token to the named spender, and
// the evaluator counts them, refuses unlimited grants unless a spender is trusted.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Interface, parseUnits, Wallet } from "ethers";
import { type ErrorCode, isVaultError } from "../../src/errors/index.js";
import {
  type Decision,
  decodeIntent,
  evaluatePolicy,
  type Policy,
  type SignIntent,
  type Spend,
  validatePolicy,
} from "../../src/policy/index.js";
import { ALICE, BOB, examplePolicy, NOW, OTHER, ROUTER, USDC_BASE_SEPOLIA } from "./fixtures.js";
import {
  DAI_FIELDS,
  daiPermit,
  EIP2612_FIELDS,
  eip2612,
  PERMIT2,
  permitBatch,
  permitSingle,
  permitTransfer,
  txTo,
  UINT160_MAX,
  UINT256_MAX,
} from "./permits.js";

const USDC = USDC_BASE_SEPOLIA.toLowerCase();
const NFT = `0x${"9f".repeat(20)}`;
const units = (s: string) => parseUnits(s, 6);
const lower = (a: string) => a.toLowerCase();
const noUsage = { spentLast24h: {}, requestsLastMinute: 0 };

/** The example policy with permits allowed, ROUTER a valid recipient and an NFT collection listed. */
function policy(changes: Record<string, unknown> = {}): Policy {
  const base = examplePolicy();
  return validatePolicy({
    ...base,
    assets: {
      ...(base.assets as object),
      [NFT]: { symbol: "NFT", decimals: 0, maxPerTx: "2", maxPer24h: "5" },
    },
    recipients: [ALICE, BOB, ROUTER],
    allowTypedData: [
      "Permit",
      "PermitSingle",
      "PermitBatch",
      "PermitTransferFrom",
      "PermitBatchTransferFrom",
      "PermitWitnessTransferFrom",
      "PermitBatchWitnessTransferFrom",
    ],
    ...changes,
  });
}

function decide(intent: SignIntent, p: Policy = policy()): Decision {
  return evaluatePolicy(p, decodeIntent(intent), noUsage, NOW);
}

function denialRule(decision: Decision): string | undefined {
  return decision.allow ? undefined : decision.rule;
}

function codeOf(fn: () => unknown): ErrorCode | string {
  try {
    fn();
    return "no error";
  } catch (err) {
    return isVaultError(err) ? err.code : `not a VaultError: ${String(err)}`;
  }
}

const usdcSpend = (amount: bigint, to: string, extra: Partial<Spend> = {}): Spend => ({
  chainId: 84532,
  asset: USDC,
  amount,
  recipient: lower(to),
  ...extra,
});

// ---------------------------------------------------------------- typed data

describe("EIP-2612 and DAI Permit are spends of domain.verifyingContract to the spender", () => {
  test("a Permit of 3 USDC is a 3 USDC spend to the spender, allowed under the caps", () => {
    const intent = eip2612(ROUTER, units("3"));
    assert.deepEqual(decodeIntent(intent).spends, [usdcSpend(units("3"), ROUTER)]);
    assert.equal(decide(intent).allow, true);
  });

  test("a Permit above maxPerTx is denied by maxPerTx (it counts against the cap)", () => {
    assert.equal(denialRule(decide(eip2612(ROUTER, units("11")))), "maxPerTx");
  });

  test("a Permit of 2^256-1 is an unlimited grant: refused unless the spender is trusted", () => {
    const intent = eip2612(ROUTER, UINT256_MAX);
    assert.deepEqual(decodeIntent(intent).spends, [
      usdcSpend(UINT256_MAX, ROUTER, { unlimited: true }),
    ]);
    assert.equal(denialRule(decide(intent)), "unlimitedAllowance");
    const trusting = policy({ unlimitedAllowanceSpenders: [ROUTER] });
    // Trusted: allowed, and parked for an operator since it is above approvalAbove.
    assert.deepEqual(decide(intent, trusting), {
      allow: true,
      needsApproval: true,
      spends: decodeIntent(intent).spends,
    });
    // Trusting one spender is not trusting another.
    const other = policy({ unlimitedAllowanceSpenders: [OTHER] });
    assert.equal(denialRule(decide(intent, other)), "unlimitedAllowance");
  });

  test("a Permit moves value, so it needs SPEND (the decoder yields a spend)", () => {
    assert.ok(decodeIntent(eip2612(ROUTER, 1n)).spends.length > 0);
  });

  test("DAI Permit allowed=true is unlimited; allowed=false is a zero spend", () => {
    assert.deepEqual(decodeIntent(daiPermit(ROUTER, true)).spends, [
      usdcSpend(UINT256_MAX, ROUTER, { unlimited: true }),
    ]);
    assert.equal(denialRule(decide(daiPermit(ROUTER, true))), "unlimitedAllowance");
    assert.deepEqual(decodeIntent(daiPermit(ROUTER, false)).spends, [usdcSpend(0n, ROUTER)]);
  });

  test("the spender must be an allowed recipient", () => {
    assert.equal(denialRule(decide(eip2612(OTHER, 1n))), "recipients");
  });

  test("a Permit whose fields are not EIP-2612's or DAI's is MALFORMED_TYPED_DATA", () => {
    const intent = eip2612(ROUTER, 1n);
    // An extra field: a look-alike Permit that no EIP-2612 token would verify.
    intent.types = { Permit: [...EIP2612_FIELDS, { name: "memo", type: "string" }] };
    intent.message.memo = "x";
    assert.equal(
      codeOf(() => decodeIntent(intent)),
      "MALFORMED_TYPED_DATA",
    );
    // DAI's fields with EIP-2612's value in place of allowed: neither standard.
    const dai = daiPermit(ROUTER, true);
    dai.types = { Permit: [...DAI_FIELDS.slice(0, 4), { name: "value", type: "uint256" }] };
    dai.message = { ...dai.message, value: 1 };
    delete dai.message.allowed;
    assert.equal(
      codeOf(() => decodeIntent(dai)),
      "MALFORMED_TYPED_DATA",
    );
  });
});

describe("Permit2 permits are spends of the message's tokens to the spender", () => {
  test("PermitSingle: details.token and details.amount; uint160 max is unlimited", async () => {
    const intent = permitSingle(ROUTER, { token: USDC_BASE_SEPOLIA, amount: units("4") });
    const decoded = decodeIntent(intent);
    assert.deepEqual(decoded.spends, [usdcSpend(units("4"), ROUTER)]);
    // The digest is what a wallet signs for this Permit2 message.
    const wallet = Wallet.createRandom();
    const sig = await wallet.signTypedData(intent.domain, intent.types as never, intent.message);
    assert.equal((await import("ethers")).recoverAddress(decoded.digest, sig), wallet.address);
    const unlimited = permitSingle(ROUTER, { token: USDC_BASE_SEPOLIA, amount: UINT160_MAX });
    assert.equal(decodeIntent(unlimited).spends[0]?.unlimited, true);
    assert.equal(denialRule(decide(unlimited)), "unlimitedAllowance");
  });

  test("PermitBatch: one spend per details entry, summed against the cap", () => {
    const intent = permitBatch(ROUTER, [
      { token: USDC_BASE_SEPOLIA, amount: units("6") },
      { token: USDC_BASE_SEPOLIA, amount: units("6") },
    ]);
    assert.equal(decodeIntent(intent).spends.length, 2);
    assert.equal(denialRule(decide(intent)), "maxPerTx");
  });

  for (const opts of [
    { batch: false, witness: false },
    { batch: true, witness: false },
    { batch: false, witness: true },
    { batch: true, witness: true },
  ]) {
    const name = `Permit${opts.batch ? "Batch" : ""}${opts.witness ? "Witness" : ""}TransferFrom`;
    test(`${name}: permitted tokens and amounts to the spender`, () => {
      const intent = permitTransfer(
        ROUTER,
        [{ token: USDC_BASE_SEPOLIA, amount: units("2") }],
        opts,
      );
      assert.equal(intent.primaryType, name);
      assert.deepEqual(decodeIntent(intent).spends, [usdcSpend(units("2"), ROUTER)]);
      assert.equal(decide(intent).allow, true);
      const big = permitTransfer(ROUTER, [{ token: USDC_BASE_SEPOLIA, amount: units("50") }], opts);
      assert.equal(denialRule(decide(big)), "maxPerTx");
    });
  }

  test("a Permit2 token the policy does not list is denied by assets", () => {
    const intent = permitSingle(ROUTER, { token: OTHER, amount: 1n });
    assert.equal(denialRule(decide(intent)), "assets");
  });

  test("a Permit2 struct with another shape is MALFORMED_TYPED_DATA", () => {
    const intent = permitSingle(ROUTER, { token: USDC_BASE_SEPOLIA, amount: 1n });
    intent.types.PermitDetails = [
      { name: "token", type: "address" },
      { name: "amount", type: "uint256" },
      { name: "expiration", type: "uint48" },
      { name: "nonce", type: "uint48" },
    ];
    assert.equal(
      codeOf(() => decodeIntent(intent)),
      "MALFORMED_TYPED_DATA",
    );
  });

  test("a permit without domain.chainId is MALFORMED_TYPED_DATA (its chain is unknowable)", () => {
    const intent = permitSingle(ROUTER, { token: USDC_BASE_SEPOLIA, amount: 1n });
    delete intent.domain.chainId;
    assert.equal(
      codeOf(() => decodeIntent(intent)),
      "MALFORMED_TYPED_DATA",
    );
  });
});

describe("typed data: value-free types must be declared, value-moving ones cannot be", () => {
  const mail = (chainId?: number): SignIntent => ({
    kind: "typed-data",
    domain: chainId === undefined ? { name: "Mail" } : { name: "Mail", chainId },
    types: { Mail: [{ name: "contents", type: "string" }] },
    primaryType: "Mail",
    message: { contents: "hi" },
  });

  test("an unknown primary type is denied unless listed as value-free", () => {
    assert.equal(denialRule(decide(mail(84532))), "allowTypedData");
    const p = policy({ valueFreeTypedData: ["Mail"] });
    assert.equal(decide(mail(84532), p).allow, true);
  });

  test("a type listed in allowTypedData before valueFreeTypedData existed keeps working", () => {
    const p = policy({ allowTypedData: ["Mail"] });
    assert.equal(decide(mail(84532), p).allow, true);
  });

  test("listing a value-moving type as value-free is INVALID_POLICY", () => {
    assert.equal(
      codeOf(() => policy({ valueFreeTypedData: ["PermitSingle"] })),
      "INVALID_POLICY",
    );
  });

  test("a value-moving type is not allowed by valueFreeTypedData in an unvalidated policy", () => {
    const p = { ...policy({ allowTypedData: [] }), valueFreeTypedData: ["Permit"] };
    assert.equal(denialRule(decide(eip2612(ROUTER, 1n), p)), "allowTypedData");
  });

  test("typed data without domain.chainId is denied by chains", () => {
    const p = policy({ valueFreeTypedData: ["Mail"] });
    const decision = decide(mail(), p);
    assert.equal(denialRule(decision), "chains");
  });
});

// ---------------------------------------------------------------- calldata

const calls = new Interface([
  "function increaseAllowance(address spender, uint256 addedValue)",
  "function setApprovalForAll(address operator, bool approved)",
  "function transferFrom(address from, address to, uint256 tokenId)",
  "function safeTransferFrom(address from, address to, uint256 tokenId)",
  "function safeTransferFrom(address from, address to, uint256 tokenId, bytes data)",
  "function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data)",
  "function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] values, bytes data)",
  "function transferAndCall(address to, uint256 amount, bytes data)",
  "function send(address to, uint256 amount, bytes data)",
  "function authorizeOperator(address operator)",
  "function approve(address token, address spender, uint160 amount, uint48 expiration)",
]);
const nftSpend = (amount: bigint, to: string, extra: Partial<Spend> = {}): Spend => ({
  chainId: 84532,
  asset: NFT,
  amount,
  recipient: lower(to),
  ...extra,
});
const callData = (sig: string, args: unknown[]) => calls.encodeFunctionData(sig, args);

const callCases: Array<[string, string, string, Spend[]]> = [
  [
    "increaseAllowance is a spend of the added value to the spender",
    USDC_BASE_SEPOLIA,
    callData("increaseAllowance", [ROUTER, units("2")]),
    [usdcSpend(units("2"), ROUTER)],
  ],
  [
    "ERC-677 transferAndCall is a transfer",
    USDC_BASE_SEPOLIA,
    callData("transferAndCall", [ALICE, units("1"), "0x"]),
    [usdcSpend(units("1"), ALICE)],
  ],
  [
    "ERC-777 send is a transfer",
    USDC_BASE_SEPOLIA,
    callData("send", [ALICE, units("1"), "0x"]),
    [usdcSpend(units("1"), ALICE)],
  ],
  [
    "ERC-721 safeTransferFrom(from, to, id) moves one token to `to`",
    NFT,
    callData("safeTransferFrom(address,address,uint256)", [BOB, ALICE, 77n]),
    [nftSpend(1n, ALICE)],
  ],
  [
    "ERC-721 safeTransferFrom(from, to, id, data) moves one token to `to`",
    NFT,
    callData("safeTransferFrom(address,address,uint256,bytes)", [BOB, ALICE, 77n, "0x01"]),
    [nftSpend(1n, ALICE)],
  ],
  [
    "ERC-721 transferFrom of token id 0 counts at least one unit",
    NFT,
    callData("transferFrom", [BOB, ALICE, 0n]),
    [nftSpend(1n, ALICE)],
  ],
  [
    "ERC-1155 safeTransferFrom moves `value` of the id",
    NFT,
    callData("safeTransferFrom(address,address,uint256,uint256,bytes)", [BOB, ALICE, 5n, 2n, "0x"]),
    [nftSpend(2n, ALICE)],
  ],
  [
    "ERC-1155 safeBatchTransferFrom is one spend per id",
    NFT,
    callData("safeBatchTransferFrom", [BOB, ALICE, [1n, 2n], [1n, 3n], "0x"]),
    [nftSpend(1n, ALICE), nftSpend(3n, ALICE)],
  ],
  [
    "setApprovalForAll(operator, true) is an unlimited grant to the operator",
    NFT,
    callData("setApprovalForAll", [ROUTER, true]),
    [nftSpend(UINT256_MAX, ROUTER, { unlimited: true })],
  ],
  [
    "setApprovalForAll(operator, false) is a zero spend (a revocation)",
    NFT,
    callData("setApprovalForAll", [ROUTER, false]),
    [nftSpend(0n, ROUTER)],
  ],
  [
    "ERC-777 authorizeOperator is an unlimited grant",
    USDC_BASE_SEPOLIA,
    callData("authorizeOperator", [ROUTER]),
    [usdcSpend(UINT256_MAX, ROUTER, { unlimited: true })],
  ],
  [
    "Permit2 approve(token, spender, amount, expiration) grants `token`, not Permit2",
    PERMIT2,
    callData("approve(address,address,uint160,uint48)", [USDC_BASE_SEPOLIA, ROUTER, 9n, 0n]),
    [usdcSpend(9n, ROUTER)],
  ],
];

describe("value-moving calldata decodes to spends, never a silent contract call", () => {
  for (const [name, to, data, spends] of callCases) {
    test(name, () => {
      const decoded = decodeIntent({ kind: "transaction", tx: txTo(to, data) });
      assert.deepEqual(decoded.spends, spends);
      assert.equal(decoded.contractCall, undefined);
    });
  }
});

test("setApprovalForAll(true) is refused unless the operator is trusted with unlimited grants", () => {
  const intent: SignIntent = {
    kind: "transaction",
    tx: txTo(NFT, callData("setApprovalForAll", [ROUTER, true])),
  };
  assert.equal(denialRule(decide(intent)), "unlimitedAllowance");
  assert.equal(decide(intent, policy({ unlimitedAllowanceSpenders: [ROUTER] })).allow, true);
});

test("NFT transfers count against the collection's caps", () => {
  const batch = callData("safeBatchTransferFrom", [BOB, ALICE, [1n, 2n, 3n], [1n, 1n, 1n], "0x"]);
  assert.equal(denialRule(decide({ kind: "transaction", tx: txTo(NFT, batch) })), "maxPerTx");
});

test("dirty or mismatched value-moving calldata is MALFORMED_TRANSACTION", () => {
  const good = callData("setApprovalForAll", [ROUTER, true]);
  const dirtyBool = `${good.slice(0, -2)}02`; // a bool word of 2
  assert.equal(
    codeOf(() => decodeIntent({ kind: "transaction", tx: txTo(NFT, dirtyBool) })),
    "MALFORMED_TRANSACTION",
  );
  const mismatched = callData("safeBatchTransferFrom", [BOB, ALICE, [1n, 2n], [1n], "0x"]);
  assert.equal(
    codeOf(() => decodeIntent({ kind: "transaction", tx: txTo(NFT, mismatched) })),
    "MALFORMED_TRANSACTION",
  );
  const short = callData("increaseAllowance", [ROUTER, 1n]).slice(0, -2);
  assert.equal(
    codeOf(() => decodeIntent({ kind: "transaction", tx: txTo(USDC, short) })),
    "MALFORMED_TRANSACTION",
  );
});

test("a trusted unlimited grant is recorded but not counted in the rolling window", async () => {
  const { usageFromRecords } = await import("../../src/policy/index.js");
  const usage = usageFromRecords(
    [
      {
        ts: NOW.getTime() - 1000,
        spends: [usdcSpend(UINT256_MAX, ROUTER, { unlimited: true }), usdcSpend(7n, ALICE)],
      },
    ],
    NOW,
  );
  assert.deepEqual(usage.spentLast24h, { [USDC]: 7n });
});

test("unlimitedAllowanceSpenders and valueFreeTypedData are validated, naming the field", () => {
  const fieldOf = (changes: Record<string, unknown>) => {
    try {
      policy(changes);
      return "no error";
    } catch (err) {
      return isVaultError(err) ? `${err.code} ${String(err.details.field)}` : String(err);
    }
  };
  assert.equal(
    fieldOf({ unlimitedAllowanceSpenders: ["0x1234"] }),
    "INVALID_POLICY unlimitedAllowanceSpenders[0]",
  );
  assert.equal(
    fieldOf({ unlimitedAllowanceSpenders: ROUTER }),
    "INVALID_POLICY unlimitedAllowanceSpenders",
  );
  assert.equal(fieldOf({ valueFreeTypedData: [""] }), "INVALID_POLICY valueFreeTypedData[0]");
  assert.equal(fieldOf({ valueFreeTypedData: ["Permit"] }), "INVALID_POLICY valueFreeTypedData[0]");
  assert.deepEqual(policy({ unlimitedAllowanceSpenders: [ROUTER] }).unlimitedAllowanceSpenders, [
    lower(ROUTER),
  ]);
});

// ERC-1363 (https://eips.ethereum.org/EIPS/eip-1363), older OpenZeppelin increaseApproval and
// ERC-777 operatorSend move the token too. Sent to a token the policy also lists in `contracts`,
// an unknown selector would pass as a contract call and move value uncounted.
const moreCalls = new Interface([
  "function transferAndCall(address to, uint256 amount)",
  "function transferFromAndCall(address from, address to, uint256 amount)",
  "function transferFromAndCall(address from, address to, uint256 amount, bytes data)",
  "function approveAndCall(address spender, uint256 amount)",
  "function approveAndCall(address spender, uint256 amount, bytes data)",
  "function increaseApproval(address spender, uint256 addedValue)",
  "function operatorSend(address from, address to, uint256 amount, bytes data, bytes operatorData)",
]);
const moreCases: Array<[string, unknown[], Spend[]]> = [
  ["transferAndCall(address,uint256)", [ALICE, units("1")], [usdcSpend(units("1"), ALICE)]],
  [
    "transferFromAndCall(address,address,uint256)",
    [BOB, ALICE, units("1")],
    [usdcSpend(units("1"), ALICE)],
  ],
  [
    "transferFromAndCall(address,address,uint256,bytes)",
    [BOB, ALICE, units("1"), "0x01"],
    [usdcSpend(units("1"), ALICE)],
  ],
  ["approveAndCall(address,uint256)", [ROUTER, units("2")], [usdcSpend(units("2"), ROUTER)]],
  [
    "approveAndCall(address,uint256,bytes)",
    [ROUTER, UINT256_MAX, "0x"],
    [usdcSpend(UINT256_MAX, ROUTER, { unlimited: true })],
  ],
  ["increaseApproval(address,uint256)", [ROUTER, units("2")], [usdcSpend(units("2"), ROUTER)]],
  [
    "operatorSend(address,address,uint256,bytes,bytes)",
    [BOB, ALICE, units("1"), "0x", "0x"],
    [usdcSpend(units("1"), ALICE)],
  ],
];

describe("ERC-1363, increaseApproval and operatorSend are spends, even to a listed contract", () => {
  const listed = policy({ contracts: [USDC_BASE_SEPOLIA] });
  for (const [sig, args, spends] of moreCases) {
    test(sig, () => {
      const intent: SignIntent = {
        kind: "transaction",
        tx: txTo(USDC_BASE_SEPOLIA, moreCalls.encodeFunctionData(sig, args)),
      };
      const decoded = decodeIntent(intent);
      assert.deepEqual(decoded.spends, spends);
      assert.equal(decoded.contractCall, undefined);
      const decision = decide(intent, listed);
      assert.deepEqual(
        decision.allow ? decision.spends : denialRule(decision),
        spends.some((s) => s.unlimited) ? "unlimitedAllowance" : spends,
      );
    });
  }
});

test("Permit2's approve sent to a contract other than Permit2 is also a contract call: it must be listed", () => {
  const data = callData("approve(address,address,uint160,uint48)", [
    USDC_BASE_SEPOLIA,
    ROUTER,
    9n,
    0n,
  ]);
  const elsewhere: SignIntent = { kind: "transaction", tx: txTo(OTHER, data) };
  // The token is counted wherever the call goes...
  assert.deepEqual(decodeIntent(elsewhere).spends, [usdcSpend(9n, ROUTER)]);
  // ...but an unlisted contract that merely shares the selector is not Permit2: refused.
  assert.equal(decodeIntent(elsewhere).contractCall, lower(OTHER));
  assert.equal(denialRule(decide(elsewhere)), "contracts");
  assert.equal(decide(elsewhere, policy({ contracts: [OTHER] })).allow, true);
  assert.equal(decide({ kind: "transaction", tx: txTo(PERMIT2, data) }).allow, true);
});

describe("typed data that moves value in ways the decoder cannot count is refused, whatever the lists", () => {
  // An ERC-2771 ForwardRequest executes `data` as the signer (a token transfer included).
  const forward: SignIntent = {
    kind: "typed-data",
    domain: {
      name: "MinimalForwarder",
      version: "0.0.1",
      chainId: 84532,
      verifyingContract: ROUTER,
    },
    types: {
      ForwardRequest: [
        { name: "from", type: "address" },
        { name: "to", type: "address" },
        { name: "value", type: "uint256" },
        { name: "gas", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "data", type: "bytes" },
      ],
    },
    primaryType: "ForwardRequest",
    message: {
      from: BOB,
      to: USDC_BASE_SEPOLIA,
      value: "0",
      gas: "100000",
      nonce: "0",
      data: new Interface(["function transfer(address,uint256)"]).encodeFunctionData("transfer", [
        ALICE,
        units("1000"),
      ]),
    },
  };

  test("a legacy allowTypedData entry does not make a ForwardRequest value-free", () => {
    assert.equal(
      denialRule(decide(forward, policy({ allowTypedData: ["ForwardRequest"] }))),
      "allowTypedData",
    );
  });

  for (const name of ["ForwardRequest", "MetaTransaction", "SafeTx", "OrderComponents"]) {
    test(`listing ${name} as value-free is INVALID_POLICY`, () => {
      assert.equal(
        codeOf(() => policy({ valueFreeTypedData: [name] })),
        "INVALID_POLICY",
      );
    });
  }
});
