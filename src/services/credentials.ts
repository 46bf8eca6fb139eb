/**
 * Is a credential the doors admitted still live? The front doors check revocation when a
 * request arrives; a signing request may then wait behind the agent's lock, so the signing
 * service asks again right before it reserves budget and calls the cluster (README "HTTP
 * API": revocation is "effective on the next request"; a queued request is not signed after
 * it). The answer is the error the door would give for that credential now, read from the
 * database (nothing cached), so a revocation on another replica counts as well.
 */
import { VaultError } from "../errors/index.js";
import type { VaultStore } from "../store/vault-store.js";

type Awaitable<T> = T | Promise<T>;

export function createCredentialCheck(deps: {
  store: Pick<VaultStore, "key">;
  tokens: { isRevoked(jti: string): Promise<boolean> };
  delegations?: { refusal(cids: string[]): Awaitable<VaultError | undefined> };
  vc?: { isRevoked(id: string): Awaitable<boolean> };
}): (credential: string) => Promise<VaultError | undefined> {
  return async (credential) => {
    // A delegation chain, "ucan:<cid>.<cid>…": any revoked link refuses it.
    if (credential.startsWith("ucan:"))
      return deps.delegations
        ? await deps.delegations.refusal(credential.slice(5).split("."))
        : new VaultError("DELEGATION_REVOKED");
    // A presentation, "vc:<holder DID>": its holder may have been revoked since.
    if (credential.startsWith("vc:"))
      return (await deps.vc?.isRevoked(credential.slice(3)))
        ? new VaultError("CREDENTIAL_REVOKED")
        : undefined;
    // The admin key cannot be revoked; x402 payers are single-use proofs checked at the door.
    if (credential === "admin" || credential.startsWith("x402:")) return undefined;
    if (credential.startsWith("jwt:"))
      return (await deps.tokens.isRevoked(credential.slice(4)))
        ? new VaultError("TOKEN_REVOKED")
        : undefined;
    const row = await deps.store.key(credential);
    return row && row.revokedAt === null ? undefined : new VaultError("INVALID_CREDENTIALS");
  };
}
