// Shared fixtures for the policy tests: the product spec's example policy.
import { getAddress } from "ethers";

export const USDC_BASE_SEPOLIA = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
export const USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/** Checksummed test addresses. */
export const ALICE = getAddress(`0x${"a1".repeat(20)}`);
export const BOB = getAddress(`0x${"b2".repeat(20)}`);
export const ROUTER = getAddress(`0x${"c3".repeat(20)}`);
export const OTHER = getAddress(`0x${"d4".repeat(20)}`);
export const UNKNOWN_TOKEN = getAddress(`0x${"e5".repeat(20)}`);

/** A fresh copy of the spec's example policy (recipients/contracts filled in). */
export function examplePolicy(): Record<string, unknown> {
  return {
    chains: [8453, 84532],
    assets: {
      ETH: { maxPerTx: "0.01", maxPer24h: "0.05" },
      [USDC_BASE_SEPOLIA]: {
        symbol: "USDC",
        decimals: 6,
        maxPerTx: "10",
        maxPer24h: "100",
        approvalAbove: "5",
      },
    },
    recipients: [ALICE, BOB],
    contracts: [ROUTER],
    allowMessageSigning: true,
    allowTypedData: ["TransferWithAuthorization"],
    rateLimitPerMinute: 60,
    validUntil: "2027-06-30T00:00:00Z",
  };
}

/** 2026-11-27, the "today" of the spec; tests never read the clock. */
export const NOW = new Date("2026-11-27T12:00:00Z");

/** EIP-712's own example ("Ether Mail", Person and Mail), on Base. */
export const MAIL_DOMAIN = { name: "Ether Mail", version: "1", chainId: 8453 };
export const MAIL_TYPES: Record<string, Array<{ name: string; type: string }>> = {
  Person: [
    { name: "name", type: "string" },
    { name: "wallet", type: "address" },
  ],
  Mail: [
    { name: "from", type: "Person" },
    { name: "to", type: "Person[]" },
    { name: "contents", type: "string" },
  ],
};
