/**
 * x402 subcommands:
 *   x402 fetch <url> --agent <id> [--method M] [--data JSON] [--wait SECONDS]
 *       GET (or M) the URL; on 402, have the vault sign a payment for the agent (within its
 *       policy), retry with PAYMENT-SIGNATURE, print the body and the settlement. A payment
 *       above the policy's approvalAbove waits (default 300 s) for an operator's approval.
 *   facilitator --rpc <url> [--port P] [--host H]
 *       run a local x402 facilitator (/verify, /settle, /supported) against one EVM chain;
 *       its settlement wallet comes from FACILITATOR_KEY or FACILITATOR_KEY_FILE.
 */
import { parseArgs } from "node:util";
import { decodePaymentResponseHeader } from "@x402/core/http";
import { PAYMENT_REQUIRED, PAYMENT_RESPONSE, PAYMENT_SIGNATURE } from "../auth/x402/headers.js";
import { loadClientConfig, loadFacilitatorConfig } from "../config/index.js";
import { startFacilitator } from "../x402/facilitator.js";

async function request(url: string, method: string, data: string | undefined, extra = {}) {
  return fetch(url, {
    method,
    headers: { ...(data ? { "content-type": "application/json" } : {}), ...extra },
    body: data,
  });
}

async function bodyOf(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Signed = { paymentSignature?: string; accepted?: unknown; approvalId?: string };

/** Polls the collection route until the parked payment is approved (200) or decided. */
async function awaitApproval(
  url: string,
  token: string,
  waitMs: number,
): Promise<[number, Signed]> {
  const until = Date.now() + waitMs;
  for (;;) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const body = (await bodyOf(res)) as Signed;
    if (res.status !== 202 || Date.now() >= until) return [res.status, body];
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function x402Command(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      agent: { type: "string" },
      method: { type: "string", default: "GET" },
      data: { type: "string" },
      wait: { type: "string", default: "300" },
    },
  });
  const url = positionals[1];
  if (positionals[0] !== "fetch" || !url || !values.agent || !/^\d{1,6}$/.test(values.wait))
    throw new Error(
      "usage: x402 fetch <url> --agent <id> [--method M] [--data JSON] [--wait SECONDS]",
    );
  const env = loadClientConfig();
  const token = env.apiKey ?? env.adminKey;
  if (!token) throw new Error("set VAULT_API_KEY (EXECUTE and SPEND) or VAULT_ADMIN_KEY");
  const method = (values.method as string).toUpperCase();
  const first = await request(url, method, values.data);
  if (first.status !== 402) {
    console.log(JSON.stringify({ status: first.status, body: await bodyOf(first) }, null, 2));
    return first.ok ? 0 : 1;
  }
  const required = first.headers.get(PAYMENT_REQUIRED);
  if (!required) throw new Error("402 without a PAYMENT-REQUIRED header (not x402 v2)");
  console.error("402: asking the vault to sign a payment…");
  const pay = await fetch(`${env.url}/v1/agents/${encodeURIComponent(values.agent)}/x402/pay`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ paymentRequired: required }),
  });
  let status = pay.status;
  let signed = (await bodyOf(pay)) as Signed;
  if (status === 202 && signed.approvalId) {
    console.error(`above approvalAbove: waiting for an operator to approve ${signed.approvalId}…`);
    [status, signed] = await awaitApproval(
      `${env.url}/v1/agents/${encodeURIComponent(values.agent)}/x402/pay/${signed.approvalId}`,
      token,
      Number(values.wait) * 1000,
    );
  }
  if (status !== 200 || !signed.paymentSignature) {
    console.log(JSON.stringify({ status, vault: signed }, null, 2));
    return 1;
  }
  console.error("paying and retrying…");
  const paid = await request(url, method, values.data, {
    [PAYMENT_SIGNATURE]: signed.paymentSignature,
  });
  const response = paid.headers.get(PAYMENT_RESPONSE);
  let settlement: unknown;
  try {
    settlement = response ? decodePaymentResponseHeader(response) : undefined;
  } catch {
    settlement = "undecodable PAYMENT-RESPONSE";
  }
  console.log(
    JSON.stringify(
      { status: paid.status, paid: signed.accepted, settlement, body: await bodyOf(paid) },
      null,
      2,
    ),
  );
  return paid.ok ? 0 : 1;
}

export async function facilitatorCommand(args: string[]): Promise<undefined> {
  const { values } = parseArgs({
    args,
    options: {
      rpc: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
    },
  });
  if (!values.rpc) throw new Error("facilitator needs --rpc <url>");
  const { privateKey } = loadFacilitatorConfig();
  const f = await startFacilitator({
    rpcUrl: values.rpc,
    privateKey,
    host: values.host as string,
    port: Number(values.port),
  });
  console.log(`facilitator listening on ${f.url} (${f.network}, gas wallet ${f.address})`);
  const stop = () => void f.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return undefined;
}
