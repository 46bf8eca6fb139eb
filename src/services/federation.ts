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
import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { decodeJwt, importJWK, type JWTVerifyGetKey, jwtVerify, SignJWT } from "jose";
import type { AuditLog } from "../audit/types.js";
import type {
  ChainCheck,
  ChainLink,
  DelegationService,
  LinkRequest,
} from "../auth/delegation/index.js";
import { readDelegation } from "../auth/delegation/ucan.js";
import {
  isHostDidWeb,
  OPERATOR_FRAGMENT,
  type OperatorIdentity,
  operatorDidOf,
  readOperatorDocument,
} from "../auth/federation/operator.js";
import { resolveDidWeb } from "../auth/vc/did-web.js";
import type { Config } from "../config/index.js";
import { VaultError } from "../errors/index.js";
import type { FederationStore } from "../store/federation.js";
import type { RevocationFeeds } from "./revocation-feeds.js";

const RESOLVED_TTL_MS = 10 * 60_000;
/** The JWT type of a subscription to another operator's stream. */
const SUBSCRIBE_TYPE = "operator-subscription+jwt";
const FAILED_RETRY_MS = 1_000;

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
  /**
   * The operator subscribing to this vault's stream, from `Authorization: Operator <jwt>`:
   * a short JWT it signed with its operator key for this vault (aud = our did:web).
   */
  subscriber(authorization: string | undefined): Promise<string>;
  stop(): void;
}

interface Resolved {
  at: number;
  identity?: OperatorIdentity;
  error?: string;
}

/** A did:web as its document names it, even when a router decoded its "%3A" to ":". */
export function didWebOf(did: string): string {
  return did.replace(/^did:web:([^:%]+):(\d{1,5})$/, "did:web:$1%3A$2");
}

async function keyOf(jwk: OperatorIdentity["jwk"]): Promise<JWTVerifyGetKey> {
  const key = await importJWK(jwk, "EdDSA");
  return async () => key;
}

