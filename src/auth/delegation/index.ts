/**
 * Delegation chains (README "Delegation chains"; UCAN 1.0, ucan-wg/spec delegation and
 * invocation). An agent's authority goes, narrowed, to another DID as a root delegation the
 * vault signs with the agent's own Ed25519 delegation key; holders re-delegate client-side,
 * only narrowing (constraints.ts). A request through a chain carries the chain AND an
 * invocation signed by the final holder over that request (method, path, body SHA-256, a
 * nonce, iat and a short exp), used once: a stolen chain alone signs nothing.
 *
 * Revoking any link refuses it and everything delegated from it on the next request: every
 * request reads the revocation table (shared by every process on the database), nothing is
 * cached.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import type { AuditLog } from "../../audit/types.js";
import { type ErrorCode, VaultError } from "../../errors/index.js";
import type { DelegationStore } from "../../store/delegations.js";
import { signStatusList, statusEntry } from "../revocation/status-list.js";
import {
  allowsCommand,
  commandCovers,
  narrowTerms,
  parseLinkTerms,
  parseTerms,
  TermsError,
  type VaultTerms,
} from "./constraints.js";
import { issueOperatorLink, issueRoot, type LinkRequest, type RootRequest } from "./issue.js";
import { applyMandate, type MandateOptions } from "./mandate.js";
import { checkRevocation, type RevocationRequest } from "./revoke.js";
import {
  type Delegation,
  MAX_TOKEN_CHARS,
  nowSeconds,
  readDelegation,
  readInvocationPayload,
  signerFromSeed,
  verifyDelegationSignature,
  verifyInvocation,
} from "./ucan.js";

export type { LinkRequest, RootRequest } from "./issue.js";

/** The delegation_keys/delegations owner of the operator's own links (agent ids are agt_…). */
export const OPERATOR_OWNER = "@operator";

/** What an outside check (cross-operator trust) is shown of a chain, root first. */
export interface ChainLink {
  cid: string;
  iss: string;
  aud: string;
  /** Expiry, ms (null: none). */
  expMs: number | null;
  meta: Record<string, unknown>;
}

export interface ChainCheck {
  /** Why this chain must be refused now (stale feed, revoked upstream), or undefined. */
  check(links: ChainLink[]): Promise<VaultError | undefined>;
  /** The same for a chain admitted before, by its CIDs (re-checked under the agent lock). */
  recheck(cids: string[]): Promise<VaultError | undefined>;
}

/** Invocations may be at most this old or this far ahead, and live at most this long. */
export const INVOCATION_SKEW_S = 60;
export const INVOCATION_MAX_TTL_S = 300;

export interface InvokedRequest {
  agentId: string;
  command: string;
  method: string;
  path: string;
  bodySha256: string;
  /** An AP2 payment mandate presented with the chain (header AP2-Mandate), if any. */
  mandate?: string;
}

export interface DelegationGrant {
  agentId: string;
  /** The DID that signed the invocation: the chain's final holder. */
  holder: string;
  /** The invocation's CID (each is accepted once). */
  invocation: string;
  /** Root first; each link's own caps, when it states them. */
  links: Array<{ cid: string; caps?: VaultTerms["caps"]; expiresMs?: number }>;
  /** The terms in force after the last link (the intersection of all of them). */
  terms: VaultTerms;
}

