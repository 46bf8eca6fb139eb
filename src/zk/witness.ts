/**
 * The circuit's witness, computed by circom's own witness calculator (circom_runtime, the
 * code snarkjs's fullProve runs) from a WebAssembly module compiled once per circuit and
 * reused for every batch the process proves. fullProve would read and compile the module
 * again for each batch and write the witness through a file; here it stays in memory and
 * goes to snarkjs's prover as a memory file. The witness is the same bytes either way
 * (test/zk/witness.test.ts).
 */
import { readFileSync, statSync } from "node:fs";
import { WitnessCalculatorBuilder } from "circom_runtime";

interface Calculator {
  calculateWTNSBin(input: Record<string, unknown>, sanityCheck: boolean): Promise<Uint8Array>;
}

/** The wasm path's compiled calculator, keyed by path, size and mtime (a rebuild misses). */
const calculators = new Map<string, Promise<Calculator>>();

function calculatorFor(wasmPath: string): Promise<Calculator> {
  const { size, mtimeMs } = statSync(wasmPath);
  const key = `${wasmPath}\u0000${size}\u0000${mtimeMs}`;
  let calc = calculators.get(key);
  if (!calc) {
    for (const old of calculators.keys())
      if (old.startsWith(`${wasmPath}\u0000`)) calculators.delete(old);
    calc = WitnessCalculatorBuilder(readFileSync(wasmPath), {}) as Promise<Calculator>;
    calculators.set(key, calc);
    calc.catch(() => calculators.delete(key));
  }
  return calc;
}

/** Numeric strings become bigints, as snarkjs's own wtns calculation does (unstringifyBigInts). */
function toBigInts(value: unknown): unknown {
  if (typeof value === "string" && /^([0-9]+|0x[0-9a-fA-F]+)$/.test(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(toBigInts);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toBigInts(v)]));
  }
  return value;
}

/**
 * One calculation at a time: a calculator is one wasm instance, and between computing a
 * witness and reading it out of the instance's memory it yields to the event loop.
 */
let queue: Promise<unknown> = Promise.resolve();

/** The witness in snarkjs's .wtns format, ready for `prove(zkey, memFile(wtns))`. */
export function computeWitness(
  wasmPath: string,
  input: Record<string, unknown>,
): Promise<Uint8Array> {
  const run = queue.then(async () => {
    const calc = await calculatorFor(wasmPath);
    return calc.calculateWTNSBin(toBigInts(input) as Record<string, unknown>, false);
  });
  queue = run.catch(() => {});
  return run;
}

/** A fastfile memory file: what snarkjs accepts wherever it takes a file name. */
export const memFile = (data: Uint8Array) => ({ type: "mem" as const, data });
