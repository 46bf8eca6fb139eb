/**
 * The vault's signing keys for tokens (Ed25519, JWS alg EdDSA) and for the credentials
 * it issues, kept in the database behind the storage seam (src/store/sql). Private keys are
 * stored as encrypted PKCS#8 (node's KeyObject export with AES-256-CBC under a
 * PBKDF2-derived key, OpenSSL PBES2) with a passphrase that lives outside the database, in
 * a 0600 file next to it: the database alone does not reveal them.
 *
 * Rotation makes a new token key active and retires the old one; a retired key stays in
 * the JWKS until the last token it signed has expired (each issue records its exp). Which
 * token key is active is read from the database on every use, so a rotation made by another
 * vault replica sharing the database takes effect here too. The credential key is never
 * rotated: it is loaded (or made) once when the store opens.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { type Migration, migrate } from "../../store/sql/migrate.js";
import type { Sql, SqlRunner } from "../../store/sql/types.js";

export interface PublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  kid: string;
  alg: string;
  use: string;
}

export interface TokenKeyStore {
  /** The key that signs new tokens (made on first use), as the database has it now. */
  active(): Promise<{ kid: string; privateKey: KeyObject }>;
  /** Public key for a kid that may still verify tokens, or undefined. */
  publicKey(kid: string): Promise<KeyObject | undefined>;
  /** Records that a token signed by `kid` expires at `expMs`. */
  noteIssued(kid: string, expMs: number): Promise<void>;
  rotate(): Promise<{ kid: string; retired: string | undefined }>;
  /** Active and retired-but-still-needed public keys, for /.well-known/jwks.json. */
  jwks(): Promise<{ keys: PublicJwk[] }>;
  /** The stable Ed25519 key the vault signs credentials with (never rotated; loaded at open). */
  credentialKey(): { privateKey: KeyObject; publicKey: KeyObject };
}

interface Row {
  kid: string;
  purpose: string;
  public_jwk: string;
  private_pem: string;
  created_ms: number;
  retired_ms: number | null;
  last_exp_ms: number;
}

type Purpose = "token" | "credential";

const table = (ints: "INTEGER" | "BIGINT") => `CREATE TABLE IF NOT EXISTS token_keys (
  kid TEXT PRIMARY KEY, purpose TEXT NOT NULL, public_jwk TEXT NOT NULL,
  private_pem TEXT NOT NULL, created_ms ${ints} NOT NULL, retired_ms ${ints},
  last_exp_ms ${ints} NOT NULL DEFAULT 0)`;

/** Version 1 is the table as earlier builds made it (IF NOT EXISTS: they did). */
export const TOKEN_KEY_MIGRATIONS: Migration[] = [
  { version: 1, name: "token_keys", sqlite: table("INTEGER"), postgres: table("BIGINT") },
];

const COLUMNS = "kid, purpose, public_jwk, private_pem, created_ms, retired_ms, last_exp_ms";
const ACTIVE = `SELECT ${COLUMNS} FROM token_keys WHERE purpose = $1 AND retired_ms IS NULL
  ORDER BY created_ms DESC LIMIT 1`;

/** The lock that serialises making or rotating a purpose's key, across replicas. */
const lockOf = (purpose: Purpose) => `token_keys:${purpose}`;