export interface DelegationService {
  /** The agent's delegation DID (did:key, Ed25519), made on first use. */
  didOf(agentId: string): Promise<string>;
  issue(req: RootRequest, actor: string): Promise<{ delegation: string; cid: string }>;
  /** Verifies a chain and its invocation for this request; throws a VaultError. */
  verify(chain: string, invocation: string, req: InvokedRequest): Promise<DelegationGrant>;
  /** Revokes a link and audits it (delegation.revoked), in one transaction. */
  revoke(cid: string, actor: string): Promise<{ revoked: boolean }>;
  /** A revocation UCAN from an issuer in the delegation path (ucan-wg/revocation). */
  revokeByUcan(req: RevocationRequest): Promise<{ cid: string; revoked: boolean }>;
  /** The agent a root delegation this vault issued belongs to, if it is one. */
  ownerOf(cid: string): Promise<string | undefined>;
  /** The refusal for a chain of link CIDs now (revoked since admitted), or undefined. */
  refusal(cids: string[]): Promise<VaultError | undefined>;
  /** The revocation status list of the roots issued here (a vc+jwt), if one is published. */
  statusList(): Promise<string>;
  /** The operator's UCAN identity: the did:key of the vault's credential key. */
  operatorDid(): Promise<string>;
  /** A link the operator key signs for any subject (powerline), stored and revocable. */
  issueAsOperator(
    req: LinkRequest,
    actor: string,
    meta?: Record<string, unknown>,
  ): Promise<{ delegation: string; cid: string; issuer: string }>;
  /** The operator links signed here that are neither revoked nor expired, oldest first. */
  liveOperatorLinks(): Promise<
    Array<{ cid: string; audience: string; token: string; expiresMs: number }>
  >;
}

function fail(code: ErrorCode, message?: string, details: Record<string, unknown> = {}): never {
  throw new VaultError(code, message, details);
}

