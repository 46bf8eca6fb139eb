/**
 * snarkjs, loaded on first use. It takes about 150 ms to import, and most processes that
 * link the zk modules (every signer node's parent, the CLI, the tests) never prove or
 * verify: the vault loads it when a proof, a setup or a bundle check first needs it.
 */
type Snarkjs = typeof import("snarkjs");

let loading: Promise<Snarkjs> | undefined;

export function loadSnarkjs(): Promise<Snarkjs> {
  loading ??= import("snarkjs");
  return loading;
}
