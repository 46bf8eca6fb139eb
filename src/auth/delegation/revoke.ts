/**
 * Revocation by a UCAN (ucan-wg/revocation 1.0.0-rc.1): an invocation of `/ucan/revoke`
 * with `args.revoke` = the CID of the delegation to revoke, signed by the issuer of a link
 * at or above it in a delegation path. The caller sends that path (root first) as the
 * witness the spec lets an executor require, so nobody outside a chain can fill the store.
 * The path must start at one of this vault's agents; every link's signature and the
 * issuer → audience alignment are checked. Revocations are idempotent, so a replayed one
 * changes nothing and needs no nonce.
 */
import { VaultError } from "../../errors/index.js";
import {
  type Delegation,
  MAX_TOKEN_CHARS,
  readDelegation,
  readInvocationPayload,
  verifyDelegationSignature,
  verifyInvocationSignature,
} from "./ucan.js";

export const REVOKE_COMMAND = "/ucan/revoke";

function fail(code: ConstructorParameters<typeof VaultError>[0], msg?: string, d = {}): never {
  throw new VaultError(code, msg, d);
}

export interface RevocationRequest {
  /** The `/ucan/revoke` invocation, base64 of its envelope. */
  revocation: string;
  /** Delegation tokens from the root to (at least) the revoked link. */
  path: string[];
}

/** The CID to revoke and who revokes it, once every check passed; throws a VaultError. */
export async function checkRevocation(
  req: RevocationRequest,
  opts: { maxDepth: number; isOurRoot: (did: string) => Promise<boolean>; now: number },
): Promise<{ cid: string; revoker: string }> {
  if (req.path.length === 0 || req.path.length > opts.maxDepth)
    fail("DELEGATION_TOO_DEEP", `the path holds 1 to ${opts.maxDepth} links`);
  const links: Delegation[] = [];
  for (const [hop, token] of req.path.entries()) {
    if (token.length === 0 || token.length > MAX_TOKEN_CHARS)
      fail("DELEGATION_MALFORMED", undefined, { hop });
    links.push(
      await readDelegation(token).catch(() => fail("DELEGATION_MALFORMED", undefined, { hop })),
    );
  }
  const root = links[0] as Delegation;
  if (root.iss !== root.sub || !(await opts.isOurRoot(root.iss))) fail("DELEGATION_ISSUER_UNKNOWN");
  for (const [hop, d] of links.entries()) {
    const prev = links[hop - 1];
    if (prev && prev.aud !== d.iss) fail("DELEGATION_AUDIENCE_MISMATCH", undefined, { hop });
    await verifyDelegationSignature(d, opts.now).catch(() =>
      fail("DELEGATION_SIGNATURE_INVALID", undefined, { hop }),
    );
  }
  if (req.revocation.length === 0 || req.revocation.length > MAX_TOKEN_CHARS)
    fail("INVOCATION_MALFORMED");
  const bytes = Buffer.from(req.revocation, "base64");
  let p: ReturnType<typeof readInvocationPayload>;
  try {
    p = readInvocationPayload(bytes);
  } catch {
    fail("INVOCATION_MALFORMED");
  }
  const target = (p.args as { revoke?: { toString(): string } } | undefined)?.revoke?.toString();
  if (p.cmd !== REVOKE_COMMAND || !target)
    fail("INVOCATION_MALFORMED", `a revocation invokes ${REVOKE_COMMAND} with args.revoke`);
  const at = links.findIndex((d) => d.cid.toString() === target);
  if (at < 0) fail("INVOCATION_MALFORMED", "the path does not reach the revoked delegation");
  if (!links.slice(0, at + 1).some((d) => d.iss === p.iss))
    fail("REVOCATION_NOT_ALLOWED", undefined, { hop: at });
  if (!(await verifyInvocationSignature(bytes).catch(() => false)))
    fail("INVOCATION_SIGNATURE_INVALID");
  return { cid: target, revoker: p.iss };
}
