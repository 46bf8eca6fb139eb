/**
 * What a delegation link lets its holder do at this vault, and the rule that a link may only
 * narrow what the link before it allowed (README "Delegation chains"). Pure and synchronous.
 *
 * UCAN 1.0 (ucan-wg/spec, delegation spec) carries the command in `cmd` and argument
 * predicates in `pol`. A vault budget cannot be written in `pol`: rolling 24 h caps are
 * state, and amounts exceed the 2^53 integers the policy language compares. So each link
 * carries the vault's terms in its `meta` under the key "vault":
 *   { agent, commands, caps?: {asset: {maxPerTx, maxPer24h}}, recipients?, chains?, task? }
 * Amounts are decimal strings in the asset's units, as in agent policies. A field a link
 * omits is inherited from the link before it; a field it states must be no wider.
 *
 * Commands are matched by whole path segments: "/vault/sign" covers "/vault/sign/message"
 * but not "/vault/signx" (a plain string prefix would).
 */
import { normaliseAddress, normaliseAssetKey } from "../../policy/assets.js";

/** The delegable routes of an agent (/v1/agents/:id/<suffix>) and the command of each. */
export const ROUTE_COMMANDS = {
  "sign/message": "/vault/sign/message",
  "sign/typed-data": "/vault/sign/typed-data",
  "sign/transaction": "/vault/sign/transaction",
  "x402/pay": "/vault/x402/pay",
} as const;
export const DELEGATION_COMMANDS = Object.values(ROUTE_COMMANDS);

/** The command of an agent route path or pattern ("…/agents/<id>/sign/message"), if any. */
export function commandOfRoute(path: string): string | undefined {
  const m = /^\/v1\/agents\/[^/]+\/(.+)$/.exec(path);
  return m ? (ROUTE_COMMANDS as Record<string, string>)[m[1] as string] : undefined;
}

export interface AssetCaps {
  maxPerTx: string;
  maxPer24h: string;
}

export interface VaultTerms {
  /** The agent (at this vault) whose authority the chain carries. */
  agent: string;
  commands: string[];
  /** Present: only these assets may move, within these caps. */
  caps?: Record<string, AssetCaps>;
  recipients?: string[];
  chains?: number[];
  task?: string;
  /**
   * Payments through the chain must carry an AP2 mandate from this issuer (README "Human
   * mandates"): a link may add it, never drop or change it.
   */
  mandateIssuer?: string;
}

/** Why a link was refused: which rule, in words. */
export class TermsError extends Error {
  constructor(
    readonly rule: "malformed" | "widens",
    message: string,
  ) {
    super(message);
  }
}

const DECIMAL = /^(0|[1-9]\d{0,59})(\.\d{1,36})?$/;
const COMMAND = /^\/[a-z0-9-]+(\/[a-z0-9-]+)*$/;
const TASK = /^[\x21-\x7e]{1,128}$/;

/** True when `outer` covers `inner` by whole path segments ("/" covers every command). */
export function commandCovers(outer: string, inner: string): boolean {
  if (outer === "/") return inner.startsWith("/");
  return inner === outer || inner.startsWith(`${outer}/`);
}

/** -1, 0 or 1 as decimal string a is below, equal to or above b (both match DECIMAL). */
export function compareDecimal(a: string, b: string): number {
  const [ai = "0", af = ""] = a.split(".");
  const [bi = "0", bf = ""] = b.split(".");
  const width = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(width, "0"));
  const y = BigInt(bi + bf.padEnd(width, "0"));
  return x < y ? -1 : x > y ? 1 : 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(message: string): never {
  throw new TermsError("malformed", message);
}

function parseCaps(v: unknown): Record<string, AssetCaps> {
  if (!isRecord(v)) bad("caps must be an object of asset → {maxPerTx, maxPer24h}");
  const caps: Record<string, AssetCaps> = {};
  for (const [asset, cap] of Object.entries(v)) {
    const key = normaliseAssetKey(asset);
    if (!key) bad(`caps: ${asset.slice(0, 50)} is not "ETH" or a token address`);
    if (!isRecord(cap)) bad(`caps.${key} must be {maxPerTx, maxPer24h}`);
    const { maxPerTx, maxPer24h, ...rest } = cap;
    if (Object.keys(rest).length > 0) bad(`caps.${key} has unknown fields`);
    for (const [name, amount] of [
      ["maxPerTx", maxPerTx],
      ["maxPer24h", maxPer24h],
    ] as const) {
      if (typeof amount !== "string" || !DECIMAL.test(amount))
        bad(`caps.${key}.${name} must be a decimal string`);
    }
    if (key in caps) bad(`caps names ${key} twice`);
    caps[key] = { maxPerTx: maxPerTx as string, maxPer24h: maxPer24h as string };
  }
  return caps;
}

function parseList<T>(v: unknown, field: string, item: (x: unknown) => T | undefined): T[] {
  if (!Array.isArray(v) || v.length > 256) bad(`${field} must be an array of at most 256`);
  const out = v.map((x) => item(x) ?? bad(`${field} holds an invalid entry`));
  return [...new Set(out)];
}

