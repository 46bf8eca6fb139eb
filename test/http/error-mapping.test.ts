/** toVaultError (src/http/errors.ts) maps anything thrown onto the catalogue, never crashing. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { toVaultError } from "../../src/http/errors.js";

test("a thrown non-Error (null, a string) maps to INTERNAL instead of crashing the handler", () => {
  for (const thrown of [null, undefined, "boom", 42]) {
    assert.equal(toVaultError(thrown).code, "INTERNAL");
  }
});

test("a schema error names the missing or extra field and the schema's description", () => {
  const err = Object.assign(new Error("bad"), {
    validationContext: "body",
    validation: [
      {
        keyword: "pattern",
        instancePath: "/tx",
        schemaPath: "#/properties/tx/pattern",
        params: { missingProperty: "to" },
        message: "is wrong",
        parentSchema: { description: "an address" },
      },
    ],
  });
  const ve = toVaultError(err);
  assert.equal(ve.code, "VALIDATION_FAILED");
  assert.equal(ve.message, "body.tx.to must be an address");
});
