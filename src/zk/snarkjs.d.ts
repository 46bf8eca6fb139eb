// snarkjs and circom_tester ship no type declarations; the vault uses a handful of calls.
declare module "snarkjs" {
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const groth16: any;
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const zKey: any;
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const plonk: any;
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const powersOfTau: any;
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const curves: any;
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const r1cs: any;
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const wtns: any;
}
declare module "circom_tester" {
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const wasm: any;
}
declare module "circom_runtime" {
  // biome-ignore lint/suspicious/noExplicitAny: untyped library surface
  export const WitnessCalculatorBuilder: (code: Uint8Array, options: object) => Promise<any>;
}
