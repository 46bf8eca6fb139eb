import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Interface, parseEther, parseUnits } from "ethers";
import {
  DAY_MS,
  type Decision,
  type DecodedRequest,
  decodeIntent,
  evaluatePolicy,
  MINUTE_MS,
  type Policy,
  type PolicyRule,
  type Spend,
  type Usage,
  usageFromRecords,
  validatePolicy,
} from "../../src/policy/index.js";
import {
  ALICE,
  BOB,
  examplePolicy,
  NOW,
  OTHER,
  ROUTER,
  UNKNOWN_TOKEN,
  USDC_BASE_SEPOLIA,
} from "./fixtures.js";

const USDC = USDC_BASE_SEPOLIA.toLowerCase();
const ETH_WEI = (s: string) => parseEther(s);
const USDC_UNITS = (s: string) => parseUnits(s, 6);

function policyWith(changes: Record<string, unknown> = {}): Policy {
  const p = { ...examplePolicy(), ...changes };
  for (const [k, v] of Object.entries(p)) if (v === undefined) delete p[k];
  return validatePolicy(p);
}

function spend(asset: string, amount: bigint, recipient = ALICE, chainId = 84532): Spend {
  return { chainId, asset, amount, recipient: recipient.toLowerCase() };
}
function txReq(spends: Spend[], extra: Partial<DecodedRequest> = {}): DecodedRequest {
  return { kind: "transaction", digest: `0x${"11".repeat(32)}`, chainId: 84532, spends, ...extra };
}
const eth = (s: string, to = ALICE) => txReq([spend("ETH", ETH_WEI(s), to)]);
const usdc = (s: string, to = ALICE) => txReq([spend(USDC, USDC_UNITS(s), to)]);
const message: DecodedRequest = { kind: "message", digest: `0x${"22".repeat(32)}`, spends: [] };
const typed = (primaryType: string, spends: Spend[] = []): DecodedRequest => ({
  kind: "typed-data",
  digest: `0x${"33".repeat(32)}`,
  chainId: 84532,
  primaryType,
  spends,
});
const noUsage: Usage = { spentLast24h: {}, requestsLastMinute: 0 };
const used = (spentLast24h: Record<string, bigint>, requestsLastMinute = 0): Usage => ({
  spentLast24h,
  requestsLastMinute,
});

type Expect = { allow: true; needsApproval: boolean } | { rule: PolicyRule; message?: string };
interface Row {
  name: string;
  policy?: Policy | undefined;
  req: DecodedRequest;
  usage?: Usage;
  now?: Date;
}

const P = policyWith();
const validUntil = new Date("2027-06-30T00:00:00Z");

