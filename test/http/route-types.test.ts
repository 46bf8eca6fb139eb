/**
 * Route request types come from the route schemas (@fastify/type-provider-json-schema-to-ts):
 * the compile-time checks below fail `tsc` (npm run lint) when a schema and the type the
 * domain expects drift apart; the runtime tests pin the compiler flags that make indexing
 * checked (noUncheckedIndexedAccess) and type-only imports explicit (verbatimModuleSyntax).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { FromSchema } from "json-schema-to-ts";
import type {
  agentIdParams,
  messageBody,
  txSchema,
  typedDataSchema,
} from "../../src/http/schemas.js";
import type { SignIntent, TxRequest } from "../../src/policy/types.js";

/** True only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;

// A transaction body is exactly the TxRequest the signing service decodes.
const txMatches: Equal<FromSchema<typeof txSchema>, TxRequest> = true;
// Typed data is what a "typed-data" intent carries, minus the kind.
type TypedDataIntent = Omit<Extract<SignIntent, { kind: "typed-data" }>, "kind">;
const typedDataFits: FromSchema<typeof typedDataSchema> extends TypedDataIntent ? true : false =
  true;
// The message body's if/then (hex must be bytes) narrows no type: the handler sees this one;
// `encoding` is always present because ajv fills in its default (useDefaults).
const messageTyped: Equal<
  FromSchema<typeof messageBody>,
  { message: string; encoding: "utf8" | "hex" }
> = true;
const paramsNotAny: IsAny<FromSchema<typeof agentIdParams>> = false;
const paramsHaveId: Equal<FromSchema<typeof agentIdParams>["id"], string> = true;

test("route schemas and domain types agree (checked at compile time)", () => {
  assert.deepEqual(
    [txMatches, typedDataFits, messageTyped, paramsNotAny, paramsHaveId],
    [true, true, true, false, true],
  );
});

test("indexing is checked and type-only imports are explicit, also in the build", () => {
  const read = (f: string) =>
    JSON.parse(readFileSync(new URL(`../../${f}`, import.meta.url), "utf8"));
  const base = read("tsconfig.json");
  assert.equal(base.compilerOptions.noUncheckedIndexedAccess, true);
  assert.equal(base.compilerOptions.verbatimModuleSyntax, true);
  const build = read("tsconfig.build.json");
  assert.equal(build.extends, "./tsconfig.json");
  for (const flag of ["noUncheckedIndexedAccess", "verbatimModuleSyntax"]) {
    assert.equal(build.compilerOptions?.[flag], undefined, `${flag} is not overridden`);
  }
});
