/**
 * Delegation subcommands (README "Delegation chains"):
 *   delegation inspect <chain>        the chain in words (root first)
 *   delegation create --from <chain> --key <did file> --to <did> [--commands a,b]
 *        [--caps ETH=0.001/0.002,…] [--recipients 0x…,…] [--chains 84532,…] [--task T]
 *        [--ttl S]                    a further, narrower link; prints the new chain
 *   delegation invoke --chain <chain> --key <did file> --path /v1/agents/…/sign/message
 *        [--method POST] [--body-file f.json]   the UCAN-Invocation header for one request
 * A <chain> argument may also be @file. Keys are did:key files from `agent-vault did create`.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  describeChain,
  invocationFor,
  redelegate,
  signerFromJwk,
} from "../auth/delegation/client.js";
import { commandOfRoute, ROUTE_COMMANDS } from "../auth/delegation/constraints.js";
import type { DidKeyFile } from "../auth/vc/toolkit.js";

/** --commands takes the last segment of a route ("message", "pay") or a full command. */
const commandOf = (name: string) =>
  Object.entries(ROUTE_COMMANDS).find(([route]) => route.split("/").pop() === name)?.[1] ?? name;

const chainArg = (v: string) => (v.startsWith("@") ? readFileSync(v.slice(1), "utf8").trim() : v);
const holderOf = (file: string) =>
  signerFromJwk(
    (JSON.parse(readFileSync(file, "utf8")) as DidKeyFile).privateKeyJwk as {
      d: string;
      x: string;
    },
  );
const list = (v: string | undefined) => (v ? v.split(",").map((s) => s.trim()) : undefined);

function caps(raw: string | undefined) {
  if (!raw) return undefined;
  return Object.fromEntries(
    raw.split(",").map((pair) => {
      const m = /^([^=]+)=([0-9.]+)\/([0-9.]+)$/.exec(pair.trim());
      if (!m) throw new Error(`--caps takes ASSET=PER_TX/PER_24H pairs ("${pair}")`);
      return [m[1] as string, { maxPerTx: m[2] as string, maxPer24h: m[3] as string }];
    }),
  );
}

/** The terms of a new link: only what is given narrows; the rest is inherited. */
function termsFrom(values: Record<string, string | undefined>, agent: string | undefined) {
  const given = ["commands", "caps", "recipients", "chains", "task"].some((k) => values[k]);
  if (!given) return undefined;
  if (!agent) throw new Error("the chain's root names no agent");
  const commands = list(values.commands)?.map(commandOf);
  return {
    agent,
    commands: commands ?? [],
    ...(values.caps ? { caps: caps(values.caps) } : {}),
    ...(values.recipients ? { recipients: list(values.recipients) } : {}),
    ...(values.chains ? { chains: list(values.chains)?.map(Number) } : {}),
    ...(values.task ? { task: values.task } : {}),
  };
}

export async function delegationCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      from: { type: "string" },
      chain: { type: "string" },
      key: { type: "string" },
      to: { type: "string" },
      commands: { type: "string" },
      caps: { type: "string" },
      recipients: { type: "string" },
      chains: { type: "string" },
      task: { type: "string" },
      ttl: { type: "string", default: "3600" },
      path: { type: "string" },
      method: { type: "string", default: "POST" },
      "body-file": { type: "string" },
    },
  });
  const [sub, arg] = positionals;
  if (sub === "inspect" && arg) {
    console.log(await describeChain(chainArg(arg)));
    return 0;
  }
  if (sub === "create" && values.from && values.key && values.to) {
    const chain = chainArg(values.from);
    const { readChain } = await import("../auth/delegation/client.js");
    const root = (await readChain(chain))[0];
    const rootTerms = (root?.meta as { vault?: { agent?: string } } | undefined)?.vault;
    const terms = termsFrom(values, rootTerms?.agent);
    const ttl = Number(values.ttl);
    if (!Number.isInteger(ttl) || ttl < 1) throw new Error("--ttl is in whole seconds");
    const out = await redelegate({
      chain,
      holder: await holderOf(values.key),
      audience: values.to,
      ...(terms ? { terms } : {}),
      expiresAt: new Date(Date.now() + ttl * 1000),
    });
    console.log(out);
    return 0;
  }
  if (sub === "invoke" && values.chain && values.key && values.path) {
    const command = commandOfRoute(values.path);
    if (!command) throw new Error("--path must be a signing or paying route of an agent");
    const body = values["body-file"] ? readFileSync(values["body-file"], "utf8") : "";
    console.log(
      await invocationFor({
        chain: chainArg(values.chain),
        holder: await holderOf(values.key),
        method: values.method as string,
        path: values.path,
        body,
        command,
        ...(values.task ? { task: values.task } : {}),
      }),
    );
    return 0;
  }
  throw new Error(
    "usage: delegation inspect <chain> | delegation create --from <chain> --key <did file> --to <did> [...] | delegation invoke --chain <chain> --key <did file> --path <route> [--body-file f]",
  );
}