const rows: Array<[Row, Expect]> = [
  [
    { name: "no policy denies everything", policy: undefined, req: eth("0.001") },
    { rule: "no-policy" },
  ],
  [
    { name: "a request within every limit is allowed", req: eth("0.001") },
    { allow: true, needsApproval: false },
  ],

  // validUntil: the last valid instant is validUntil itself
  [
    { name: "validUntil: exactly at expiry is allowed", req: eth("0.001"), now: validUntil },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "validUntil: 1 ms after expiry is denied",
      req: eth("0.001"),
      now: new Date(validUntil.getTime() + 1),
    },
    { rule: "validUntil", message: "the policy expired at 2027-06-30T00:00:00Z" },
  ],
  [
    {
      name: "validUntil: absent never expires",
      policy: policyWith({ validUntil: undefined }),
      req: eth("0.001"),
      now: new Date("2099-01-01T00:00:00Z"),
    },
    { allow: true, needsApproval: false },
  ],

  // chains
  [
    { name: "chains: a listed chain is allowed", req: txReq([], { chainId: 8453 }) },
    { allow: true, needsApproval: false },
  ],
  [
    { name: "chains: an unlisted chain is denied", req: txReq([], { chainId: 1 }) },
    { rule: "chains", message: "chain 1 is not in the policy's chains" },
  ],
  [
    { name: "chains: a request without chain (message) is not chain-checked", req: message },
    { allow: true, needsApproval: false },
  ],

  // messages
  [
    { name: "allowMessageSigning: true allows messages", req: message },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "allowMessageSigning: false denies messages",
      policy: policyWith({ allowMessageSigning: false }),
      req: message,
    },
    { rule: "allowMessageSigning" },
  ],
  [
    {
      name: "allowMessageSigning: absent denies messages",
      policy: policyWith({ allowMessageSigning: undefined }),
      req: message,
    },
    { rule: "allowMessageSigning" },
  ],

  // typed data
  [
    {
      name: "allowTypedData: a listed primary type is allowed",
      req: typed("TransferWithAuthorization", [spend(USDC, 1n)]),
    },
    { allow: true, needsApproval: false },
  ],
  [
    { name: "allowTypedData: an unlisted primary type is denied", req: typed("Permit") },
    { rule: "allowTypedData", message: 'typed data "Permit" is not allowed by the policy' },
  ],
  [
    {
      name: "allowTypedData: absent denies all typed data",
      policy: policyWith({ allowTypedData: undefined }),
      req: typed("TransferWithAuthorization"),
    },
    { rule: "allowTypedData" },
  ],
  [
    {
      name: "allowTypedData: EIP-3009 spends are still limited",
      req: typed("TransferWithAuthorization", [spend(USDC, USDC_UNITS("11"))]),
    },
    { rule: "maxPerTx" },
  ],

  // contracts
  [
    {
      name: "contracts: a listed contract may be called",
      req: txReq([], { contractCall: ROUTER.toLowerCase() }),
    },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "contracts: an unlisted contract is denied",
      req: txReq([], { contractCall: OTHER.toLowerCase() }),
    },
    {
      rule: "contracts",
      message: `contract ${OTHER.toLowerCase()} is not in the policy's contracts`,
    },
  ],
  [
    {
      name: "contracts: absent denies every contract call",
      policy: policyWith({ contracts: undefined }),
      req: txReq([], { contractCall: ROUTER.toLowerCase() }),
    },
    { rule: "contracts" },
  ],

  // assets
  [
    {
      name: "assets: an unlisted token is denied",
      req: txReq([spend(UNKNOWN_TOKEN.toLowerCase(), 1n)]),
    },
    {
      rule: "assets",
      message: `asset ${UNKNOWN_TOKEN.toLowerCase()} is not in the policy's assets`,
    },
  ],
  [
    {
      name: "assets: ETH absent from the policy is denied",
      policy: policyWith({ assets: { [USDC_BASE_SEPOLIA]: { maxPerTx: "1", maxPer24h: "1" } } }),
      req: eth("0.001"),
    },
    { rule: "assets" },
  ],

  // recipients
  [
    { name: "recipients: a listed recipient is allowed", req: eth("0.001", BOB) },
    { allow: true, needsApproval: false },
  ],
  [
    { name: "recipients: an unlisted recipient is denied", req: eth("0.001", OTHER) },
    {
      rule: "recipients",
      message: `recipient ${OTHER.toLowerCase()} is not in the policy's recipients`,
    },
  ],
  [
    {
      name: "recipients: absent allows any recipient",
      policy: policyWith({ recipients: undefined }),
      req: eth("0.001", OTHER),
    },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "recipients: empty allows no recipient",
      policy: policyWith({ recipients: [] }),
      req: eth("0.001"),
    },
    { rule: "recipients" },
  ],

  // maxPerTx, in base units
  [
    { name: "maxPerTx: exactly maxPerTx ETH is allowed", req: eth("0.01") },
    { allow: true, needsApproval: false },
  ],
  [
    { name: "maxPerTx: 1 wei over is denied", req: txReq([spend("ETH", ETH_WEI("0.01") + 1n)]) },
    { rule: "maxPerTx", message: "ETH amount 0.010000000000000001 exceeds maxPerTx 0.01" },
  ],
  [
    { name: "maxPerTx: exactly maxPerTx USDC is allowed (parked for approval)", req: usdc("10") },
    { allow: true, needsApproval: true },
  ],
  [
    { name: "maxPerTx: USDC 12 is denied in human units", req: usdc("12") },
    { rule: "maxPerTx", message: "USDC amount 12 exceeds maxPerTx 10" },
  ],
  [
    { name: "maxPerTx: USDC 1 base unit over is denied", req: usdc("10.000001") },
    { rule: "maxPerTx", message: "USDC amount 10.000001 exceeds maxPerTx 10" },
  ],
  [
    {
      name: "maxPerTx: two spends of one asset are summed",
      req: txReq([spend(USDC, USDC_UNITS("6")), spend(USDC, USDC_UNITS("6"))]),
    },
    { rule: "maxPerTx", message: "USDC amount 12 exceeds maxPerTx 10" },
  ],

  // maxPer24h: usage + this request
  [
    {
      name: "maxPer24h: reaching the limit exactly is allowed",
      req: eth("0.01"),
      usage: used({ ETH: ETH_WEI("0.04") }),
    },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "maxPer24h: 1 wei beyond the limit is denied",
      req: eth("0.01"),
      usage: used({ ETH: ETH_WEI("0.04") + 1n }),
    },
    {
      rule: "maxPer24h",
      message:
        "ETH amount 0.01 plus 0.040000000000000001 spent in the last 24h exceeds maxPer24h 0.05",
    },
  ],
  [
    {
      name: "maxPer24h: usage of another asset does not count",
      req: eth("0.01"),
      usage: used({ [USDC]: USDC_UNITS("100") }),
    },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "maxPer24h: several spends in one request are summed (allowed at the limit)",
      req: txReq([spend(USDC, USDC_UNITS("2")), spend(USDC, USDC_UNITS("3"))]),
      usage: used({ [USDC]: USDC_UNITS("95") }),
    },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "maxPer24h: several spends in one request are summed (denied over the limit)",
      req: txReq([spend(USDC, USDC_UNITS("2")), spend(USDC, USDC_UNITS("3"))]),
      usage: used({ [USDC]: USDC_UNITS("95.000001") }),
    },
    {
      rule: "maxPer24h",
      message: "USDC amount 5 plus 95.000001 spent in the last 24h exceeds maxPer24h 100",
    },
  ],

  // approvalAbove: strictly above parks
  [
    { name: "approvalAbove: exactly the threshold needs no approval", req: usdc("5") },
    { allow: true, needsApproval: false },
  ],
  [
    { name: "approvalAbove: 1 base unit above needs approval", req: usdc("5.000001") },
    { allow: true, needsApproval: true },
  ],
  [
    {
      name: "approvalAbove: spends of one asset are summed",
      req: txReq([spend(USDC, USDC_UNITS("3")), spend(USDC, USDC_UNITS("3"))]),
    },
    { allow: true, needsApproval: true },
  ],
  [
    { name: "approvalAbove: absent for the asset never needs approval", req: eth("0.01") },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "approvalAbove: a small spend beside a large one still parks",
      req: txReq([spend("ETH", 1n), spend(USDC, USDC_UNITS("6"))]),
    },
    { allow: true, needsApproval: true },
  ],

  // rateLimitPerMinute: requests before this one
  [
    {
      name: "rateLimitPerMinute: one below the limit is allowed",
      req: eth("0.001"),
      usage: used({}, 59),
    },
    { allow: true, needsApproval: false },
  ],
  [
    { name: "rateLimitPerMinute: at the limit is denied", req: eth("0.001"), usage: used({}, 60) },
    { rule: "rateLimitPerMinute", message: "rate limit of 60 requests per minute reached" },
  ],
  [
    {
      name: "rateLimitPerMinute: absent is unlimited",
      policy: policyWith({ rateLimitPerMinute: undefined }),
      req: eth("0.001"),
      usage: used({}, 1_000_000),
    },
    { allow: true, needsApproval: false },
  ],

  // maxFeePerTx: gasLimit × maxFeePerGas, the most a transaction can burn in fees
  [
    {
      name: "maxFeePerTx: a fee exactly at the cap is allowed",
      policy: policyWith({ maxFeePerTx: "0.002" }),
      req: txReq([], { maxFee: ETH_WEI("0.002") }),
    },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "maxFeePerTx: one wei above the cap is denied",
      policy: policyWith({ maxFeePerTx: "0.002" }),
      req: txReq([], { maxFee: ETH_WEI("0.002") + 1n }),
    },
    {
      rule: "maxFeePerTx",
      message: "fee up to 0.002000000000000001 (gasLimit × maxFeePerGas) exceeds maxFeePerTx 0.002",
    },
  ],
  [
    {
      name: "maxFeePerTx: absent leaves fees uncapped",
      req: txReq([], { maxFee: ETH_WEI("5") }),
    },
    { allow: true, needsApproval: false },
  ],
  [
    {
      name: "maxFeePerTx: messages and typed data pay no fee",
      policy: policyWith({ maxFeePerTx: "0" }),
      req: message,
    },
    { allow: true, needsApproval: false },
  ],

  // check order: the first failing rule is reported
  [
    {
      name: "order: expiry before chain",
      req: txReq([], { chainId: 1 }),
      now: new Date(validUntil.getTime() + 1),
    },
    { rule: "validUntil" },
  ],
  [
    {
      name: "order: chain before contract",
      req: txReq([], { chainId: 1, contractCall: OTHER.toLowerCase() }),
    },
    { rule: "chains" },
  ],
  [
    {
      name: "order: contract before spends",
      req: txReq([spend("ETH", ETH_WEI("1"))], { contractCall: OTHER.toLowerCase() }),
    },
    { rule: "contracts" },
  ],
  [
    {
      name: "order: asset before amounts",
      req: txReq([spend("ETH", ETH_WEI("1")), spend(UNKNOWN_TOKEN.toLowerCase(), 1n)]),
    },
    { rule: "assets" },
  ],
  [
    { name: "order: spends before rate limit", req: usdc("12"), usage: used({}, 60) },
    { rule: "maxPerTx" },
  ],
];

