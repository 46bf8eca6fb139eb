/**
 * The vault's signing keys for tokens (Ed25519, JWS alg EdDSA) and for the credentials
 * it issues, kept in SQLite. Private keys are stored as encrypted PKCS#8 (node's
 * KeyObject export with AES-256-CBC under a PBKDF2-derived key, OpenSSL PBES2) with a
 * passphrase that lives outside the database, in a 0600 file next to it: the database
 * file alone does not reveal them.
 *
 * Rotation makes a new token key active and retires the old one; a retired key stays in
 * the JWKS until the last token it signed has expired (each issue records its exp).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import type { Db } from "../../store/db.js";

export interface PublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  kid: string;
  alg: string;
  use: string;
}

export interface TokenKeyStore {
  /** The key that signs new tokens (made on first use). */
  active(): { kid: string; privateKey: KeyObject };
  /** Public key for a kid that may still verify tokens, or undefined. */
  publicKey(kid: string): KeyObject | undefined;
  /** Records that a token signed by `kid` expires at `expMs`. */
  noteIssued(kid: string, expMs: number): void;
  rotate(): { kid: string; retired: string | undefined };
  /** Active and retired-but-still-needed public keys, for /.well-known/jwks.json. */
  jwks(): { keys: PublicJwk[] };
  /** The stable Ed25519 key the vault signs credentials with (never rotated here). */
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

export function createTokenKeyStore(deps: {
  db: Db;
  passphrase: string;
  now?: () => number;
}): TokenKeyStore {
  const { db, passphrase } = deps;
  const now = deps.now ?? Date.now;
  db.exec(`
    CREATE TABLE IF NOT EXISTS token_keys (
      kid TEXT PRIMARY KEY, purpose TEXT NOT NULL, public_jwk TEXT NOT NULL,
      private_pem TEXT NOT NULL, created_ms INTEGER NOT NULL, retired_ms INTEGER,
      last_exp_ms INTEGER NOT NULL DEFAULT 0);
  `);
  const q = {
    insert: db.prepare(
      `INSERT INTO token_keys (kid, purpose, public_jwk, private_pem, created_ms)
       VALUES (@kid, @purpose, @public_jwk, @private_pem, @created_ms)`,
    ),
    active: db.prepare(
      "SELECT * FROM token_keys WHERE purpose = ? AND retired_ms IS NULL ORDER BY created_ms DESC LIMIT 1",
    ),
    byKid: db.prepare("SELECT * FROM token_keys WHERE kid = ? AND purpose = 'token'"),
    retire: db.prepare("UPDATE token_keys SET retired_ms = ? WHERE kid = ?"),
    noteExp: db.prepare("UPDATE token_keys SET last_exp_ms = max(last_exp_ms, ?) WHERE kid = ?"),
    published: db.prepare(
      `SELECT * FROM token_keys WHERE purpose = 'token' AND (retired_ms IS NULL OR last_exp_ms > ?)
       ORDER BY created_ms DESC`,
    ),
  };
  const privCache = new Map<string, KeyObject>();
  const pubCache = new Map<string, KeyObject>();

  const make = (purpose: "token" | "credential"): Row => {
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
    q.insert.run(row);
    privCache.set(kid, privateKey);
    pubCache.set(kid, publicKey);
    return row;
  };
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
  const activeRow = (purpose: "token" | "credential") =>
    db.transaction(() => (q.active.get(purpose) as Row | undefined) ?? make(purpose)).immediate();

  return {
    active() {
      const row = activeRow("token");
      return { kid: row.kid, privateKey: priv(row) };
    },
    publicKey(kid) {
      const row = q.byKid.get(kid) as Row | undefined;
      if (!row) return undefined;
      if (row.retired_ms !== null && row.last_exp_ms <= now()) return undefined;
      return pub(row);
    },
    noteIssued(kid, expMs) {
      q.noteExp.run(expMs, kid);
    },
    rotate() {
      return db
        .transaction(() => {
          const old = q.active.get("token") as Row | undefined;
          if (old) q.retire.run(now(), old.kid);
          return { kid: make("token").kid, retired: old?.kid };
        })
        .immediate();
    },
    jwks() {
      const rows = q.published.all(now()) as Row[];
      return {
        keys: rows.map((r) => {
          const { kty, crv, x, kid, alg, use } = JSON.parse(r.public_jwk) as PublicJwk;
          return { kty, crv, x, kid, alg, use };
        }),
      };
    },
    credentialKey() {
      const row = activeRow("credential");
      return { privateKey: priv(row), publicKey: pub(row) };
    },
  };
}
