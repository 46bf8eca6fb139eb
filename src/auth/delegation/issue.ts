/**
 * The links this vault signs (UCAN 1.0 delegations):
 *  - a root: the agent's authority, narrowed, to another DID (iss = sub = the agent's
 *    delegation did:key);
 *  - an operator link: the operator's did:key grants, for whatever subject reaches it
 *    through a chain (a "powerline" delegation, sub = null, ucan-wg/delegation §4.3), a
 *    trust anchor's statement of what a member may grant, or a member's grant to one of
 *    its agents (README "Cross-operator trust").
 * The UCAN `cmd` is the longest whole-segment prefix of the commands asked for;
 * `meta.vault` lists them exactly, with the caps and lists (constraints.ts). `pol` is
 * empty: the vault's terms are in `meta.vault`.
 */
import { VaultError } from "../../errors/index.js";
import {
  DELEGATION_COMMANDS,
  type LinkTerms,
  parseLinkTerms,
  parseTerms,
  TermsError,
  type VaultTerms,
} from "./constraints.js";
import { Delegation, type EdDSASigner, nowSeconds } from "./ucan.js";

export const MAX_DELEGATION_TTL_MS = 366 * 24 * 3600 * 1000;

export interface LinkRequest {
  audience: string;
  commands: string[];
  caps: Record<string, { maxPerTx: string; maxPer24h: string }>;
  recipients?: string[];
  chains?: number[];
  task?: string;
  /** Require an AP2 mandate from this issuer on every payment through the chain. */
  mandateIssuer?: string;
  expiresAt: string;
  notBefore?: string;
}

export interface RootRequest extends LinkRequest {
  agentId: string;
}

function invalid(field: string, message: string): never {
  throw new VaultError("VALIDATION_FAILED", message, { field });
}

/** The longest common prefix of the commands, by whole path segments. */
export function commonCommand(commands: string[]): string {
  const split = commands.map((c) => c.split("/").slice(1));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length && split.every((s) => s[n] === first[n])) n++;
  return n === 0 ? "/" : `/${first.slice(0, n).join("/")}`;
}

function timeOf(field: string, iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) invalid(field, `${field} must be an ISO-8601 instant`);
  return ms;
}

function termsOf(req: RootRequest): VaultTerms;
function termsOf(req: LinkRequest): LinkTerms;
function termsOf(req: LinkRequest & { agentId?: string }): LinkTerms {
  for (const c of req.commands) {
    if (!(DELEGATION_COMMANDS as readonly string[]).includes(c))
      invalid("commands", `unknown command ${String(c).slice(0, 40)}`);
  }
  try {
    const parse = req.agentId === undefined ? parseLinkTerms : parseTerms;
    return parse({
      ...(req.agentId !== undefined ? { agent: req.agentId } : {}),
      commands: req.commands,
      caps: req.caps,
      ...(req.recipients ? { recipients: req.recipients } : {}),
      ...(req.chains ? { chains: req.chains } : {}),
      ...(req.task !== undefined ? { task: req.task } : {}),
      ...(req.mandateIssuer !== undefined ? { mandateIssuer: req.mandateIssuer } : {}),
    });
  } catch (err) {
    if (err instanceof TermsError) invalid("terms", err.message);
    throw err;
  }
}

export function issueRoot(
  signer: EdDSASigner,
  req: RootRequest,
  nowMs: number,
  status?: Record<string, string>,
) {
  return signLink(signer, req, termsOf(req), signer.did, nowMs, status ? { status } : {});
}

/** An operator link (powerline: sub = null); `meta` adds e.g. {federation: {member}}. */
export function issueOperatorLink(
  signer: EdDSASigner,
  req: LinkRequest,
  nowMs: number,
  meta: Record<string, unknown> = {},
) {
  return signLink(signer, req, termsOf(req), null, nowMs, meta);
}

async function signLink<T extends LinkTerms>(
  signer: EdDSASigner,
  req: LinkRequest,
  terms: T,
  sub: string | null,
  nowMs: number,
  meta: Record<string, unknown>,
) {
  if (!/^did:(key|pkh):[\x21-\x7e]{1,200}$/.test(req.audience))
    invalid("audience", "audience must be a did:key or did:pkh DID");
  const exp = timeOf("expiresAt", req.expiresAt) as number;
  const nbf = timeOf("notBefore", req.notBefore);
  if (exp <= nowMs || exp > nowMs + MAX_DELEGATION_TTL_MS)
    invalid("expiresAt", "expiresAt must be in the future and within 366 days");
  if (nbf !== undefined && nbf >= exp) invalid("notBefore", "notBefore must come before expiresAt");
  let d: Delegation;
  try {
    d = await Delegation.create({
      iss: signer,
      aud: req.audience,
      sub,
      cmd: commonCommand(terms.commands),
      pol: [],
      exp: nowSeconds(exp),
      ...(nbf !== undefined ? { nbf: nowSeconds(nbf) } : {}),
      meta: { vault: terms, ...meta },
    } as unknown as Parameters<typeof Delegation.create>[0]);
  } catch (err) {
    // iso-ucan refuses a DID it cannot parse: the audience is the only client-chosen DID.
    invalid(
      "audience",
      `the delegation cannot be made: ${String((err as Error).message).slice(0, 80)}`,
    );
  }
  return { delegation: d.toString(), cid: d.cid.toString(), terms, expiresMs: exp };
}
