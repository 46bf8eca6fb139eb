/**
 * Client subcommands: talk to a running vault over HTTP (VAULT_URL) with the admin key
 * or an agent's API key, and print the JSON answer.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadClientConfig as clientEnv } from "../config/index.js";

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  if (!token) throw new Error("set VAULT_ADMIN_KEY or VAULT_API_KEY");
  const { url } = clientEnv();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  console.log(text);
  return res.ok ? 0 : 1;
}

export async function agentCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { policy: { type: "string" } },
  });
  const env = clientEnv();
  if (positionals[0] === "list") return call("GET", "/v1/agents", env.adminKey ?? env.apiKey);
  if (positionals[0] === "create" && positionals[1]) {
    console.error("generating the agent's key across the signer nodes…");
    const policy = values.policy ? JSON.parse(readFileSync(values.policy, "utf8")) : undefined;
    return call("POST", "/v1/agents", env.adminKey, {
      name: positionals[1],
      ...(policy ? { policy } : {}),
    });
  }
  throw new Error("usage: agent create <name> [--policy=file.json] | agent list");
}

export async function keyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { scopes: { type: "string" } },
  });
  const env = clientEnv();
  if (positionals[0] === "create" && positionals[1] && values.scopes) {
    return call("POST", `/v1/agents/${positionals[1]}/keys`, env.adminKey ?? env.apiKey, {
      scopes: values.scopes.split(","),
    });
  }
  if (positionals[0] === "revoke" && positionals[1])
    return call("DELETE", `/v1/keys/${positionals[1]}`, env.adminKey ?? env.apiKey);
  throw new Error("usage: key create <agentId> --scopes=READ,EXECUTE | key revoke <keyId>");
}

export async function signCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      message: { type: "string" },
      "typed-data": { type: "string" },
      tx: { type: "string" },
    },
  });
  const agentId = positionals[0];
  if (!agentId)
    throw new Error(
      "usage: sign <agentId> --message=TEXT | --typed-data=file.json | --tx=file.json",
    );
  const env = clientEnv();
  const token = env.apiKey ?? env.adminKey;
  if (values.message !== undefined)
    return call("POST", `/v1/agents/${agentId}/sign/message`, token, { message: values.message });
  if (values["typed-data"]) {
    return call(
      "POST",
      `/v1/agents/${agentId}/sign/typed-data`,
      token,
      JSON.parse(readFileSync(values["typed-data"], "utf8")),
    );
  }
  if (values.tx)
    return call("POST", `/v1/agents/${agentId}/sign/transaction`, token, {
      tx: JSON.parse(readFileSync(values.tx, "utf8")),
    });
  throw new Error("sign needs --message, --typed-data or --tx");
}
