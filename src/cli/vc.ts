/**
 * DID and credential subcommands (src/auth/vc/toolkit.ts), so the VC door can be used
 * from a shell:
 *   did create --out <file>            a did:key (Ed25519) in a 0600 JSON file; prints the DID
 *   vc issue --issuer <file> --subject <did> --agent <id> --capabilities read,execute
 *            [--operator local] [--spend-limit ETH=0.005,…] [--human <who>] [--ttl <s>]
 *                                      an AgentAuthorization JWT VC, on stdout
 *   vc present --holder <file> --credential <file> [--credential …] [--audience <aud>]
 *                                      fetches a challenge from VAULT_URL; prints the JWT VP
 *                                      to send as X-Agent-Presentation
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  createDidKey,
  type DidKeyFile,
  didKeySigner,
  issueAgentAuthorization,
  presentCredentials,
} from "../auth/vc/toolkit.js";
import { loadClientConfig } from "../config/index.js";

const keyFile = (path: string) =>
  didKeySigner(JSON.parse(readFileSync(path, "utf8")) as DidKeyFile);

export async function didCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: "string" } },
  });
  if (positionals[0] !== "create" || !values.out) throw new Error("usage: did create --out <file>");
  const file = createDidKey();
  writeFileSync(values.out, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  console.log(file.did);
  return 0;
}

function spendLimit(raw: string | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  return Object.fromEntries(
    raw.split(",").map((pair) => {
      const [asset, amount] = pair.split("=");
      if (!asset || !amount || !/^\d+(\.\d+)?$/.test(amount))
        throw new Error(`--spend-limit takes ASSET=AMOUNT pairs ("${pair}")`);
      return [asset, amount];
    }),
  );
}

async function issue(values: Record<string, string | string[] | undefined>): Promise<number> {
  const { issuer, subject, agent, capabilities } = values as Record<string, string | undefined>;
  if (!issuer || !subject || !agent || !capabilities)
    throw new Error("vc issue needs --issuer, --subject, --agent and --capabilities");
  const raw = values["spend-limit"];
  const limit = spendLimit(typeof raw === "string" ? raw : undefined); // a string option
  const ttl = Number(values.ttl ?? 86_400);
  if (!Number.isInteger(ttl) || ttl < 1) throw new Error("--ttl is in whole seconds");
  const vc = await issueAgentAuthorization(
    keyFile(issuer),
    subject,
    {
      agentId: agent,
      operator: (values.operator as string | undefined) ?? "local",
      capabilities: capabilities.split(","),
      ...(limit ? { spendLimit: limit } : {}),
      ...(values.human ? { humanPrincipal: values.human as string } : {}),
    },
    { exp: Math.floor(Date.now() / 1000) + ttl },
  );
  console.log(vc);
  return 0;
}

async function present(values: Record<string, string | string[] | undefined>): Promise<number> {
  const creds = (values.credential as string[] | undefined) ?? [];
  if (!values.holder || creds.length === 0)
    throw new Error("vc present needs --holder and at least one --credential");
  const base = loadClientConfig().url;
  if (/^http:/.test(base) && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(base))
    console.error(
      "warning: VAULT_URL is plain http; a presentation can be relayed by whoever answers",
    );
  const res = await fetch(`${base}/v1/auth/challenge`);
  if (!res.ok) throw new Error(`the vault refused a challenge (${res.status})`);
  const { challenge, audience } = (await res.json()) as { challenge: string; audience: string };
  // Pinning the audience stops a server that is not the intended vault from having a
  // presentation made out to another vault's audience.
  if (values.audience && values.audience !== audience)
    throw new Error(`the server's audience is ${audience}, not ${values.audience}`);
  const vcs = creds.map((f) => readFileSync(f, "utf8").trim());
  console.log(await presentCredentials(keyFile(values.holder as string), vcs, challenge, audience));
  return 0;
}

export async function vcCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      issuer: { type: "string" },
      subject: { type: "string" },
      agent: { type: "string" },
      capabilities: { type: "string" },
      operator: { type: "string" },
      "spend-limit": { type: "string" },
      human: { type: "string" },
      ttl: { type: "string" },
      holder: { type: "string" },
      credential: { type: "string", multiple: true },
      audience: { type: "string" },
    },
  });
  if (positionals[0] === "issue") return issue(values);
  if (positionals[0] === "present") return present(values);
  throw new Error("usage: vc issue … | vc present … (see agent-vault help)");
}
