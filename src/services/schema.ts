/**
 * The domains whose tables live behind the storage seam (src/store/sql), each with its
 * versioned migrations for both engines: what `agent-vault db status|migrate` reads and
 * applies. A vault also applies them itself when it opens each store.
 */
import { AUDIT_MIGRATIONS } from "../audit/schema.js";
import { TOKEN_KEY_MIGRATIONS } from "../auth/jwt/keys.js";
import { adoptEarlierTokenLedger, TOKEN_LEDGER_MIGRATIONS } from "../auth/jwt/ledger.js";
import { CREDENTIAL_MIGRATIONS } from "../auth/vc/store.js";
import { adoptEarlierTable, PARKED_MIGRATIONS } from "../auth/x402/parked.js";
import { PAYMENT_MIGRATIONS } from "../auth/x402/store.js";
import { PRESIG_POOL_MIGRATIONS } from "../signers/local/pool.js";
import { adoptEarlierDelegations, DELEGATION_MIGRATIONS } from "../store/delegations.js";
import { FEDERATION_MIGRATIONS } from "../store/federation.js";
import { PROOF_JOB_MIGRATIONS } from "../store/proof-jobs.js";
import { REVOCATION_EVENT_MIGRATIONS } from "../store/revocation-events.js";
import {
  type Migration,
  type MigrationStatus,
  migrate,
  migrationStatus,
} from "../store/sql/migrate.js";
import type { Sql } from "../store/sql/types.js";
import { adoptEarlierVault, VAULT_STORE_MIGRATIONS } from "../store/vault-store.js";

export const SCHEMA_DOMAINS: ReadonlyArray<{
  domain: string;
  steps: readonly Migration[];
  /** Brings a table an earlier build made up to version 1 before it is recorded. */
  adopt?: (sql: Sql) => Promise<void>;
}> = [
  { domain: "vault", steps: VAULT_STORE_MIGRATIONS, adopt: adoptEarlierVault },
  { domain: "audit", steps: AUDIT_MIGRATIONS },
  { domain: "presig_pool", steps: PRESIG_POOL_MIGRATIONS },
  { domain: "proof_jobs", steps: PROOF_JOB_MIGRATIONS },
  { domain: "x402_payments", steps: PAYMENT_MIGRATIONS },
  { domain: "x402_parked", steps: PARKED_MIGRATIONS, adopt: adoptEarlierTable },
  { domain: "delegations", steps: DELEGATION_MIGRATIONS, adopt: adoptEarlierDelegations },
  { domain: "revocation_events", steps: REVOCATION_EVENT_MIGRATIONS },
  { domain: "federation", steps: FEDERATION_MIGRATIONS },
  { domain: "credentials", steps: CREDENTIAL_MIGRATIONS },
  { domain: "jwt_keys", steps: TOKEN_KEY_MIGRATIONS },
  { domain: "jwt_ledger", steps: TOKEN_LEDGER_MIGRATIONS, adopt: adoptEarlierTokenLedger },
];

export async function schemaStatus(sql: Sql): Promise<MigrationStatus[]> {
  const out: MigrationStatus[] = [];
  for (const d of SCHEMA_DOMAINS) out.push(await migrationStatus(sql, d.domain, d.steps));
  return out;
}

/** Applies every domain's missing steps; returns what was applied, by domain. */
export async function migrateSchema(
  sql: Sql,
): Promise<Array<{ domain: string; applied: number[] }>> {
  const out: Array<{ domain: string; applied: number[] }> = [];
  for (const d of SCHEMA_DOMAINS) {
    await d.adopt?.(sql);
    out.push({ domain: d.domain, applied: await migrate(sql, d.domain, d.steps) });
  }
  return out;
}