/** A later link's terms: `agent` may be left out (an operator's link names no agent). */
export type LinkTerms = Omit<VaultTerms, "agent"> & { agent?: string };

/** The terms of a root's `meta.vault`, validated; throws TermsError("malformed"). */
export function parseTerms(v: unknown): VaultTerms {
  const terms = parseLinkTerms(v);
  if (terms.agent === undefined) bad("meta.vault.agent must name an agent");
  return terms as VaultTerms;
}

/** The terms of any link's `meta.vault`, validated; throws TermsError("malformed"). */
export function parseLinkTerms(v: unknown): LinkTerms {
  if (!isRecord(v)) bad("meta.vault is missing: it must hold {agent, commands, ...}");
  const { agent, commands, caps, recipients, chains, task, mandateIssuer, ...rest } = v;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) bad(`meta.vault has unknown fields: ${unknown.join(", ").slice(0, 80)}`);
  if (agent !== undefined && (typeof agent !== "string" || agent.length === 0 || agent.length > 64))
    bad("meta.vault.agent must name an agent");
  const cmds = parseList(commands, "commands", (c) =>
    typeof c === "string" && COMMAND.test(c) ? c : undefined,
  );
  if (cmds.length === 0) bad("commands must name at least one command");
  const terms: LinkTerms = { commands: cmds, ...(agent !== undefined ? { agent } : {}) };
  if (caps !== undefined) terms.caps = parseCaps(caps);
  if (recipients !== undefined)
    terms.recipients = parseList(recipients, "recipients", (r) => normaliseAddress(r));
  if (chains !== undefined)
    terms.chains = parseList(chains, "chains", (c) =>
      Number.isSafeInteger(c) && (c as number) > 0 ? (c as number) : undefined,
    );
  if (task !== undefined) {
    if (typeof task !== "string" || !TASK.test(task)) bad("task must be 1-128 visible characters");
    terms.task = task;
  }
  if (mandateIssuer !== undefined) {
    if (typeof mandateIssuer !== "string" || !/^[\x21-\x7e]{1,256}$/.test(mandateIssuer))
      bad("mandateIssuer must be an issuer identifier (1-256 visible characters)");
    terms.mandateIssuer = mandateIssuer;
  }
  return terms;
}

function widens(message: string): never {
  throw new TermsError("widens", message);
}

function subset<T>(
  child: T[] | undefined,
  parent: T[] | undefined,
  field: string,
): T[] | undefined {
  if (child === undefined) return parent;
  if (parent !== undefined) {
    const extra = child.filter((x) => !parent.includes(x));
    if (extra.length > 0) widens(`${field} adds ${String(extra[0])}`);
  }
  return child;
}

function narrowCaps(
  child: Record<string, AssetCaps> | undefined,
  parent: Record<string, AssetCaps> | undefined,
): Record<string, AssetCaps> | undefined {
  if (child === undefined) return parent;
  if (parent === undefined) return child;
  for (const [asset, c] of Object.entries(child)) {
    const p = parent[asset];
    if (!p) widens(`caps add the asset ${asset}`);
    if (compareDecimal(c.maxPerTx, p.maxPerTx) > 0) widens(`caps.${asset}.maxPerTx rises`);
    if (compareDecimal(c.maxPer24h, p.maxPer24h) > 0) widens(`caps.${asset}.maxPer24h rises`);
  }
  return child;
}

/**
 * The terms in force after `child`, given those in force before it; throws
 * TermsError("widens") when the child asks for anything its parent did not allow.
 */
export function narrowTerms(parent: VaultTerms, child: LinkTerms): VaultTerms {
  if (child.agent !== undefined && child.agent !== parent.agent)
    widens("the link names another agent");
  for (const c of child.commands) {
    if (!parent.commands.some((p) => commandCovers(p, c))) widens(`commands add ${c}`);
  }
  if (parent.task !== undefined && child.task !== undefined && child.task !== parent.task)
    widens("the link names another task");
  const out: VaultTerms = { agent: parent.agent, commands: child.commands };
  const caps = narrowCaps(child.caps, parent.caps);
  const recipients = subset(child.recipients, parent.recipients, "recipients");
  const chains = subset(child.chains, parent.chains, "chains");
  const task = child.task ?? parent.task;
  if (
    parent.mandateIssuer !== undefined &&
    (child.mandateIssuer ?? parent.mandateIssuer) !== parent.mandateIssuer
  )
    widens("the link names another mandate issuer");
  const mandateIssuer = parent.mandateIssuer ?? child.mandateIssuer;
  if (caps) out.caps = caps;
  if (recipients) out.recipients = recipients;
  if (chains) out.chains = chains;
  if (task !== undefined) out.task = task;
  if (mandateIssuer !== undefined) out.mandateIssuer = mandateIssuer;
  return out;
}

/** True when the terms let the holder invoke `command`. */
export function allowsCommand(terms: VaultTerms, command: string): boolean {
  return terms.commands.some((c) => commandCovers(c, command));
}
