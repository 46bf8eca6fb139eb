/**
 * A node keeps at most --warm-presigs presignatures deserialised (each about 170 KB of
 * memory): beyond it the oldest is freed, and 0 keeps none. Frees are counted on
 * stand-in parties; the cache logic is NodeContext's own.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { NodeContext } from "../../src/node/protocol/context.js";
import type { NodeStore } from "../../src/node/store.js";
import type { SignParty } from "../../src/threshold/engine.js";
import { loadOrCreateIdentity } from "../../src/transport/identity.js";

function contextWith(warmPresigs: number) {
  const identity = loadOrCreateIdentity(join(mkdtempSync(join(tmpdir(), "av-warm-")), "id.json"));
  const store = { cluster: () => undefined } as unknown as NodeStore;
  const vaultKey = generateKeyPairSync("ed25519").publicKey;
  return new NodeContext(0, identity, store, vaultKey, { warmPresigs });
}

function party(freed: string[], name: string): SignParty {
  return { free: () => freed.push(name) } as unknown as SignParty;
}

test("beyond the limit the oldest warm presignature is freed; the others stay warm", () => {
  const freed: string[] = [];
  const node = contextWith(2);
  for (const id of ["a", "b", "c"]) node.keepWarm(id, party(freed, id));
  assert.deepEqual(freed, ["a"]);
  assert.equal(node.isWarm("a"), false);
  assert.equal(node.isWarm("b"), true);
  assert.equal(node.isWarm("c"), true);
  // Taking one makes room without freeing another.
  assert.ok(node.takeWarm("b"));
  node.keepWarm("d", party(freed, "d"));
  assert.deepEqual(freed, ["a"]);
});

test("a limit of 0 keeps nothing warm: every presignature is restored when used", () => {
  const freed: string[] = [];
  const node = contextWith(0);
  node.keepWarm("a", party(freed, "a"));
  assert.deepEqual(freed, ["a"]);
  assert.equal(node.isWarm("a"), false);
});
