/**
 * Cross-operator trust (README "Cross-operator trust"). Operators are did:web DIDs whose
 * documents the vaults serve (src/auth/federation/operator.ts). Three roles, any vault can
 * play each:
 *  - anchor: admits member operators. Its statement of a member is a UCAN link from the
 *    anchor's operator key to the member's, with the caps the member may grant and
 *    `meta.federation.member` naming it; removing the member revokes that link.
 *  - member: grants its agents (their DIDs) links from its operator key, within the
 *    anchor's statement.
 *  - relying vault (VAULT_TRUST_ANCHORS): one of its agents delegates to an anchor's
 *    operator key (an ordinary root); chains then run root → anchor → member → agent.
 *    Budgets and narrowing are those of any chain. This module adds what a chain through
 *    other operators needs: each anchor and member is resolved from its did:web document,
 *    its revocation stream is followed, and a chain is refused while the stream of any
 *    operator in it is stale (fail closed) or once any operator upstream of a link has
 *    revoked it.
 * No pairwise configuration: the relying vault learns of members from the anchor's signed
 * links, and of their keys and streams from their own documents.
 */
import { readFileSync } from "node:fs";
import { importJWK, type JWTVerifyGetKey } from "jose";
import type { AuditLog } from "../audit/types.js";
import type {
  ChainCheck,
  ChainLink,
  DelegationService,
  LinkRequest,
} from "../auth/delegation/index.js";
import { readDelegation } from "../auth/delegation/ucan.js";
import {
  type OperatorIdentity,
  operatorDidOf,
  readOperatorDocument,
} from "../auth/federation/operator.js";
import { resolveDidWeb } from "../auth/vc/did-web.js";
import type { Config } from "../config/index.js";
import { VaultError } from "../errors/index.js";
import type { FeedSource, RevocationFeeds } from "./revocation-feeds.js";

const RESOLVED_TTL_MS = 10 * 60_000;
const FAILED_RETRY_MS = 1_000;
const REMEMBERED_CHAINS = 10_000;

export interface MemberStatement {
  member: string;
  key: string;
  cid: string;
  delegation: string;
  expiresAt: string;
}

export interface Federation {
  /** This vault's operator identity, when its URL is https (else undefined). */
  identity(): Promise<OperatorIdentity | undefined>;
  /** Anchor: admits a member operator with the caps it may grant. */
  admit(
    req: Omit<LinkRequest, "audience" | "task"> & { member: string },
    actor: string,
  ): Promise<MemberStatement>;
  /** Anchor: the live statements, oldest first. */
  members(): Promise<MemberStatement[]>;
  /** Anchor: revokes every live statement of a member; how many were revoked. */
  remove(member: string, actor: string): Promise<number>;
  /** Member: a link from the operator key to one of its agents' DIDs. */
  grant(
    req: LinkRequest,
    actor: string,
  ): Promise<{ delegation: string; cid: string; issuer: string }>;
  /** Relying vault: the checks chains through anchors and members pass. */
  readonly chains: ChainCheck;
  stop(): void;
}

interface Resolved {
  at: number;
  identity?: OperatorIdentity;
  error?: string;
}

async function keyOf(jwk: OperatorIdentity["jwk"]): Promise<JWTVerifyGetKey> {
  const key = await importJWK(jwk, "EdDSA");
  return async () => key;
}

