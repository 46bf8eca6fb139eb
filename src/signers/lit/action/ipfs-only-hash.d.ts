/**
 * Types for ipfs-only-hash 4.0.0 (CommonJS, untyped): `of(content)` is the IPFS CID
 * (v0 with default options) that `ipfs add --only-hash` would give, which is how Lit
 * names an action's code.
 */
declare module "ipfs-only-hash" {
  export function of(
    content: string | Uint8Array,
    options?: Record<string, unknown>,
  ): Promise<string>;
}