export function createFederation(deps: {
  config: Config;
  delegations: DelegationService;
  feeds: RevocationFeeds;
  store: FederationStore;
  audit: AuditLog;
  /** The operator key's public JWK (the vault's credential key). */
  publicJwk: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The operator key itself, to identify this vault to other operators' streams. */
  privateKey: () => KeyObject | Promise<KeyObject>;
  now?: () => number;
}): Federation {
  const { config, delegations, feeds, audit, store } = deps;
  const now = deps.now ?? Date.now;
  const ca = config.auth.didWebCaFile ? readFileSync(config.auth.didWebCaFile, "utf8") : undefined;
  const ownDid = operatorDidOf(config.url);
  const base = config.url.replace(/\/$/, "");
  const resolved = new Map<string, Resolved>();
  const inFlight = new Map<string, Promise<void>>();
  /** Anchor operator keys (did:key) → their did:web. */
  let anchorKeys = new Map<string, string>();

  /** Our proof of identity to another operator's stream: a 5-minute JWT for it alone. */
  const subscribeAs = (publisher: string) => async () => {
    const jwt = await new SignJWT({})
      .setProtectedHeader({
        alg: "EdDSA",
        kid: `${ownDid}#${OPERATOR_FRAGMENT}`,
        typ: SUBSCRIBE_TYPE,
      })
      .setIssuer(ownDid as string)
      .setAudience(publisher)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(await deps.privateKey());
    return `Operator ${jwt}`;
  };

  const fetchIdentity = async (did: string) => {
    try {
      const identity = readOperatorDocument(did, await resolveDidWeb(did, ca ? { ca } : {}));
      resolved.set(did, { at: now(), identity });
      // Only delegation revocations count from another operator: nothing it says can
      // revoke this vault's own tokens or keys.
      feeds.follow({
        issuer: did,
        url: identity.events,
        getKey: await keyOf(identity.jwk),
        keyId: identity.jwk.x,
        kinds: ["delegation"],
        signedHeartbeats: true,
        ...(ownDid ? { authorization: subscribeAs(did) } : {}),
        ...(ca ? { ca } : {}),
      });
    } catch (err) {
      resolved.set(did, { at: now(), error: (err as Error).message });
    }
  };

  /** Resolves an operator's did:web (cached; one fetch at a time per DID; a failure is
   * retried after a second, a success re-read after ten minutes). */
  const resolve = async (did: string): Promise<OperatorIdentity> => {
    const hit = resolved.get(did);
    const ttl = hit?.identity ? RESOLVED_TTL_MS : FAILED_RETRY_MS;
    if (!hit || now() - hit.at > ttl) {
      let pending = inFlight.get(did);
      if (!pending) {
        pending = fetchIdentity(did).finally(() => inFlight.delete(did));
        inFlight.set(did, pending);
      }
      // A stale success keeps serving while it is re-read; a first sight waits for it.
      if (!hit?.identity) await pending;
    }
    const r = resolved.get(did) as Resolved;
    if (r.identity) return r.identity;
    throw new VaultError("OPERATOR_UNRESOLVED", undefined, { operator: did, reason: r.error });
  };

  /** Anchors are resolved (and their streams followed) in the background, never per request. */
  const refreshAnchors = async () => {
    const keys = new Map<string, string>();
    for (const did of config.auth.trustAnchors) {
      const a = await resolve(did).catch(() => undefined);
      if (a) keys.set(a.keyDid, did);
    }
    anchorKeys = keys;
  };
  const refresh = setInterval(() => void refreshAnchors(), FAILED_RETRY_MS);
  refresh.unref();
  void refreshAnchors();

  /** Stale feeds, then revocations by any operator upstream of the link. */
  const refusalFor = async (
    cid: string,
    hop: number,
    upstream: string[],
  ): Promise<VaultError | undefined> => {
    for (const op of upstream) {
      const stale = await feeds.stale(op);
      if (stale) return stale;
    }
    for (const op of upstream) {
      if (await feeds.revokedBy(op, `delegation:${cid}`))
        return new VaultError("DELEGATION_REVOKED", "revoked by an operator upstream", { hop });
    }
    return undefined;
  };

  const memberOf = (link: Pick<ChainLink, "meta">): string | undefined => {
    const f = link.meta.federation as { member?: unknown } | undefined;
    return typeof f?.member === "string" ? f.member : undefined;
  };

  /** The member an anchor's link vouches for, checked against its own document. */
  async function memberBehind(link: ChainLink, hop: number): Promise<OperatorIdentity> {
    const member = memberOf(link);
    if (!member) throw new VaultError("ANCHOR_LINK_INVALID", undefined, { hop });
    const firstSight = !resolved.get(member)?.identity;
    const m = await resolve(member);
    if (m.keyDid !== link.aud)
      throw new VaultError("ANCHOR_LINK_INVALID", "the member's key is not the audience", { hop });
    // A member seen for the first time: give its stream a moment to catch up.
    if (firstSight) await feeds.awaitFresh(member, config.auth.revocationStaleMs);
    return m;
  }

  async function walk(links: ChainLink[]): Promise<Array<string[]>> {
    const upstream: string[] = [];
    const out: Array<string[]> = [];
    let memberKey: [string, string] | undefined;
    for (const [hop, link] of links.entries()) {
      const anchor = hop > 0 ? anchorKeys.get(link.iss) : undefined;
      if (anchor) {
        const m = await memberBehind(link, hop);
        if (!upstream.includes(anchor)) upstream.push(anchor);
        memberKey = [m.keyDid, m.did];
      } else if (memberOf(link) !== undefined) {
        // Only an anchor this vault trusts may vouch for a member; while one of them is
        // unresolved, the link may be its: refuse for now rather than judge it.
        if (anchorKeys.size < config.auth.trustAnchors.length)
          throw new VaultError("OPERATOR_UNRESOLVED", "a trust anchor is not resolved yet");
        throw new VaultError("ANCHOR_LINK_INVALID", "the link's issuer is no trusted anchor", {
          hop,
        });
      }
      if (memberKey?.[0] === link.iss && !upstream.includes(memberKey[1]))
        upstream.push(memberKey[1]);
      out.push([...upstream]);
    }
    return out;
  }

  async function check(links: ChainLink[]): Promise<VaultError | undefined> {
    let upstreams: Array<string[]>;
    try {
      upstreams = await walk(links);
    } catch (err) {
      if (err instanceof VaultError) return err;
      throw err;
    }
    for (const [hop, link] of links.entries()) {
      const upstream = upstreams[hop] ?? [];
      if (upstream.length === 0) continue;
      const refused = await refusalFor(link.cid, hop, upstream);
      if (refused) return refused;
      await store.put(link.cid, upstream, link.expMs ?? Number.MAX_SAFE_INTEGER, now());
    }
    return undefined;
  }

  const chains: ChainCheck = {
    check,
    async recheck(cids) {
      for (const [hop, cid] of cids.entries()) {
        const upstream = await store.upstream(cid);
        const refused = upstream && (await refusalFor(cid, hop, upstream));
        if (refused) return refused;
      }
      return undefined;
    },
  };

  const identity = async (): Promise<OperatorIdentity | undefined> => {
    if (!ownDid) return undefined;
    const jwk = await deps.publicJwk();
    return {
      did: ownDid,
      keyDid: await delegations.operatorDid(),
      jwk: { kty: "OKP", crv: "Ed25519", x: String(jwk.x) },
      events: `${base}/v1/federation/events`,
    };
  };

  const statements = async (): Promise<MemberStatement[]> => {
    const out: MemberStatement[] = [];
    for (const l of await delegations.liveOperatorLinks()) {
      const d = await readDelegation(l.token);
      const member = memberOf({ meta: (d.meta as Record<string, unknown> | undefined) ?? {} });
      if (member === undefined) continue;
      const expiresAt = new Date(l.expiresMs).toISOString();
      out.push({ member, key: l.audience, cid: l.cid, delegation: l.token, expiresAt });
    }
    return out;
  };

  async function subscriber(authorization: string | undefined): Promise<string> {
    const refuse = (why: string): never => {
      throw new VaultError("SUBSCRIBER_UNVERIFIED", why);
    };
    const m = /^Operator\s+(\S+)$/.exec(authorization ?? "");
    if (!m?.[1]) return refuse("send Authorization: Operator <JWT signed by your operator key>");
    const token = m[1];
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return refuse("the JWT cannot be read");
    }
    if (typeof iss !== "string" || !isHostDidWeb(iss))
      return refuse("iss must be the subscriber's did:web");
    const op = await resolve(iss);
    try {
      await jwtVerify(token, await importJWK(op.jwk, "EdDSA"), {
        issuer: iss,
        audience: ownDid ?? "",
        typ: SUBSCRIBE_TYPE,
        maxTokenAge: "5m",
        requiredClaims: ["exp", "iat"],
        clockTolerance: 5,
      });
    } catch {
      return refuse("the JWT does not verify under the subscriber's operator key");
    }
    return iss;
  }

  return {
    identity,
    chains,
    subscriber,
    async admit(req, actor) {
      if (!ownDid) throw new VaultError("NOT_FOUND", "an anchor needs an https VAULT_URL");
      const { member, ...terms } = req;
      if (!isHostDidWeb(member))
        throw new VaultError("VALIDATION_FAILED", "member must be a did:web DID of a host", {
          field: "member",
        });
      const m = await resolve(member);
      const out = await delegations.issueAsOperator({ ...terms, audience: m.keyDid }, actor, {
        federation: { member },
      });
      await audit.append({
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
      const did = didWebOf(member);
      let n = 0;
      for (const s of await statements()) {
        if (s.member !== did) continue;
        if ((await delegations.revoke(s.cid, actor)).revoked) n++;
      }
      if (n === 0) throw new VaultError("NOT_FOUND", "no live statement names this member");
      await audit.append({ type: "federation.member.removed", actor, data: { member: did } });
      return n;
    },
    async grant(req, actor) {
      if (!ownDid) throw new VaultError("NOT_FOUND", "a member needs an https VAULT_URL");
      return delegations.issueAsOperator(req, actor);
    },
    stop: () => clearInterval(refresh),
  };
}