export function createFederation(deps: {
  config: Config;
  delegations: DelegationService;
  feeds: RevocationFeeds;
  audit: AuditLog;
  /** The operator key's public JWK (the vault's credential key). */
  publicJwk: () => Record<string, unknown>;
  now?: () => number;
}): Federation {
  const { config, delegations, feeds, audit } = deps;
  const now = deps.now ?? Date.now;
  const ca = config.auth.didWebCaFile ? readFileSync(config.auth.didWebCaFile, "utf8") : undefined;
  const ownDid = operatorDidOf(config.url);
  const base = config.url.replace(/\/$/, "");
  const resolved = new Map<string, Resolved>();
  /** Anchor operator keys (did:key) → their did:web. */
  const anchorKeys = new Map<string, string>();
  /** For a chain admitted before: each link's CID → the operators upstream of it. */
  const upstreamOf = new Map<string, string[]>();

  /** Resolves an operator's did:web (cached; a failure is retried after a second). */
  const resolve = async (did: string): Promise<OperatorIdentity> => {
    const hit = resolved.get(did);
    const ttl = hit?.identity ? RESOLVED_TTL_MS : FAILED_RETRY_MS;
    if (!hit || now() - hit.at > ttl) {
      try {
        const doc = await resolveDidWeb(did, ca ? { ca } : {});
        const identity = readOperatorDocument(did, doc);
        resolved.set(did, { at: now(), identity });
        const source: FeedSource = {
          issuer: did,
          url: identity.events,
          getKey: await keyOf(identity.jwk),
          ...(ca ? { ca } : {}),
        };
        feeds.follow(source);
      } catch (err) {
        resolved.set(did, { at: now(), error: (err as Error).message });
      }
    }
    const r = resolved.get(did) as Resolved;
    if (r.identity) return r.identity;
    throw new VaultError("OPERATOR_UNRESOLVED", undefined, { operator: did, reason: r.error });
  };

  const loadAnchors = async () => {
    for (const did of config.auth.trustAnchors) {
      if ([...anchorKeys.values()].includes(did)) continue;
      const a = await resolve(did).catch(() => undefined);
      if (a) anchorKeys.set(a.keyDid, did);
    }
  };
  // Anchors are resolved (and their streams followed) from the start, retried until found.
  const retry = setInterval(() => {
    if (anchorKeys.size < config.auth.trustAnchors.length) void loadAnchors();
  }, FAILED_RETRY_MS);
  retry.unref();
  void loadAnchors();

  const remember = (cid: string, upstream: string[]) => {
    upstreamOf.set(cid, upstream);
    if (upstreamOf.size > REMEMBERED_CHAINS)
      upstreamOf.delete(upstreamOf.keys().next().value as string);
  };

  /** Stale feeds, then revocations by any operator upstream of the link. */
  const refusalFor = (cid: string, hop: number, upstream: string[]) => {
    for (const op of upstream) {
      const stale = feeds.stale(op);
      if (stale) return stale;
    }
    return upstream.some((op) => feeds.revokedBy(op, `delegation:${cid}`))
      ? new VaultError("DELEGATION_REVOKED", "revoked by an operator upstream", { hop })
      : undefined;
  };

  const memberOf = (link: ChainLink): string | undefined => {
    const f = link.meta.federation as { member?: unknown } | undefined;
    return typeof f?.member === "string" ? f.member : undefined;
  };

  async function check(links: ChainLink[]): Promise<VaultError | undefined> {
    if (config.auth.trustAnchors.length === 0) return undefined;
    if (anchorKeys.size < config.auth.trustAnchors.length) await loadAnchors();
    const upstream: string[] = [];
    let members = new Map<string, string>();
    for (const [hop, link] of links.entries()) {
      const anchor = hop > 0 ? anchorKeys.get(link.iss) : undefined;
      const member = memberOf(link);
      if (anchor) {
        if (!member) return new VaultError("ANCHOR_LINK_INVALID", undefined, { hop });
        const m = await resolve(member).catch((e: VaultError) => e);
        if (m instanceof VaultError) return m;
        if (m.keyDid !== link.aud)
          return new VaultError("ANCHOR_LINK_INVALID", "the member's key is not the audience", {
            hop,
          });
        if (!upstream.includes(anchor)) upstream.push(anchor);
        members = new Map([[m.keyDid, member]]);
      } else if (member !== undefined) {
        // Only an anchor this vault trusts may vouch for a member.
        return new VaultError("ANCHOR_LINK_INVALID", "the link's issuer is no trusted anchor", {
          hop,
        });
      }
      const issuerOp = members.get(link.iss);
      if (issuerOp && !upstream.includes(issuerOp)) upstream.push(issuerOp);
      const refused = refusalFor(link.cid, hop, upstream);
      if (refused) return refused;
      if (upstream.length > 0) remember(link.cid, [...upstream]);
    }
    return undefined;
  }

  const chains: ChainCheck = {
    check,
    recheck(cids) {
      for (const [hop, cid] of cids.entries()) {
        const upstream = upstreamOf.get(cid);
        const refused = upstream && refusalFor(cid, hop, upstream);
        if (refused) return refused;
      }
      return undefined;
    },
  };

  const identity = async (): Promise<OperatorIdentity | undefined> => {
    if (!ownDid) return undefined;
    const jwk = deps.publicJwk();
    return {
      did: ownDid,
      keyDid: await delegations.operatorDid(),
      jwk: { kty: "OKP", crv: "Ed25519", x: String(jwk.x) },
      events: `${base}/v1/federation/events`,
    };
  };

  const statements = async (): Promise<MemberStatement[]> => {
    const out: MemberStatement[] = [];
    for (const l of delegations.liveOperatorLinks()) {
      const d = await readDelegation(l.token);
      const member = memberOf({ cid: l.cid, iss: d.iss, aud: d.aud, meta: d.meta ?? {} });
      if (member === undefined) continue;
      const expiresAt = new Date(l.expiresMs).toISOString();
      out.push({ member, key: l.audience, cid: l.cid, delegation: l.token, expiresAt });
    }
    return out;
  };

  return {
    identity,
    chains,
    async admit(req, actor) {
      if (!ownDid) throw new VaultError("NOT_FOUND", "an anchor needs an https VAULT_URL");
      const { member, ...terms } = req;
      if (!/^did:web:[A-Za-z0-9.%-]+$/.test(member))
        throw new VaultError("VALIDATION_FAILED", "member must be a did:web DID of a host", {
          field: "member",
        });
      const m = await resolve(member);
      const out = await delegations.issueAsOperator({ ...terms, audience: m.keyDid }, actor, {
        federation: { member },
      });
      audit.append({
        type: "federation.member.admitted",
        actor,
        data: { member, memberDid: m.keyDid, cid: out.cid },
      });
      return {
        member,
        key: m.keyDid,
        cid: out.cid,
        delegation: out.delegation,
        expiresAt: req.expiresAt,
      };
    },
    members: statements,
    async remove(member, actor) {
      let n = 0;
      for (const s of await statements()) {
        if (s.member !== member) continue;
        if (delegations.revoke(s.cid, actor).revoked) n++;
      }
      if (n > 0) audit.append({ type: "federation.member.removed", actor, data: { member } });
      return n;
    },
    async grant(req, actor) {
      if (!ownDid) throw new VaultError("NOT_FOUND", "a member needs an https VAULT_URL");
      return delegations.issueAsOperator(req, actor);
    },
    stop: () => clearInterval(retry),
  };
}