describe("evaluatePolicy allows and denies each rule at its boundary", () => {
  for (const [row, expected] of rows) {
    test(row.name, () => {
      const policy = "policy" in row ? row.policy : P;
      const decision = evaluatePolicy(policy, row.req, row.usage ?? noUsage, row.now ?? NOW);
      if ("allow" in expected) {
        assert.deepEqual(decision, {
          allow: true,
          needsApproval: expected.needsApproval,
          spends: row.req.spends,
        });
      } else {
        assert.equal(decision.allow, false, `expected a denial by ${expected.rule}`);
        const denial = decision as Extract<Decision, { allow: false }>;
        assert.equal(denial.rule, expected.rule, denial.message);
        if (expected.message !== undefined) assert.equal(denial.message, expected.message);
      }
    });
  }
});

test("evaluatePolicy is pure: same inputs, same decision, inputs untouched", () => {
  const req = usdc("7");
  const usage = used({ [USDC]: 1n }, 3);
  const before = structuredClone({ P, req, usage });
  const first = evaluatePolicy(P, req, usage, NOW);
  assert.deepEqual(evaluatePolicy(P, req, usage, NOW), first);
  assert.deepEqual({ P, req, usage }, before);
});

test("evaluatePolicy reads checksummed asset keys and addresses of an unvalidated policy case-insensitively", () => {
  const raw = examplePolicy() as unknown as Policy; // address keys still checksummed
  assert.deepEqual(evaluatePolicy(raw, usdc("1", BOB), noUsage, NOW), {
    allow: true,
    needsApproval: false,
    spends: usdc("1", BOB).spends,
  });
  assert.equal(
    evaluatePolicy(raw, txReq([], { contractCall: ROUTER.toLowerCase() }), noUsage, NOW).allow,
    true,
  );
});

