/**
 * An ethers v6 Signer for one vault agent, over the digest-signing seam
 * (./types.ts). It never holds a key: it hands the seam a 32-byte digest
 * together with the intent that digest encodes, and the seam re-derives the
 * digest from the intent, checks the agent's policy on it and refuses any
 * mismatch.
 *
 * - signMessage: EIP-191 version 0x45 ("personal_sign"), digest ethers hashMessage.
 * - signTypedData: EIP-712, digest ethers TypedDataEncoder.hash; the intent carries
 *   the JSON payload ethers builds for eth_signTypedData_v4 (without EIP712Domain).
 * - signTransaction: EIP-1559 (type 2) only, with its EIP-155 chain id; digest
 *   ethers Transaction.unsignedHash, result ethers Transaction.serialized.
 *
 * All hashing and serialisation is ethers'; nothing here encodes bytes by hand.
 * Every signature is made canonical (EIP-2 low s) and must recover to this
 * signer's address before it is returned.
 */
import {
  AbstractSigner,
  getAddress,
  hashMessage,
  hexlify,
  type Provider,
  recoverAddress,
  type Signature,
  Transaction,
  type TransactionLike,
  type TransactionRequest,
  type TypedDataDomain,
  TypedDataEncoder,
  type TypedDataField,
  toUtf8Bytes,
} from "ethers";
import { VaultError } from "../errors/index.js";
import type { SignIntent, TxRequest } from "../policy/types.js";
import type { DigestSigningSeam } from "./types.js";

/** Request fields an EIP-1559 transaction cannot carry, or that the seam's intent cannot express. */
const UNSUPPORTED_TX_FIELDS = [
  "gasPrice",
  "blobVersionedHashes",
  "maxFeePerBlobGas",
  "blobs",
  "kzg",
  "blobWrapperVersion",
  "authorizationList",
] as const;

/** Fields an EIP-1559 transaction must have before it can be signed (sendTransaction fills them). */
const REQUIRED_TX_FIELDS = [
  "chainId",
  "nonce",
  "gasLimit",
  "maxFeePerGas",
  "maxPriorityFeePerGas",
] as const;

function badTx(field: string, problem: string): VaultError {
  return new VaultError("MALFORMED_TRANSACTION", `tx.${field} ${problem}`, {
    field: `tx.${field}`,
  });
}

export class VaultAgentSigner extends AbstractSigner {
  readonly seam: DigestSigningSeam;
  readonly agentId: string;
  readonly address: string;

  constructor(
    seam: DigestSigningSeam,
    agentId: string,
    address: string,
    provider?: Provider | null,
  ) {
    super(provider ?? null);
    this.seam = seam;
    this.agentId = agentId;
    this.address = getAddress(address);
  }

  async getAddress(): Promise<string> {
    return this.address;
  }

  connect(provider: Provider | null): VaultAgentSigner {
    return new VaultAgentSigner(this.seam, this.agentId, this.address, provider);
  }

  /** EIP-191 personal_sign of the message (a string is signed as its UTF-8 bytes). */
  async signMessage(message: string | Uint8Array): Promise<string> {
    const bytes = typeof message === "string" ? toUtf8Bytes(message) : message;
    const sig = await this.sign(hashMessage(bytes), { kind: "message", message: hexlify(bytes) });
    return sig.serialized;
  }

  /** EIP-712 signature; ENS names in the domain or values are resolved through the provider, if any. */
  async signTypedData(
    domain: TypedDataDomain,
    types: Record<string, Array<TypedDataField>>,
    // biome-ignore lint/suspicious/noExplicitAny: the ethers Signer interface types values as any
    value: Record<string, any>,
  ): Promise<string> {
    const populated = await TypedDataEncoder.resolveNames(domain, types, value, async (name) => {
      if (this.provider === null) {
        throw new VaultError(
          "VALIDATION_FAILED",
          `cannot resolve the ENS name ${name} without a provider`,
        );
      }
      const address = await this.provider.resolveName(name);
      if (address === null)
        throw new VaultError("VALIDATION_FAILED", `the ENS name ${name} does not resolve`);
      return address;
    });
    const digest = TypedDataEncoder.hash(populated.domain, types, populated.value);
    // ethers' eth_signTypedData_v4 payload: JSON-safe values (integers as decimal strings, bytes as hex).
    const payload = TypedDataEncoder.getPayload(populated.domain, types, populated.value);
    const { EIP712Domain: _domainType, ...structTypes } = payload.types;
    const sig = await this.sign(digest, {
      kind: "typed-data",
      domain: payload.domain as Record<string, unknown>,
      types: structTypes,
      primaryType: TypedDataEncoder.getPrimaryType(types),
      message: payload.message as Record<string, unknown>,
    });
    return sig.serialized;
  }

  /**
   * Signs a fully populated EIP-1559 transaction and returns its serialisation.
   * Addresses are resolved and `from` is checked as ethers' AbstractSigner does
   * (populateCall); nonce, gas and fees are not fetched here: sendTransaction
   * fills them from the provider first (populateTransaction).
   */
  async signTransaction(request: TransactionRequest): Promise<string> {
    const pop = await this.populateCall(request);
    if (pop.type != null && Number(pop.type) !== 2) {
      throw badTx("type", "must be 2 (EIP-1559); other transaction types are not signed");
    }
    if (pop.to == null) throw badTx("to", "is required (contract creation is not supported)");
    for (const field of UNSUPPORTED_TX_FIELDS) {
      if (pop[field] != null) throw badTx(field, "is not allowed in an EIP-1559 transaction");
    }
    if (pop.accessList != null && Object.keys(pop.accessList).length > 0) {
      throw badTx("accessList", "is not supported (it must be empty)");
    }
    for (const field of REQUIRED_TX_FIELDS) {
      if (pop[field] == null) throw badTx(field, "is required");
    }

    const like: TransactionLike<string> = {
      type: 2,
      chainId: pop.chainId,
      to: pop.to,
      value: pop.value ?? 0n,
      data: pop.data ?? "0x",
      nonce: pop.nonce,
      gasLimit: pop.gasLimit,
      maxFeePerGas: pop.maxFeePerGas,
      maxPriorityFeePerGas: pop.maxPriorityFeePerGas,
      accessList: [],
    };
    const tx = Transaction.from(like);
    const intentTx: TxRequest = {
      chainId: tx.chainId.toString(),
      to: tx.to as string,
      value: tx.value.toString(),
      data: tx.data,
      nonce: tx.nonce.toString(),
      gasLimit: tx.gasLimit.toString(),
      maxFeePerGas: (tx.maxFeePerGas as bigint).toString(),
      maxPriorityFeePerGas: (tx.maxPriorityFeePerGas as bigint).toString(),
    };
    tx.signature = await this.sign(tx.unsignedHash, { kind: "transaction", tx: intentTx });
    if (tx.from !== this.address) {
      throw new VaultError("INTERNAL", "the signed transaction does not recover to the agent");
    }
    return tx.serialized;
  }

  /** Asks the seam, then insists on a canonical signature by this agent's key. */
  private async sign(digest: string, intent: SignIntent): Promise<Signature> {
    const sig = (
      await this.seam.signDigest({ agentId: this.agentId, digest, intent })
    ).getCanonical();
    if (recoverAddress(digest, sig) !== this.address) {
      throw new VaultError("INTERNAL", "the signature does not recover to the agent's address");
    }
    return sig;
  }
}