export function createDelegationService(deps: {
  store: DelegationStore;
  audit: AuditLog;
  /** Encrypts the agents' delegation keys at rest (the token keys' passphrase file). */
  passphrase: string;
  maxDepth: number;
  agentExists: (agentId: string) => boolean | Promise<boolean>;
  now?: () => number;
  /** Where the status list is published, and the did:key that signs it. */
  status?: { url: string; issuer: string; key: () => KeyObject | Promise<KeyObject> };
  /** The operator's Ed25519 key (the vault's credential key), for operator links. */
  operatorKey?: () => KeyObject | Promise<KeyObject>;
  /** Cross-operator trust: feeds of anchors and their members (services/federation.ts). */
  chainCheck?: () => ChainCheck | undefined;
  /** Issuers of AP2 payment mandates this vault accepts, and the audience they must name. */
  mandates?: MandateOptions;
}): DelegationService {
  const { store, audit, passphrase } = deps;
  const now = deps.now ?? Date.now;
  const signers = new Map<string, Awaited<ReturnType<typeof signerFromSeed>>>();

  const signerOf = async (agentId: string) => {
    const cached = signers.get(agentId);
    if (cached) return cached;
    let row = await store.key(agentId);
    if (!row) {
      const { privateKey } = generateKeyPairSync("ed25519");
      const seed = seedOf(privateKey);
      const did = (await signerFromSeed(seed)).did;
      const pem = privateKey.export({
        format: "pem",
        type: "pkcs8",
        cipher: "aes-256-cbc",
        passphrase,
      }) as string;
      // Another request (or process) may have made one meanwhile: the stored key wins.
      row = await store.putKey(agentId, did, pem);
    }
    const key = createPrivateKey({ key: row.private_pem, format: "pem", passphrase });
    const signer = await signerFromSeed(seedOf(key));
    signers.set(agentId, signer);
    return signer;
  };

  let operatorSigner: Awaited<ReturnType<typeof signerFromSeed>> | undefined;
  const operator = async () => {
    if (!deps.operatorKey) fail("NOT_FOUND", "this vault has no operator key");
    operatorSigner ??= await signerFromSeed(seedOf(await deps.operatorKey()));
    return operatorSigner;
  };

  const service: DelegationService = {
    didOf: async (agentId) => (await signerOf(agentId)).did,

    operatorDid: async () => (await operator()).did,

    async issueAsOperator(req, actor, meta = {}) {
      const signer = await operator();
      const out = await issueOperatorLink(signer, req, now(), meta);
      await store.transaction(async () => {
        await store.put({
          cid: out.cid,
          agent_id: OPERATOR_OWNER,
          audience: req.audience,
          token: out.delegation,
          expires_ms: out.expiresMs,
          created_ms: now(),
        });
        await audit.append({
          type: "delegation.issued",
          agentId: null,
          actor,
          data: {
            cid: out.cid,
            audience: req.audience,
            terms: out.terms,
            exp: out.expiresMs,
            ...meta,
          },
        });
      });
      return { delegation: out.delegation, cid: out.cid, issuer: signer.did };
    },

    async liveOperatorLinks() {
      const out: Array<{ cid: string; audience: string; token: string; expiresMs: number }> = [];
      for (const r of await store.list(OPERATOR_OWNER)) {
        if (r.expires_ms <= now() || (await store.revokedAt(r.cid)) !== undefined) continue;
        out.push({ cid: r.cid, audience: r.audience, token: r.token, expiresMs: r.expires_ms });
      }
      return out;
    },

    async issue(req, actor) {
      if (!(await deps.agentExists(req.agentId))) fail("AGENT_NOT_FOUND");
      const signer = await signerOf(req.agentId);
      const idx = deps.status ? await store.newStatusIndex(now()) : undefined;
      const entry =
        deps.status && idx !== undefined ? statusEntry(deps.status.url, idx) : undefined;
      const out = await issueRoot(signer, req, now(), entry);
      await store.transaction(async () => {
        await store.put({
          cid: out.cid,
          agent_id: req.agentId,
          audience: req.audience,
          token: out.delegation,
          expires_ms: out.expiresMs,
          created_ms: now(),
        });
        if (idx !== undefined) await store.setStatusIndex(out.cid, idx);
        await audit.append({
          type: "delegation.issued",
          agentId: req.agentId,
          actor,
          data: { cid: out.cid, audience: req.audience, terms: out.terms, exp: out.expiresMs },
        });
      });
      return { delegation: out.delegation, cid: out.cid };
    },

    revoke: (cid, actor) =>
      // The revocation and its audit entry (and so its event, src/auth/revocation/events.ts)
      // commit together: none is ever recorded without the other.
      store.transaction(async () => {
        const revoked = await store.revoke(cid, now(), actor);
        if (revoked) {
          const agentId = (await store.get(cid))?.agent_id ?? null;
          await audit.append({ type: "delegation.revoked", agentId, actor, data: { cid } });
        }
        return { revoked };
      }),

    ownerOf: async (cid) => (await store.get(cid))?.agent_id,

    async revokeByUcan(req) {
      const { cid, revoker } = await checkRevocation(req, {
        maxDepth: deps.maxDepth,
        isOurRoot: async (did) => {
          const agent = await store.agentOfDid(did);
          return agent !== undefined && agent !== OPERATOR_OWNER && (await deps.agentExists(agent));
        },
        now: now(),
      });
      return { cid, ...(await service.revoke(cid, `ucan:${revoker}`)) };
    },

    async statusList() {
      if (!deps.status) throw new VaultError("NOT_FOUND");
      return signStatusList({
        listUrl: deps.status.url,
        issuer: deps.status.issuer,
        revoked: await store.revokedIndexes(),
        key: await deps.status.key(),
        now: now(),
      });
    },

    async refusal(cids) {
      const hop = await store.firstRevoked(cids);
      if (hop >= 0) return new VaultError("DELEGATION_REVOKED", undefined, { hop });
      return deps.chainCheck?.()?.recheck(cids);
    },

    verify: (chain, invocation, req) => verifyChain(chain, invocation, req),
  };

  async function readLinks(chain: string, at: number): Promise<Delegation[]> {
    const tokens = chain.split(",").map((t) => t.trim());
    if (tokens.length > deps.maxDepth)
      fail("DELEGATION_TOO_DEEP", `at most ${deps.maxDepth} links are accepted`, {
        maxDepth: deps.maxDepth,
      });
    const links: Delegation[] = [];
    for (const [hop, token] of tokens.entries()) {
      if (token.length === 0 || token.length > MAX_TOKEN_CHARS)
        fail("DELEGATION_MALFORMED", undefined, { hop });
      const d = await readDelegation(token).catch(() =>
        fail("DELEGATION_MALFORMED", undefined, { hop }),
      );
      if (d.exp !== null && d.exp <= nowSeconds(at)) fail("DELEGATION_EXPIRED", undefined, { hop });
      if (d.nbf !== undefined && d.nbf > nowSeconds(at))
        fail("DELEGATION_NOT_YET_VALID", undefined, { hop });
      links.push(d);
    }
    return links;
  }

  /** The terms in force after each link, checking that each only narrows. */
  function termsOf(links: Delegation[], agentId: string): VaultTerms[] {
    const out: VaultTerms[] = [];
    for (const [hop, d] of links.entries()) {
      const raw = (d.meta as Record<string, unknown> | undefined)?.vault;
      try {
        const prev = out[hop - 1];
        if (prev === undefined) {
          const root = parseTerms(raw);
          if (root.agent !== agentId) fail("DELEGATION_ISSUER_UNKNOWN", undefined, { hop });
          out.push(root);
        } else out.push(raw === undefined ? prev : narrowTerms(prev, parseLinkTerms(raw)));
      } catch (err) {
        if (!(err instanceof TermsError)) throw err;
        fail(err.rule === "widens" ? "DELEGATION_WIDENS" : "DELEGATION_MALFORMED", err.message, {
          hop,
        });
      }
    }
    return out;
  }

  function checkAlignment(links: Delegation[], rootDid: string): void {
    for (const [hop, d] of links.entries()) {
      if ((d.sub ?? rootDid) !== rootDid)
        fail("DELEGATION_AUDIENCE_MISMATCH", "the link names another subject", { hop });
      const prev = links[hop - 1];
      if (prev && prev.aud !== d.iss) fail("DELEGATION_AUDIENCE_MISMATCH", undefined, { hop });
      if (prev && !commandCovers(prev.cmd, d.cmd))
        fail("DELEGATION_WIDENS", `cmd ${d.cmd} is not within ${prev.cmd}`, { hop });
    }
  }

  async function verifyChain(chain: string, invocation: string, req: InvokedRequest) {
    const at = now();
    const links = await readLinks(chain, at);
    const root = links[0];
    if (!root) fail("DELEGATION_MALFORMED");
    const rootDid = root.iss;
    const agentId = await store.agentOfDid(rootDid);
    if (!agentId || agentId === OPERATOR_OWNER || root.sub !== rootDid)
      fail("DELEGATION_ISSUER_UNKNOWN");
    if (!(await deps.agentExists(agentId)))
      fail("DELEGATION_REVOKED", "the agent has been deleted");
    if (agentId !== req.agentId) fail("FORBIDDEN_AGENT");
    const refused = await service.refusal(links.map((d) => d.cid.toString()));
    if (refused) throw refused;
    checkAlignment(links, rootDid);
    const terms = termsOf(links, agentId);
    for (const [hop, d] of links.entries()) {
      await verifyDelegationSignature(d, at).catch(() =>
        fail("DELEGATION_SIGNATURE_INVALID", undefined, { hop }),
      );
    }
    const last = terms[terms.length - 1] as VaultTerms;
    const leaf = links[links.length - 1] as Delegation;
    if (!allowsCommand(last, req.command) || !links.every((d) => commandCovers(d.cmd, req.command)))
      fail("DELEGATION_COMMAND_NOT_ALLOWED", undefined, { command: req.command });
    const { holder, cid } = await checkInvocation(invocation, links, leaf, rootDid, last, req, at);
    // Other operators' say (stale feeds, their revocations), once the whole chain and its
    // invocation verified: what it records is never on the word of an unverified request.
    const outside = await deps.chainCheck?.()?.check(links.map(chainLink));
    if (outside) throw outside;
    const grant: DelegationGrant = {
      agentId,
      holder,
      invocation: cid,
      links: links.map((d, hop) => {
        const own = (d.meta as Record<string, unknown> | undefined)?.vault;
        const caps = own === undefined ? undefined : terms[hop]?.caps;
        return { cid: d.cid.toString(), ...(caps ? { caps } : {}) };
      }),
      terms: last,
    };
    if (req.mandate === undefined) {
      if (last.mandateIssuer !== undefined)
        fail("MANDATE_REQUIRED", undefined, { issuer: last.mandateIssuer });
      return grant;
    }
    return withMandate(grant, req.mandate, req, at);
  }

  /** The mandate as one more link: its caps narrow the terms and are a budget of their own. */
  async function withMandate(
    grant: DelegationGrant,
    token: string,
    req: InvokedRequest,
    at: number,
  ): Promise<DelegationGrant> {
    if (!deps.mandates?.trustedIssuers.length)
      fail("MANDATE_ISSUER_UNKNOWN", "this vault trusts no mandate issuer");
    const m = await applyMandate(
      token,
      {
        holder: grant.holder,
        terms: grant.terms,
        command: req.command,
        bodySha256: req.bodySha256,
      },
      { ...deps.mandates, now: at },
    );
    if ((await store.revokedAt(m.cid)) !== undefined)
      fail("DELEGATION_REVOKED", "the mandate was revoked", { hop: grant.links.length });
    const link = { cid: m.cid, expiresMs: m.expiresMs, ...(m.caps ? { caps: m.caps } : {}) };
    return { ...grant, links: [...grant.links, link], terms: m.terms };
  }

  async function checkInvocation(
    token: string,
    links: Delegation[],
    leaf: Delegation,
    rootDid: string,
    terms: VaultTerms,
    req: InvokedRequest,
    at: number,
  ): Promise<{ holder: string; cid: string }> {
    if (token.length === 0 || token.length > MAX_TOKEN_CHARS) fail("INVOCATION_MALFORMED");
    const bytes = Buffer.from(token, "base64");
    let p: ReturnType<typeof readInvocationPayload>;
    try {
      p = readInvocationPayload(bytes);
    } catch {
      fail("INVOCATION_MALFORMED");
    }
    if (p.iss !== leaf.aud)
      fail("DELEGATION_AUDIENCE_MISMATCH", "the invocation's issuer is not the chain's holder");
    if (p.sub !== rootDid) fail("INVOCATION_MISMATCH", "the invocation names another subject");
    const prf = (p.prf ?? []).map((c) => c.toString());
    if (prf.join(",") !== links.map((d) => d.cid.toString()).join(","))
      fail("INVOCATION_MALFORMED", "the invocation's proofs are not the chain sent");
    checkInvocationTime(p, at);
    if (p.cmd !== req.command) fail("INVOCATION_MISMATCH", `the invocation is for ${p.cmd}`);
    checkArgs(p.args, req, terms);
    const inv = await verifyInvocation(bytes, links, at).catch((err: unknown) => {
      const msg = String((err as Error).message);
      if (/signature/i.test(msg)) fail("INVOCATION_SIGNATURE_INVALID");
      fail("INVOCATION_MISMATCH", "the invocation's arguments fail a link's policy (pol)");
    });
    if (!(await store.useInvocation(inv.cid.toString(), (p.exp as number) * 1000, at)))
      fail("INVOCATION_REPLAYED");
    return { holder: p.iss, cid: inv.cid.toString() };
  }

  return service;
}

