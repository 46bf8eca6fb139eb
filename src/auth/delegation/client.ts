/**
 * The holder's side of delegation chains, for the CLI and for agents written in
 * TypeScript (README "Delegation chains"): re-delegate what you hold, narrowed; sign the
 * invocation for one request; describe a chain in words. All envelopes are iso-ucan's.
 */
import { createHash, randomBytes } from "node:crypto";
import { EdDSASigner } from "iso-signatures/signers/eddsa.js";
import { encode as encodeEnvelope, sign as signEnvelope } from "iso-ucan/envelope";
import { Delegation, nowSeconds } from "./ucan.js";

export const signerFromJwk = (jwk: { d: string; x: string }) => EdDSASigner.importJwk(jwk);

/** Decodes the links of a chain ("<root>,<link>,…"), without verifying them. */
export function readChain(chain: string): Promise<Delegation[]> {
  return Promise.all(chain.split(",").map((t) => Delegation.fromString(t.trim(), { now: 0 })));
}

/** A further link from the holder of the chain's last link to `audience`; returns the new chain. */
export async function redelegate(opts: {
  chain: string;
  holder: EdDSASigner;
  audience: string;
  terms?: Record<string, unknown>;
  cmd?: string;
  expiresAt: Date;
}): Promise<string> {
  const links = await readChain(opts.chain);
  const last = links[links.length - 1];
  if (!last) throw new Error("the chain is empty");
  if (last.aud !== opts.holder.did)
    throw new Error(`this chain is held by ${last.aud}, not by your key`);
  const d = await Delegation.create({
    iss: opts.holder,
    aud: opts.audience,
    sub: last.sub,
    cmd: opts.cmd ?? last.cmd,
    pol: [],
    exp: nowSeconds(opts.expiresAt.getTime()),
    ...(opts.terms ? { meta: { vault: opts.terms } } : {}),
  } as unknown as Parameters<typeof Delegation.create>[0]);
  return `${opts.chain},${d.toString()}`;
}

/** The UCAN-Invocation header value for one request, signed by the chain's holder. */
export async function invocationFor(opts: {
  chain: string;
  holder: EdDSASigner;
  method: string;
  path: string;
  body: string;
  command: string;
  task?: string;
  ttlSeconds?: number;
}): Promise<string> {
  const links = await readChain(opts.chain);
  const root = links[0];
  if (!root?.sub) throw new Error("the chain has no root");
  const iat = nowSeconds(Date.now());
  const payload = {
    iss: opts.holder.did,
    aud: root.sub,
    sub: root.sub,
    cmd: opts.command,
    nonce: randomBytes(12),
    iat,
    exp: iat + (opts.ttlSeconds ?? 60),
    args: {
      method: opts.method,
      path: opts.path,
      body: createHash("sha256").update(opts.body).digest("hex"),
      ...(opts.task ? { task: opts.task } : {}),
    },
    prf: links.map((l) => l.cid),
  };
  const signed = await signEnvelope({ spec: "inv", signer: opts.holder, payload } as never);
  return Buffer.from(encodeEnvelope(signed as never)).toString("base64");
}

const when = (s: number | null | undefined) =>
  s === null || s === undefined ? "never" : new Date(s * 1000).toISOString();

/** The chain in words, one paragraph per link (signatures are not checked here). */
export async function describeChain(chain: string): Promise<string> {
  const links = await readChain(chain);
  return links
    .map((d, hop) => {
      const terms = (d.meta as Record<string, unknown> | undefined)?.vault;
      const lines = [
        `link ${hop}${hop === 0 ? " (root)" : ""}: ${d.cid.toString()}`,
        `  ${d.iss} grants ${d.aud}`,
        `  command ${d.cmd} on ${d.sub ?? "any subject"}${d.nbf ? `, from ${when(d.nbf)}` : ""}, until ${when(d.exp)}`,
        terms === undefined
          ? "  terms: those of the link before (no meta.vault)"
          : `  terms: ${JSON.stringify(terms)}`,
      ];
      return lines.join("\n");
    })
    .join("\n");
}
