/**
 * VaultAgentSigner over the vault's real seam (3 signer node processes, 2-of-3):
 * what it signs recovers to the agent with ethers' own verifiers, and what the
 * policy refuses is never signed.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  hexlify,
  parseEther,
  parseUnits,
  randomBytes,
  Transaction,
  type TransactionRequest,
  verifyMessage,
  verifyTypedData,
} from "ethers";
import { isVaultError } from "../../src/errors/index.js";
import type { AgentView } from "../../src/services/agents.js";
import type { Vault } from "../../src/services/vault.js";
import { VaultAgentSigner } from "../../src/signers/ethers-signer.js";
import { TRANSFER_WITH_AUTHORIZATION_FIELDS, USDC_DOMAIN } from "../helpers/eip3009.js";

import { startVaultWithAgent } from "../helpers/vault.js";

const RECIPIENT = "0x1111111111111111111111111111111111111111";

let vault: Vault;
let agent: AgentView;
let signer: VaultAgentSigner;

function tx(overrides: Partial<TransactionRequest> = {}): TransactionRequest {
  return {
    type: 2,
    chainId: 84532,
    to: RECIPIENT,
    value: parseEther("0.001"),
    nonce: 1,
    gasLimit: 21000n,
    maxFeePerGas: parseUnits("2", "gwei"),
    maxPriorityFeePerGas: parseUnits("1", "gwei"),
    ...overrides,
  };
}

/** Rejects with a POLICY_DENIED VaultError naming `rule`. */
async function deniedBy(promise: Promise<unknown>, rule: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isVaultError(err), `expected a VaultError, got ${String(err)}`);
    assert.equal(err.code, "POLICY_DENIED");
    assert.equal(err.details.rule, rule);
    return true;
  });
}

before(async () => {
  ({ vault, agent } = await startVaultWithAgent("ethers-signer"));
  signer = new VaultAgentSigner(vault.signing, agent.id, agent.address);
});

after(async () => {
  await vault?.stop();
});

describe("VaultAgentSigner (ethers v6) over the threshold seam", () => {
  it("reports the agent's address and keeps it on connect", async () => {
    assert.equal(await signer.getAddress(), agent.address);
    assert.equal(await signer.connect(null).getAddress(), agent.address);
  });

  it("signMessage (EIP-191) recovers to the agent, for text and for bytes", async () => {
    const text = "agent-vault says hello";
    assert.equal(verifyMessage(text, await signer.signMessage(text)), agent.address);
    const bytes = new Uint8Array([0, 1, 2, 0xff]);
    assert.equal(verifyMessage(bytes, await signer.signMessage(bytes)), agent.address);
  });

  it("signTypedData (EIP-712) of a Mail struct recovers to the agent", async () => {
    const domain = {
      name: "Ether Mail",
      version: "1",
      chainId: 84532,
      verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    };
    const types = {
      Person: [
        { name: "name", type: "string" },
        { name: "wallet", type: "address" },
      ],
      Mail: [
        { name: "from", type: "Person" },
        { name: "to", type: "Person" },
        { name: "contents", type: "string" },
      ],
    };
    const mail = {
      from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
      to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
      contents: "Hello, Bob!",
    };
    const sig = await signer.signTypedData(domain, types, mail);
    assert.equal(verifyTypedData(domain, types, mail, sig), agent.address);
  });

  it("signTypedData of an EIP-3009 USDC TransferWithAuthorization within cap recovers to the agent", async () => {
    const domain = USDC_DOMAIN;
    const types = { TransferWithAuthorization: TRANSFER_WITH_AUTHORIZATION_FIELDS };
    const auth = {
      from: agent.address,
      to: RECIPIENT,
      value: parseUnits("1.5", 6), // bigint: the signer makes it JSON-safe for the intent
      validAfter: 0n,
      validBefore: 4_102_444_800n,
      nonce: hexlify(randomBytes(32)),
    };
    const sig = await signer.signTypedData(domain, types, auth);
    assert.equal(verifyTypedData(domain, types, auth, sig), agent.address);
  });

  it("signTransaction (EIP-1559, chain 84532, 0.001 ETH) serialises a transaction from the agent", async () => {
    const raw = await signer.signTransaction(tx());
    const parsed = Transaction.from(raw);
    assert.equal(parsed.type, 2);
    assert.equal(parsed.chainId, 84532n);
    assert.equal(parsed.to, RECIPIENT);
    assert.equal(parsed.value, parseEther("0.001"));
    assert.equal(parsed.from, agent.address);
    assert.ok(parsed.signature?.isValid(), "low-s signature");
  });

  it("signTransaction accepts `from` when it is the agent and refuses another `from`", async () => {
    const raw = await signer.signTransaction(tx({ from: agent.address, nonce: 2 }));
    assert.equal(Transaction.from(raw).from, agent.address);
    await assert.rejects(
      signer.signTransaction(tx({ from: RECIPIENT, nonce: 3 })),
      /from mismatch/,
    );
  });

  it("refuses an over-cap transaction (0.02 ETH) with POLICY_DENIED maxPerTx, and signs nothing", async () => {
    const before = await vault.store.lastSeq(agent.id);
    await deniedBy(signer.signTransaction(tx({ value: parseEther("0.02"), nonce: 4 })), "maxPerTx");
    assert.equal(await vault.store.lastSeq(agent.id), before, "no signing sequence was used");
  });

  it("refuses a transaction on chain 1 (not in the policy) with POLICY_DENIED chains", async () => {
    const before = await vault.store.lastSeq(agent.id);
    await deniedBy(signer.signTransaction(tx({ chainId: 1, nonce: 5 })), "chains");
    assert.equal(await vault.store.lastSeq(agent.id), before, "no signing sequence was used");
  });

  it("refuses what the seam's intent cannot carry: legacy type, missing fees, access lists", async () => {
    await assert.rejects(
      signer.signTransaction({ ...tx(), type: 0, gasPrice: 1n }),
      (err: unknown) => isVaultError(err) && err.code === "MALFORMED_TRANSACTION",
    );
    await assert.rejects(
      signer.signTransaction(tx({ maxFeePerGas: undefined })),
      (err: unknown) => isVaultError(err) && err.details.field === "tx.maxFeePerGas",
    );
    await assert.rejects(
      signer.signTransaction(
        tx({ accessList: [{ address: RECIPIENT, storageKeys: [hexlify(new Uint8Array(32))] }] }),
      ),
      (err: unknown) => isVaultError(err) && err.details.field === "tx.accessList",
    );
  });
});
