/** EIP-3009 TransferWithAuthorization typed data for tests (USDC on Base Sepolia by default). */
import { USDC_BASE_SEPOLIA } from "./vault.js";

export const TRANSFER_WITH_AUTHORIZATION_FIELDS = [
  { name: "from", type: "address" },
  { name: "to", type: "address" },
  { name: "value", type: "uint256" },
  { name: "validAfter", type: "uint256" },
  { name: "validBefore", type: "uint256" },
  { name: "nonce", type: "bytes32" },
];

export const USDC_DOMAIN = {
  name: "USDC",
  version: "2",
  chainId: 84532,
  verifyingContract: USDC_BASE_SEPOLIA,
};

export function transferWithAuthorization(from: string, to: string, value: string, nonce: string) {
  return {
    domain: { ...USDC_DOMAIN },
    types: { TransferWithAuthorization: TRANSFER_WITH_AUTHORIZATION_FIELDS },
    primaryType: "TransferWithAuthorization",
    message: { from, to, value, validAfter: "0", validBefore: "99999999999", nonce },
  };
}
