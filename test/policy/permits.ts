// Builders for value-moving typed data (EIP-2612, DAI, Permit2) and calldata, shared by
// the policy unit and property tests. Field lists are the standards', written out here
// independently of src/policy so a drift in the decoder shows up as a failing test.
import type { SignIntent, TxRequest } from "../../src/policy/index.js";
import { BOB, USDC_BASE_SEPOLIA } from "./fixtures.js";

export type TypedIntent = Extract<SignIntent, { kind: "typed-data" }>;
type Fields = Array<{ name: string; type: string }>;

/** fast-check runs: a fixed seed in the unit tier; FC_RUNS=<n> for a longer run. */
export const FC_OPTIONS = { seed: 42, numRuns: Number(process.env.FC_RUNS ?? 300) };

export const PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3";
export const UINT256_MAX = 2n ** 256n - 1n;
export const UINT160_MAX = 2n ** 160n - 1n;

const fields = (spec: string): Fields =>
  spec.split(",").map((p) => {
    const [type, name] = p.trim().split(" ") as [string, string];
    return { name, type };
  });

export const EIP2612_FIELDS = fields(
  "address owner, address spender, uint256 value, uint256 nonce, uint256 deadline",
);
export const DAI_FIELDS = fields(
  "address holder, address spender, uint256 nonce, uint256 expiry, bool allowed",
);
const PERMIT_DETAILS = fields("address token, uint160 amount, uint48 expiration, uint48 nonce");
const TOKEN_PERMISSIONS = fields("address token, uint256 amount");

const tokenDomain = (chainId = 84532, token = USDC_BASE_SEPOLIA) => ({
  name: "USDC",
  version: "2",
  chainId,
  verifyingContract: token,
});
const permit2Domain = (chainId = 84532) => ({
  name: "Permit2",
  chainId,
  verifyingContract: PERMIT2,
});

export function eip2612(spender: string, value: bigint, chainId = 84532): TypedIntent {
  return {
    kind: "typed-data",
    domain: tokenDomain(chainId),
    types: { Permit: EIP2612_FIELDS },
    primaryType: "Permit",
    message: {
      owner: BOB,
      spender,
      value: value.toString(),
      nonce: 0,
      deadline: 1_900_000_000,
    },
  };
}

export function daiPermit(spender: string, allowed: boolean): TypedIntent {
  return {
    kind: "typed-data",
    domain: { ...tokenDomain(), name: "Dai Stablecoin", version: "1" },
    types: { Permit: DAI_FIELDS },
    primaryType: "Permit",
    message: { holder: BOB, spender, nonce: 0, expiry: 1_900_000_000, allowed },
  };
}

export type TokenAmount = { token: string; amount: bigint };

export function permitSingle(spender: string, d: TokenAmount, chainId = 84532): TypedIntent {
  return {
    kind: "typed-data",
    domain: permit2Domain(chainId),
    types: {
      PermitSingle: fields("PermitDetails details, address spender, uint256 sigDeadline"),
      PermitDetails: PERMIT_DETAILS,
    },
    primaryType: "PermitSingle",
    message: {
      details: { token: d.token, amount: d.amount.toString(), expiration: 1_900_000_000, nonce: 0 },
      spender,
      sigDeadline: 1_900_000_000,
    },
  };
}

export function permitBatch(spender: string, list: TokenAmount[]): TypedIntent {
  return {
    kind: "typed-data",
    domain: permit2Domain(),
    types: {
      PermitBatch: fields("PermitDetails[] details, address spender, uint256 sigDeadline"),
      PermitDetails: PERMIT_DETAILS,
    },
    primaryType: "PermitBatch",
    message: {
      details: list.map((d) => ({
        token: d.token,
        amount: d.amount.toString(),
        expiration: 1_900_000_000,
        nonce: 0,
      })),
      spender,
      sigDeadline: 1_900_000_000,
    },
  };
}

/** Permit2 SignatureTransfer: single or batch, with or without a witness. */
export function permitTransfer(
  spender: string,
  list: TokenAmount[],
  opts: { batch?: boolean; witness?: boolean } = {},
): TypedIntent {
  const batch = opts.batch ?? list.length !== 1;
  const primaryType = `Permit${batch ? "Batch" : ""}${opts.witness ? "Witness" : ""}TransferFrom`;
  const permitted = list.map((p) => ({ token: p.token, amount: p.amount.toString() }));
  const head = `TokenPermissions${batch ? "[]" : ""} permitted, address spender, uint256 nonce, uint256 deadline`;
  const types: Record<string, Fields> = {
    [primaryType]: fields(opts.witness ? `${head}, Order witness` : head),
    TokenPermissions: TOKEN_PERMISSIONS,
  };
  const message: Record<string, unknown> = {
    permitted: batch ? permitted : permitted[0],
    spender,
    nonce: 1,
    deadline: 1_900_000_000,
  };
  if (opts.witness) {
    types.Order = fields("address recipient, uint256 minOut");
    message.witness = { recipient: BOB, minOut: 1 };
  }
  return { kind: "typed-data", domain: permit2Domain(), types, primaryType, message };
}

export function txTo(to: string, data: string, chainId = 84532): TxRequest {
  return {
    chainId,
    to,
    value: "0",
    data,
    nonce: 1,
    gasLimit: 100_000,
    maxFeePerGas: "1000000000",
    maxPriorityFeePerGas: "1000000",
  };
}