test("evaluatePolicy denies rather than throws on an unusable policy", () => {
  const broken = {
    chains: [84532],
    assets: { ETH: { maxPerTx: "lots", maxPer24h: "1" } },
  } as Policy;
  assert.deepEqual(evaluatePolicy(broken, eth("0.001"), noUsage, NOW).allow, false);
  const badDate = { ...P, validUntil: "someday" };
  assert.equal(
    (evaluatePolicy(badDate, eth("0.001"), noUsage, NOW) as { rule: string }).rule,
    "validUntil",
  );
});

// ---------------------------------------------------------------- usage windows

const at = (offsetMs: number, spends: Spend[] = []) => ({ ts: NOW.getTime() + offsetMs, spends });

test("usageFromRecords sums spends in a rolling 24 h window: now-24h is out, one ms later is in", () => {
  const usage = usageFromRecords(
    [
      at(-DAY_MS - 1, [spend("ETH", 1n)]),
      at(-DAY_MS, [spend("ETH", 10n)]),
      at(-DAY_MS + 1, [spend("ETH", 100n)]),
      at(-1000, [spend("ETH", 1000n), spend(USDC_BASE_SEPOLIA, 7n)]),
      at(0, [spend(USDC, 3n)]),
      at(5000, [spend("ETH", 10000n)]), // clock skew: a record from the near future still counts
    ],
    NOW,
  );
  assert.deepEqual(usage.spentLast24h, { ETH: 11100n, [USDC]: 10n });
});

