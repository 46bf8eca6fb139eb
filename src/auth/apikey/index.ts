/**
 * Scoped API keys: bound to one agent or to the operator, shown once, stored as
 * SHA-256 digests, compared in constant time, and revocable with effect on the very
 * next request (every request reads the key's row; nothing is cached). Behind the storage
 * seam (src/store/sql): a key and every key issued under it are revoked, with their audit
 * entries and the tokens issued against them, in one transaction.
 */
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../../audit/types.js";
import { VaultError } from "../../errors/index.js";
import type { LinkBudget } from "../../store/delegations.js";
import type { VaultStore } from "../../store/vault-store.js";
import { hashSecret, newSecret, secretMatches } from "../secret.js";
import { SCOPES, type Scope } from "../types.js";

export { SCOPES, type Scope } from "../types.js";

export interface Principal {
  kind: "operator" | "agent";
  /** "admin" for the operator's admin key. */
  keyId: string;
  agentId: string | null;
  scopes: ReadonlySet<Scope>;
  /** Which front door let the principal in (absent: the API-key door). */
  via?: "apikey" | "jwt" | "vc" | "x402" | "delegation";
  /** The task a token was issued for (X-Task-Id must name it). */
  taskId?: string;
  /**
   * Per-request caps from a credential, asset ("ETH" or token address) → amount in the
   * asset's units. They narrow the agent's policy for this request (several: all apply).
   */
  spendLimits?: Array<Record<string, string>>;
  /** The human a credential says the agent acts for, when it names one. */
  humanPrincipal?: string;
  /** A delegation chain's links (root first, with their own caps) and narrowed lists. */
  delegation?: { links: LinkBudget[]; recipients?: string[]; chains?: number[] };
}

/**
 * Taken first by a key's revocation, and by whatever must not interleave with one (a token
 * issued against a key: src/auth/jwt/issue.ts). On PostgreSQL an advisory lock shared by
 * every replica; SQLite's single writer already serialises them.
 */
export const KEY_REVOCATION_LOCK = "api_keys:revocation";

export interface ApiKeyService {
  /** `parentKeyId`: the key that asks (null for the admin key); revoking it revokes this. */
  issue(
    agentId: string | null,
    scopes: Scope[],
    actor: string,
    parentKeyId?: string | null,
  ): Promise<{ keyId: string; key: string }>;
  /** Revokes the key and every key issued under it; returns their ids. */
  revoke(keyId: string, actor: string): Promise<string[]>;
  /** The principal a bearer secret stands for, or undefined. */
  authenticate(secret: string): Promise<Principal | undefined>;
  get(
    keyId: string,
  ): Promise<{ keyId: string; agentId: string | null; scopes: Scope[]; revoked: boolean }>;
}

export function parseScopes(input: unknown): Scope[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new VaultError("VALIDATION_FAILED", "scopes must be a non-empty array", {
      field: "scopes",
    });
  }
  const scopes = [...new Set(input)];
  for (const s of scopes) {
    if (!SCOPES.includes(s as Scope)) {
      throw new VaultError("VALIDATION_FAILED", `unknown scope ${String(s).slice(0, 20)}`, {
        field: "scopes",
      });
    }
  }
  return scopes as Scope[];
}

export function createApiKeyService(deps: {
  store: VaultStore;
  audit: AuditLog;
  /**
   * Called inside the revoking transaction with every key id revoked (tokens follow); the
   * revocation commits only once its promise resolves, and rolls back if it rejects.
   */
  onRevoked?: (keyIds: string[], actor: string) => Promise<unknown>;
}): ApiKeyService {
  const { store, audit } = deps;
  const adminPrincipal: Principal = {
    kind: "operator",
    keyId: "admin",
    agentId: null,
    scopes: new Set(SCOPES),
  };
  return {
    async issue(agentId, scopes, actor, parentKeyId = null) {
      if (agentId !== null && scopes.includes("ADMIN")) {
        throw new VaultError("VALIDATION_FAILED", "agent keys cannot carry ADMIN", {
          field: "scopes",
        });
      }
      const keyId = `key_${randomBytes(9).toString("base64url")}`;
      const key = newSecret("avk");
      await store.sql.transaction(async (tx) => {
        // Serialised with revocations: a parent revoked meanwhile mints nothing, and one
        // revoked after sees this key among its descendants.
        await tx.lock(KEY_REVOCATION_LOCK);
        if (parentKeyId !== null && parentKeyId !== "admin") {
          const parent = await store.key(parentKeyId);
          if (parent && parent.revokedAt !== null) throw new VaultError("INVALID_CREDENTIALS");
        }
        await store.putKey({
          id: keyId,
          agentId,
          scopes,
          hash: hashSecret(key),
          parentId: parentKeyId === "admin" ? null : parentKeyId,
        });
        await audit.append({
          type: "key.issued",
          agentId,
          actor,
          data: { keyId, scopes, ...(parentKeyId ? { parentKeyId } : {}) },
        });
      });
      return { keyId, key };
    },
    async revoke(keyId, actor) {
      const row = await store.key(keyId);
      if (!row) throw new VaultError("KEY_NOT_FOUND");
      return store.sql.transaction(async (tx) => {
        // Two revocations of overlapping trees (on two replicas) take turns: the second sees
        // only the keys the first left live, so no key is revoked or audited twice.
        await tx.lock(KEY_REVOCATION_LOCK);
        const tree = await store.liveDescendants(keyId);
        const ids: string[] = [];
        for (const k of tree) {
          if (!(await store.revokeKey(k.id))) continue;
          await audit.append({
            type: "key.revoked",
            agentId: k.agentId,
            actor,
            data: { keyId: k.id, ...(k.id === keyId ? {} : { because: keyId }) },
          });
          ids.push(k.id);
        }
        await deps.onRevoked?.(ids, actor);
        return ids;
      });
    },
    async authenticate(secret) {
      const adminHash = await store.meta("admin_key_hash");
      if (adminHash && secretMatches(secret, adminHash)) return adminPrincipal;
      const row = await store.keyByHash(hashSecret(secret));
      if (!row || row.revokedAt || !secretMatches(secret, row.hash)) return undefined;
      return {
        kind: row.agentId ? "agent" : "operator",
        keyId: row.id,
        agentId: row.agentId,
        scopes: new Set(row.scopes),
      };
    },
    async get(keyId) {
      const row = await store.key(keyId);
      if (!row) throw new VaultError("KEY_NOT_FOUND");
      return {
        keyId,
        agentId: row.agentId,
        scopes: row.scopes,
        revoked: row.revokedAt !== null,
      };
    },
  };
}
