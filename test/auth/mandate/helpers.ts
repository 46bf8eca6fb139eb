/**
 * Test issuance of AP2 open payment mandates: the SD-JWT library issues (issuer key, ES256,
 * constraints selectively disclosed), jose signs the key-binding JWT with the holder key.
 */
import { createHash, createPrivateKey, sign } from "node:crypto";
import { SDJwtInstance } from "@sd-jwt/core";
import { digest, ES256, ES384, generateSalt } from "@sd-jwt/crypto-nodejs";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export const ISSUER = "https://wallet.example/issuer";
export const AUDIENCE = "https://vault.example";
export const NOW = Date.parse("2026-04-10T12:00:00Z");

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

export type Alg = "ES256" | "EdDSA" | "ES384";

export interface Party {
  alg: Alg;
  publicJwk: JWK;
  privateKey: PrivateKey;
  privateJwk: JWK;
}

export async function party(alg: Alg = "ES256"): Promise<Party> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return {
    alg,
    publicJwk: await exportJWK(publicKey),
    privateKey,
    privateJwk: await exportJWK(privateKey),
  };
}

/** The SD-JWT library's signer shape, for the issuer's key. */
async function signerOf(p: Party): Promise<(data: string) => Promise<string> | string> {
  if (p.alg === "ES256") return ES256.getSigner(p.privateJwk);
  if (p.alg === "ES384") return ES384.getSigner(p.privateJwk);
  const key = createPrivateKey({ key: p.privateJwk as never, format: "jwk" });
  return (data: string) => sign(null, Buffer.from(data), key).toString("base64url");
}

export const constraintsUsd = () => [
  { type: "payment.amount_range", currency: "USD", max: 2500, min: 100 },
  { type: "payment.budget", currency: "USD", max: 100 },
  {
    type: "payment.allowed_payees",
    allowed: [{ id: "0x1111111111111111111111111111111111111111", name: "Shop" }],
  },
  { type: "payment.agent_recurrence", frequency: "WEEKLY", max_occurrences: 8 },
  {
    type: "payment.execution_date",
    not_before: "2026-04-01T00:00:00Z",
    not_after: "2026-06-30T23:59:59Z",
  },
  { type: "payment.reference", conditional_transaction_id: "FzLoxbbtgQGYZxoSM2NJ" },
];

export interface IssueOptions {
  issuer?: Party;
  iss?: string;
  holder: Party;
  constraints?: unknown[];
  /** Unix seconds; null: no exp claim. */
  exp?: number | null;
  nbf?: number;
  /** Wrap the mandate in AP2's `delegate_payload` array, as in the AP2 docs' example. */
  wrapped?: boolean;
}

/** The issuer-signed SD-JWT with every disclosure, ending in "~" (no key binding yet). */
export async function issue(o: IssueOptions & { issuer: Party }): Promise<string> {
  const sdjwt = new SDJwtInstance({
    hasher: digest,
    hashAlg: "sha-256",
    saltGenerator: generateSalt,
    signer: await signerOf(o.issuer),
    signAlg: o.issuer.alg,
  });
  const constraints = o.constraints ?? constraintsUsd();
  const mandate = {
    vct: "mandate.payment.open.1",
    constraints,
    cnf: { jwk: o.holder.publicJwk },
  };
  const exp = o.exp === undefined ? Math.floor(NOW / 1000) + 3600 : o.exp;
  const iat = Math.floor(NOW / 1000) - 60;
  if (o.wrapped) {
    return sdjwt.issue(
      // The outer JWT outlives the mandate, so only the mandate's own exp can expire it.
      {
        iss: o.iss ?? ISSUER,
        iat,
        exp: Math.max(exp ?? 0, Math.floor(NOW / 1000) + 7200),
        delegate_payload: [{ ...mandate, iat, exp }],
      },
      { delegate_payload: { _sd: [0] } } as never,
    );
  }
  const frame = { constraints: { _sd: constraints.map((_, i) => i) } };
  const times = {
    iat,
    ...(exp !== null ? { exp } : {}),
    ...(o.nbf !== undefined ? { nbf: o.nbf } : {}),
  };
  return sdjwt.issue({ iss: o.iss ?? ISSUER, ...times, ...mandate }, frame as never);
}

export interface BindOptions {
  aud?: string;
  iat?: number;
  nonce?: string;
  sdHash?: string;
  alg?: Alg;
}

/** Append a key-binding JWT signed by `key` over `presentation` (which ends in "~"). */
export async function bind(presentation: string, key: PrivateKey, o: BindOptions = {}) {
  const sdHash = o.sdHash ?? createHash("sha256").update(presentation, "ascii").digest("base64url");
  const kb = await new SignJWT({
    aud: o.aud ?? AUDIENCE,
    iat: o.iat ?? Math.floor(NOW / 1000),
    nonce: o.nonce ?? "n-1",
    sd_hash: sdHash,
  })
    .setProtectedHeader({ alg: o.alg ?? "ES256", typ: "kb+jwt" })
    .sign(key);
  return presentation + kb;
}

export function trusted(issuer: Party) {
  return [{ issuer: ISSUER, jwks: { keys: [issuer.publicJwk] } }];
}
