/**
 * The scopes a credential can carry: a value module (no imports), so the store can type a
 * stored key's scopes without knowing any door (src/store/vault-store.ts).
 */
export const SCOPES = ["READ", "WRITE", "EXECUTE", "SPEND", "AUDIT", "ADMIN"] as const;
export type Scope = (typeof SCOPES)[number];
