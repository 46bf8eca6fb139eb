/**
 * The node's body schemas (src/protocol/node) are total: whatever JSON arrives, a
 * schema either accepts it or throws WireError naming a field; never another error
 * (a TypeError here would be a NODE_ERROR, or a crash, instead of NODE_BAD_REQUEST).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NODE_OPS, parseParams, WireError } from "../../src/protocol/node/ops.js";

const json = fc.jsonValue({ maxDepth: 4 });
/** Objects shaped like real bodies, so that checks get past the first field. */
const bodyLike = fc.dictionary(
  fc.constantFrom("agentId", "round", "messages", "seq", "intent", "presigId", "kind", "policy"),
  json,
);

for (const op of NODE_OPS) {
  test(`${op}: the schema accepts or refuses with WireError, nothing else`, () => {
    fc.assert(
      fc.property(fc.oneof(json, bodyLike, fc.constant(Object.create(null))), (body) => {
        try {
          parseParams(op, body);
        } catch (err) {
          assert.ok(err instanceof WireError, `${op} threw ${String(err)}`);
          assert.match(err.message, /^body/);
        }
      }),
      { seed: 42, numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });
}

test("unknown fields are refused, and named", () => {
  assert.throws(() => parseParams("agent.state", { agentId: "a", extra: 1 }), {
    name: "Error",
    message: "body.extra: is not a field of this request",
  });
  assert.deepEqual(parseParams("agent.state", { agentId: "a" }), { agentId: "a" });
});

test("an inherited key does not count as a field", () => {
  const body = Object.create({ agentId: "a" });
  assert.throws(() => parseParams("agent.state", body), WireError);
});
