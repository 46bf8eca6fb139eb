/**
 * Lit's PKPEthersWallet (@lit-protocol/pkp-ethers 7.4.0, ethers v5 inside) runs
 * unchanged on the local 2-of-3 cluster through the pkpSign adapter, and the
 * adapter honours Lit's SigResponse contract while refusing any digest it is
 * not told the meaning of.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  getBytes,
  hashMessage,
  hexlify,
  parseEther,
  parseUnits,
  recoverAddress,
  Signature,
  SigningKey,
  Transaction,
  toBeHex,
  toUtf8Bytes,
  verifyMessage,
  verifyTypedData,
} from "ethers";
import { isVaultError } from "../../../src/errors/index.js";
import type { SignIntent, TxRequest } from "../../../src/policy/types.js";
import type { AgentView } from "../../../src/services/agents.js";
import type { Vault } from "../../../src/services/vault.js";
import { createLocalPkpClient, type LocalPkpClient } from "../../../src/signers/lit/pkp-adapter.js";
import type { DigestSigningSeam } from "../../../src/signers/types.js";

import { startVaultWithAgent } from "../../helpers/vault.js";

const RECIPIENT = "0x2222222222222222222222222222222222222222";
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const BASE_FEE = parseUnits("1", "gwei");

let vault: Vault;
let agent: AgentView;
let client: LocalPkpClient;
let rpc: { server: Server; url: string; calls: string[] };
// The dynamically imported wallet class (typed from its own declarations).
let wallet: InstanceType<typeof import("@lit-protocol/pkp-ethers").PKPEthersWallet>;

/** A loopback JSON-RPC node for Base Sepolia (84532) that answers what the wallet asks. */
function startRpc(): Promise<typeof rpc> {
  const calls: string[] = [];
  const block = {
    number: "0x10",
    hash: `0x${"ab".repeat(32)}`,
    parentHash: `0x${"cd".repeat(32)}`,
    nonce: "0x0000000000000000",
    timestamp: "0x65000000",
    difficulty: "0x0",
    gasLimit: "0x1c9c380",
    gasUsed: "0x0",
    miner: "0x0000000000000000000000000000000000000000",
    extraData: "0x",
    baseFeePerGas: toBeHex(BASE_FEE),
    transactions: [],
  };
  const answers: Record<string, unknown> = {
    eth_chainId: "0x14a34",
    net_version: "84532",
    eth_getTransactionCount: "0x7",
    eth_estimateGas: "0x5208",
    eth_gasPrice: toBeHex(parseUnits("2", "gwei")),
    eth_maxPriorityFeePerGas: toBeHex(parseUnits("1", "gwei")),
    eth_feeHistory: {
      oldestBlock: "0x10",
      baseFeePerGas: [toBeHex(BASE_FEE), toBeHex(BASE_FEE)],
      gasUsedRatio: [0.5],
      reward: [[toBeHex(parseUnits("1", "gwei"))]],
    },
    eth_getBlockByNumber: block,
    eth_blockNumber: "0x10",
  };
  type Call = { id: unknown; method: string };
  const answer = ({ id, method }: Call) => {
    calls.push(method);
    return Object.hasOwn(answers, method)
      ? { jsonrpc: "2.0", id, result: answers[method] }
      : { jsonrpc: "2.0", id, error: { code: -32601, message: `method ${method} not found` } };
  };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on("end", () => {
      const msg = JSON.parse(body) as Call | Call[];
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(Array.isArray(msg) ? msg.map(answer) : answer(msg)));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}`, calls });
    }),
  );
}

/** The uncompressed 0x04… key, the form Lit PKP public keys usually take. */
const uncompressed = (pubKey: string) => SigningKey.computePublicKey(pubKey, false);

const messageIntent = (text: string): SignIntent => ({
  kind: "message",
  message: hexlify(toUtf8Bytes(text)),
});

function assertRefused(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(isVaultError(err), `expected a VaultError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  };
}

before(async () => {
  rpc = await startRpc();
  ({ vault, agent } = await startVaultWithAgent("lit-pkp"));
  client = createLocalPkpClient(vault.signing, (pubKey) =>
    pubKey === agent.publicKey.toLowerCase() ? agent.id : undefined,
  );
  const { PKPEthersWallet } = await import("@lit-protocol/pkp-ethers");
  wallet = new PKPEthersWallet({
    pkpPubKey: uncompressed(agent.publicKey),
    // The adapter covers what PKPBase / PKPEthersWallet use of a LitNodeClient.
    litNodeClient: client as never,
    controllerSessionSigs: {},
    rpc: rpc.url,
  });
  await wallet.init();
});

after(async () => {
  await vault?.stop();
  rpc?.server.close();
});