export async function openTokenKeyStore(
  sql: Sql,
  opts: { passphrase: string; now?: () => number },
): Promise<TokenKeyStore> {
  await migrate(sql, "jwt_keys", TOKEN_KEY_MIGRATIONS);
  const { passphrase } = opts;
  const now = opts.now ?? Date.now;
  const privCache = new Map<string, KeyObject>();
  const pubCache = new Map<string, KeyObject>();

  /** A new key pair and its row; nothing is stored yet. */
  const generate = (purpose: Purpose) => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const kid = `${purpose === "token" ? "tk" : "ck"}_${randomBytes(9).toString("base64url")}`;
    const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA", use: "sig" };
    const row: Row = {
      kid,
      purpose,
      public_jwk: JSON.stringify(jwk),
      private_pem: privateKey
        .export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase })
        .toString(),
      created_ms: now(),
      retired_ms: null,
      last_exp_ms: 0,
    };
    return { row, privateKey, publicKey };
  };
  const insert = (tx: SqlRunner, r: Row) =>
    tx.run(
      `INSERT INTO token_keys (kid, purpose, public_jwk, private_pem, created_ms)
       VALUES ($1, $2, $3, $4, $5)`,
      [r.kid, r.purpose, r.public_jwk, r.private_pem, r.created_ms],
    );
  const priv = (row: Row) => {
    let k = privCache.get(row.kid);
    if (!k) {
      k = createPrivateKey({ key: row.private_pem, format: "pem", passphrase });
      privCache.set(row.kid, k);
    }
    return k;
  };
  const pub = (row: Row) => {
    let k = pubCache.get(row.kid);
    if (!k) {
      k = createPublicKey({ key: JSON.parse(row.public_jwk), format: "jwk" });
      pubCache.set(row.kid, k);
    }
    return k;
  };

  /** The purpose's active row; the first caller (of any replica) makes it, under a lock. */
  const activeRow = async (purpose: Purpose): Promise<Row> => {
    const found = await sql.get<Row>(ACTIVE, [purpose]);
    if (found) return found;
    const made = generate(purpose);
    const row = await sql.transaction(async (tx) => {
      await tx.lock(lockOf(purpose));
      const raced = await tx.get<Row>(ACTIVE, [purpose]);
      if (raced) return raced;
      await insert(tx, made.row);
      return made.row;
    });
    if (row === made.row) {
      privCache.set(row.kid, made.privateKey);
      pubCache.set(row.kid, made.publicKey);
    }
    return row;
  };

  const credentialRow = await activeRow("credential");
  const credential = { privateKey: priv(credentialRow), publicKey: pub(credentialRow) };

  return {
    async active() {
      const row = await activeRow("token");
      return { kid: row.kid, privateKey: priv(row) };
    },
    async publicKey(kid) {
      const row = await sql.get<Row>(
        `SELECT ${COLUMNS} FROM token_keys WHERE kid = $1 AND purpose = 'token'`,
        [kid],
      );
      if (!row) return undefined;
      if (row.retired_ms !== null && Number(row.last_exp_ms) <= now()) return undefined;
      return pub(row);
    },
    async noteIssued(kid, expMs) {
      await sql.run("UPDATE token_keys SET last_exp_ms = $1 WHERE kid = $2 AND last_exp_ms < $1", [
        expMs,
        kid,
      ]);
    },
    async rotate() {
      const made = generate("token");
      const old = await sql.transaction(async (tx) => {
        await tx.lock(lockOf("token"));
        const current = await tx.get<Row>(ACTIVE, ["token"]);
        if (current)
          await tx.run("UPDATE token_keys SET retired_ms = $1 WHERE kid = $2", [
            now(),
            current.kid,
          ]);
        await insert(tx, made.row);
        return current;
      });
      privCache.set(made.row.kid, made.privateKey);
      pubCache.set(made.row.kid, made.publicKey);
      return { kid: made.row.kid, retired: old?.kid };
    },
    async jwks() {
      const rows = await sql.all<Row>(
        `SELECT ${COLUMNS} FROM token_keys
         WHERE purpose = 'token' AND (retired_ms IS NULL OR last_exp_ms > $1)
         ORDER BY created_ms DESC`,
        [now()],
      );
      return {
        keys: rows.map((r) => {
          const { kty, crv, x, kid, alg, use } = JSON.parse(r.public_jwk) as PublicJwk;
          return { kty, crv, x, kid, alg, use };
        }),
      };
    },
    credentialKey: () => credential,
  };
}