function checkInvocationTime(p: { iat?: number; exp: number | null }, at: number): void {
  const t = nowSeconds(at);
  if (typeof p.iat !== "number" || Math.abs(t - p.iat) > INVOCATION_SKEW_S)
    fail("INVOCATION_STALE", "iat must be within 60 s of the vault's clock");
  if (p.exp === null || p.exp <= t || p.exp > t + INVOCATION_MAX_TTL_S)
    fail("INVOCATION_STALE", "exp must be in the next 5 minutes");
}

function checkArgs(args: Record<string, unknown>, req: InvokedRequest, terms: VaultTerms): void {
  const expected: Record<string, string> = {
    method: req.method,
    path: req.path,
    body: req.bodySha256,
    ...(terms.task !== undefined ? { task: terms.task } : {}),
  };
  const keys = Object.keys(args ?? {}).sort();
  const want = Object.keys(expected).sort();
  if (keys.join() !== want.join() || want.some((k) => args[k] !== expected[k]))
    fail("INVOCATION_MISMATCH", undefined, { expectedArgs: want });
}

function chainLink(d: Delegation): ChainLink {
  return {
    cid: d.cid.toString(),
    iss: d.iss,
    aud: d.aud,
    expMs: d.exp === null ? null : d.exp * 1000,
    meta: (d.meta as Record<string, unknown> | undefined) ?? {},
  };
}

function seedOf(key: KeyObject): Uint8Array {
  const d = key.export({ format: "jwk" }).d;
  if (typeof d !== "string") throw new Error("not an Ed25519 private key");
  return Buffer.from(d, "base64url");
}