describe("PKPEthersWallet over the local cluster (pkpSign adapter)", () => {
  it("has the agent's address and connected through the adapter", async () => {
    assert.equal(await wallet.getAddress(), agent.address);
    assert.equal(client.ready, true, "PKPBase.init() called connect()");
  });

  it("wallet.signMessage inside withIntent recovers to the agent", async () => {
    const text = "signed by a PKP wallet on the local cluster";
    const sig = await client.withIntent(messageIntent(text), () => wallet.signMessage(text));
    assert.equal(verifyMessage(text, sig), agent.address);
  });

  it("wallet._signTypedData (EIP-712 Mail) inside withIntent recovers to the agent", async () => {
    const domain = { name: "Ether Mail", version: "1", chainId: 84532 };
    const types = {
      Mail: [
        { name: "to", type: "address" },
        { name: "contents", type: "string" },
      ],
    };
    const mail = { to: RECIPIENT, contents: "hello from Lit's wallet" };
    const intent: SignIntent = {
      kind: "typed-data",
      domain,
      types,
      primaryType: "Mail",
      message: mail,
    };
    const sig = await client.withIntent(intent, () => wallet._signTypedData(domain, types, mail));
    assert.equal(verifyTypedData(domain, types, mail, sig), agent.address);
  });

  it("wallet.signTransaction (EIP-1559, all fields given) recovers to the agent", async () => {
    const tx: TxRequest = {
      chainId: 84532,
      to: RECIPIENT,
      value: parseEther("0.001").toString(),
      data: "0x",
      nonce: 1,
      gasLimit: 21000,
      maxFeePerGas: parseUnits("2", "gwei").toString(),
      maxPriorityFeePerGas: parseUnits("1", "gwei").toString(),
    };
    const from = rpc.calls.length;
    // The wallet mutates what it is given; nonce 0 would count as missing, so 1.
    const raw = await client.withIntent({ kind: "transaction", tx }, () =>
      wallet.signTransaction({ ...tx, type: 2, chainId: 84532, nonce: 1 }),
    );
    const populating = ["eth_estimateGas", "eth_getTransactionCount", "eth_getBlockByNumber"];
    assert.deepEqual(
      rpc.calls.slice(from).filter((m) => populating.includes(m)),
      [],
      "nothing was fetched for a fully populated transaction",
    );
    const parsed = Transaction.from(raw);
    assert.equal(parsed.type, 2);
    assert.equal(parsed.chainId, 84532n);
    assert.equal(parsed.value, parseEther("0.001"));
    assert.equal(parsed.from, agent.address);
  });

  it("wallet.signTransaction fills nonce, gas and fees from the loopback RPC and still recovers", async (t) => {
    const from = rpc.calls.length;
    // ethers v5 getFeeData: priority fee fixed at 1.5 gwei, max fee = 2 × base fee + priority.
    const priority = parseUnits("1.5", "gwei");
    const tx: TxRequest = {
      chainId: 84532,
      to: RECIPIENT,
      value: parseEther("0.002").toString(),
      data: "0x",
      nonce: 7,
      gasLimit: 21000,
      maxFeePerGas: (2n * BASE_FEE + priority).toString(),
      maxPriorityFeePerGas: priority.toString(),
    };
    const raw = await client.withIntent({ kind: "transaction", tx }, () =>
      wallet.signTransaction({ to: RECIPIENT, value: tx.value, chainId: 84532 }),
    );
    assert.equal(Transaction.from(raw).from, agent.address);
    const called = rpc.calls.slice(from);
    t.diagnostic(`RPC methods called to populate: ${called.join(", ")}`);
    t.diagnostic(`RPC methods called since the wallet was built: ${rpc.calls.join(", ")}`);
    for (const method of ["eth_estimateGas", "eth_getTransactionCount", "eth_getBlockByNumber"]) {
      assert.ok(called.includes(method), `the wallet asked for ${method}`);
    }
  });

  it("wallet.signMessage without an intent is refused and yields no signature", async () => {
    const seq = await vault.store.lastSeq(agent.id);
    // PKPBase logs the error ("err: …") before rethrowing it.
    await assert.rejects(
      wallet.signMessage("no intent given"),
      assertRefused("VALIDATION_FAILED", /pkpSign needs the intent the digest encodes/),
    );
    assert.equal(await vault.store.lastSeq(agent.id), seq);
  });
});

