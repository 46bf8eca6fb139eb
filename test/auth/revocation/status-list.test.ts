/**
 * W3C Bitstring Status List encoding (src/auth/revocation/status-list.ts): a bit is set
 * exactly for the revoked indexes, most significant bit first, in at least 131,072 bits,
 * GZIP'd and multibase base64url; checked by decoding with node's zlib (fast-check).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { encodeList, isSet, MIN_BITS } from "../../../src/auth/revocation/status-list.js";

const RUNS = Number(process.env.FC_RUNS ?? 100);

test("exactly the revoked indexes are set, MSB first, in at least 16 KB", () => {
  const bytes = gunzipSync(Buffer.from(encodeList([0, 9]).slice(1), "base64url"));
  assert.equal(bytes.length, MIN_BITS / 8);
  assert.equal(bytes[0], 0x80); // index 0 is the first byte's most significant bit
  assert.equal(bytes[1], 0x40); // index 9: second byte, second bit
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 200_000 }), { maxLength: 40 }),
      fc.integer({ min: 0, max: 200_000 }),
      (revoked, probe) => {
        const list = encodeList(revoked);
        assert.ok(list.startsWith("u"));
        assert.equal(isSet(list, probe), revoked.includes(probe));
      },
    ),
    { numRuns: RUNS },
  );
});
