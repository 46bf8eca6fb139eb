/**
 * A local x402 facilitator: POST /verify, POST /settle, GET /supported over the reference
 * @x402/core facilitator with the @x402/evm "exact" scheme (EIP-3009 and Permit2), settling
 * on one EVM JSON-RPC chain with one gas wallet. Meant for development, tests and demos
 * (`FACILITATOR_KEY=… agent-vault facilitator --rpc <url>`); a hosted facilitator does the same.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { x402Facilitator } from "@x402/core/facilitator";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import { createPublicClient, createWalletClient, defineChain, http, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";

export interface FacilitatorOptions {
  rpcUrl: string;
  /** 0x-hex private key of the wallet that pays gas for settlements. */
  privateKey: string;
  host?: string;
  port?: number;
  /** Bound on waiting for a settlement receipt, ms. */
  confirmationTimeoutMs?: number;
}

export interface RunningFacilitator {
  url: string;
  address: string;
  network: string;
  server: Server;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new Error("body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  res.writeHead(status, { "content-type": "application/json" }).end(text);
}

export async function startFacilitator(opts: FacilitatorOptions): Promise<RunningFacilitator> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(opts.privateKey))
    throw new Error("the facilitator key must be 0x + 64 hex");
  const probe = createPublicClient({ transport: http(opts.rpcUrl) });
  const chainId = await probe.getChainId();
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [opts.rpcUrl] } },
  });
  const account = privateKeyToAccount(opts.privateKey as `0x${string}`);
  const wallet = createWalletClient({ account, chain, transport: http(opts.rpcUrl) }).extend(
    publicActions,
  );
  const signer = toFacilitatorEvmSigner(
    {
      address: account.address,
      readContract: (a) => wallet.readContract(a as never),
      verifyTypedData: (a) => wallet.verifyTypedData(a as never),
      writeContract: (a) => wallet.writeContract({ ...(a as object), chain, account } as never),
      sendTransaction: (a) => wallet.sendTransaction({ ...a, chain, account }),
      waitForTransactionReceipt: (a) => wallet.waitForTransactionReceipt(a),
      getCode: (a) => wallet.getCode(a),
    },
    { confirmationTimeoutMs: opts.confirmationTimeoutMs ?? 30_000 },
  );
  const network = `eip155:${chainId}`;
  const facilitator = registerExactEvmScheme(new x402Facilitator(), {
    signer,
    networks: network as `${string}:${string}`,
  });

  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === "GET" && req.url === "/supported") {
          return send(res, 200, facilitator.getSupported());
        }
        if (req.method === "POST" && (req.url === "/verify" || req.url === "/settle")) {
          const body = (await readJson(req)) as {
            paymentPayload?: PaymentPayload;
            paymentRequirements?: PaymentRequirements;
          };
          if (!body?.paymentPayload || !body.paymentRequirements) {
            return send(res, 400, { error: "paymentPayload and paymentRequirements are required" });
          }
          const result =
            req.url === "/verify"
              ? await facilitator.verify(body.paymentPayload, body.paymentRequirements)
              : await facilitator.settle(body.paymentPayload, body.paymentRequirements);
          return send(res, 200, result);
        }
        return send(res, 404, { error: "not found" });
      } catch (err) {
        // The reference facilitator throws VerifyError/SettleError with a reason on refusals.
        const e = err as { invalidReason?: string; errorReason?: string; message?: string };
        if (req.url === "/verify") {
          return send(res, 200, {
            isValid: false,
            invalidReason: e.invalidReason ?? "unexpected_verify_error",
            invalidMessage: String(e.message ?? "").slice(0, 200),
          });
        }
        if (req.url === "/settle") {
          return send(res, 200, {
            success: false,
            errorReason: e.errorReason ?? e.invalidReason ?? "unexpected_settle_error",
            errorMessage: String(e.message ?? "").slice(0, 200),
            transaction: "",
            network,
          });
        }
        return send(res, 400, { error: String(e.message ?? "bad request").slice(0, 200) });
      }
    })();
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, host, resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://${host}:${port}`,
    address: account.address,
    network,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