describe("pkpSign adapter contract", () => {
  const text = "raw pkpSign";
  const toSign = () => getBytes(hashMessage(text));

  it("returns Lit's SigResponse: bare-hex r and s, recid 0/1, 0x signature with v 27/28, low s", async () => {
    const res = await client.pkpSign({
      toSign: toSign(),
      pubKey: uncompressed(agent.publicKey).slice(2),
      sessionSigs: {},
      intent: messageIntent(text),
    });
    assert.match(res.r, /^[0-9a-f]{64}$/);
    assert.match(res.s, /^[0-9a-f]{64}$/);
    assert.ok(res.recid === 0 || res.recid === 1);
    assert.match(res.signature, /^0x[0-9a-f]{130}$/);
    const v = Number.parseInt(res.signature.slice(-2), 16);
    assert.ok(v === 27 || v === 28);
    assert.equal(v - 27, res.recid);
    assert.equal(res.signature, `0x${res.r}${res.s}${res.signature.slice(-2)}`);
    assert.ok(BigInt(`0x${res.s}`) <= SECP256K1_N / 2n, "low s (EIP-2)");
    assert.equal(res.dataSigned, hashMessage(text).slice(2));
    assert.equal(`0x${res.publicKey}`, uncompressed(agent.publicKey));
    assert.equal(recoverAddress(hashMessage(text), res.signature), agent.address);
    assert.equal(verifyMessage(text, res.signature), agent.address);
  });

  it("accepts the pubKey compressed, uncompressed, with or without 0x", async () => {
    for (const pubKey of [
      agent.publicKey,
      agent.publicKey.slice(2),
      uncompressed(agent.publicKey),
    ]) {
      const res = await client.pkpSign({ toSign: toSign(), pubKey, intent: messageIntent(text) });
      assert.equal(recoverAddress(hashMessage(text), res.signature), agent.address);
    }
  });

  it("hands out low s even when the seam returns a high-s signature", async () => {
    const highS: DigestSigningSeam = {
      async signDigest(req) {
        const low = (await vault.signing.signDigest(req)).getCanonical();
        const high = Signature.from({
          r: low.r,
          s: toBeHex(SECP256K1_N - BigInt(low.s), 32),
          v: low.v === 27 ? 28 : 27,
        });
        assert.equal(high.isValid(), false, "the seam under test returns a high s");
        return high;
      },
    };
    const flipped = createLocalPkpClient(highS, () => agent.id);
    const res = await flipped.pkpSign({
      toSign: toSign(),
      pubKey: agent.publicKey,
      intent: messageIntent(text),
    });
    assert.ok(BigInt(`0x${res.s}`) <= SECP256K1_N / 2n);
    assert.equal(recoverAddress(hashMessage(text), res.signature), agent.address);
  });

  it("refuses pkpSign without an intent", async () => {
    await assert.rejects(
      client.pkpSign({ toSign: toSign(), pubKey: agent.publicKey, sessionSigs: {} }),
      assertRefused("VALIDATION_FAILED", /pkpSign needs the intent the digest encodes/),
    );
  });

  it("refuses pkpSign whose intent encodes another digest, and signs nothing", async () => {
    const seq = await vault.store.lastSeq(agent.id);
    await assert.rejects(
      client.pkpSign({
        toSign: toSign(),
        pubKey: agent.publicKey,
        intent: messageIntent("something else entirely"),
      }),
      assertRefused("VALIDATION_FAILED", /digest/),
    );
    // The same holds for the withIntent context.
    await assert.rejects(
      client.withIntent(messageIntent("something else entirely"), () =>
        client.pkpSign({ toSign: toSign(), pubKey: agent.publicKey }),
      ),
      assertRefused("VALIDATION_FAILED", /digest/),
    );
    assert.equal(await vault.store.lastSeq(agent.id), seq);
  });

  it("refuses an unknown pubKey and a malformed one", async () => {
    const stranger = SigningKey.computePublicKey(hexlify(new Uint8Array(32).fill(7)), false);
    await assert.rejects(
      client.pkpSign({ toSign: toSign(), pubKey: stranger, intent: messageIntent(text) }),
      assertRefused("KEY_NOT_FOUND"),
    );
    // 32 bytes would be a private key, not a public one.
    await assert.rejects(
      client.pkpSign({
        toSign: toSign(),
        pubKey: `0x${"07".repeat(32)}`,
        intent: messageIntent(text),
      }),
      assertRefused("VALIDATION_FAILED"),
    );
  });

  it("refuses a toSign that is not 32 bytes", async () => {
    await assert.rejects(
      client.pkpSign({
        toSign: new Uint8Array(31),
        pubKey: agent.publicKey,
        intent: messageIntent(text),
      }),
      assertRefused("VALIDATION_FAILED", /toSign/),
    );
  });

  it("loading the adapter loads no @lit-protocol package", () => {
    const code = [
      "import { createRequire } from 'node:module';",
      "const cache = createRequire(process.cwd() + '/').cache;",
      "const lit = () => Object.keys(cache).filter((k) => k.includes('@lit-protocol')).length;",
      "await import('./src/signers/lit/pkp-adapter.ts');",
      "const afterAdapter = lit();",
      "await import('@lit-protocol/types');",
      "console.log(JSON.stringify({ afterAdapter, afterLitTypes: lit() }));",
    ].join("\n");
    const out = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "--eval", code],
      {
        encoding: "utf8",
      },
    );
    assert.equal(out.status, 0, out.stderr);
    const counts = JSON.parse(out.stdout.trim().split("\n").at(-1) as string);
    assert.equal(counts.afterAdapter, 0);
    assert.ok(counts.afterLitTypes > 0, "the probe does see @lit-protocol modules once loaded");
  });
});