test("usageFromRecords counts requests in the last 60 s: now-60s is out, one ms later is in", () => {
  const records = [at(-MINUTE_MS - 1), at(-MINUTE_MS), at(-MINUTE_MS + 1), at(-1), at(0)];
  assert.equal(usageFromRecords(records, NOW).requestsLastMinute, 3);
  assert.equal(usageFromRecords([], NOW).requestsLastMinute, 0);
});

test("the 24 h limit rolls: a full day's spend blocks until it is older than 24 h", () => {
  const dayOfSpending = (offsetMs: number) =>
    usageFromRecords([at(offsetMs, [spend("ETH", ETH_WEI("0.05"))])], NOW);
  const blocked = evaluatePolicy(P, eth("0.000000000000000001"), dayOfSpending(-DAY_MS + 1), NOW);
  assert.equal((blocked as { rule?: string }).rule, "maxPer24h");
  const freed = evaluatePolicy(P, eth("0.01"), dayOfSpending(-DAY_MS - 1), NOW);
  assert.equal(freed.allow, true);
});

// ---------------------------------------------------------------- end to end

test("a decoded ERC-20 transfer of 12 USDC is denied by maxPerTx and 4 USDC allowed", () => {
  const erc20 = new Interface(["function transfer(address to, uint256 amount)"]);
  const decide = (amount: string) =>
    evaluatePolicy(
      P,
      decodeIntent({
        kind: "transaction",
        tx: {
          chainId: 84532,
          to: USDC_BASE_SEPOLIA,
          data: erc20.encodeFunctionData("transfer", [ALICE, USDC_UNITS(amount)]),
          nonce: 0,
          gasLimit: 60000,
          maxFeePerGas: "1000000000",
          maxPriorityFeePerGas: "1000000",
        },
      }),
      noUsage,
      NOW,
    );
  assert.deepEqual(decide("12"), {
    allow: false,
    rule: "maxPerTx",
    message: "USDC amount 12 exceeds maxPerTx 10",
  });
  assert.equal(decide("4").allow, true);
});

test("a decoded approve to an unlisted spender is denied by recipients", () => {
  const erc20 = new Interface(["function approve(address spender, uint256 amount)"]);
  const req = decodeIntent({
    kind: "transaction",
    tx: {
      chainId: 84532,
      to: USDC_BASE_SEPOLIA,
      data: erc20.encodeFunctionData("approve", [OTHER, 1n]),
      nonce: 0,
      gasLimit: 60000,
      maxFeePerGas: "1000000000",
      maxPriorityFeePerGas: "1000000",
    },
  });
  assert.equal((evaluatePolicy(P, req, noUsage, NOW) as { rule?: string }).rule, "recipients");
});

test("a decoded transaction's fee is gasLimit × maxFeePerGas, and maxFeePerTx caps it", () => {
  const tx = (maxFeePerGas: string) =>
    decodeIntent({
      kind: "transaction",
      tx: {
        chainId: 84532,
        to: ALICE,
        value: "1000",
        nonce: 0,
        gasLimit: 21000,
        maxFeePerGas,
        maxPriorityFeePerGas: "1",
      },
    });
  assert.equal(tx("100000000000").maxFee, 21000n * 100_000_000_000n); // 0.0021 ETH
  const capped = policyWith({ maxFeePerTx: "0.002" });
  assert.equal(evaluatePolicy(capped, tx("95000000000"), noUsage, NOW).allow, true); // 0.001995
  const over = evaluatePolicy(capped, tx("100000000000"), noUsage, NOW);
  assert.equal(over.allow, false);
  assert.equal(!over.allow && over.rule, "maxFeePerTx");
});
