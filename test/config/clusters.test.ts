/** VAULT_CLUSTERS (src/config/clusters.ts): a count of embedded clusters or a named list. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/index.js";

const A = "http://10.0.0.1:7000,http://10.0.0.2:7000,http://10.0.0.3:7000";
const B = "http://10.0.1.1:7000,http://10.0.1.2:7000,http://10.0.1.3:7000";

test("unset: one home cluster c0, embedded or the VAULT_NODES cluster", () => {
  assert.deepEqual(loadConfig({}).clusters, [{ name: "c0", nodeUrls: [] }]);
  assert.deepEqual(loadConfig({ VAULT_NODES: A }).clusters, [
    { name: "c0", nodeUrls: A.split(",") },
  ]);
});

test("a count names that many embedded clusters, c0 first", () => {
  assert.deepEqual(
    loadConfig({ VAULT_CLUSTERS: "3" }).clusters.map((c) => [c.name, c.nodeUrls.length]),
    [
      ["c0", 0],
      ["c1", 0],
      ["c2", 0],
    ],
  );
});

test("a list names remote clusters, each with VAULT_THRESHOLD's n nodes", () => {
  const { clusters } = loadConfig({ VAULT_CLUSTERS: `eu=${A}; us=${B}/` });
  assert.deepEqual(clusters, [
    { name: "eu", nodeUrls: A.split(",") },
    { name: "us", nodeUrls: B.split(",") },
  ]);
});

const refused: Array<[string, Record<string, string>, RegExp]> = [
  ["both variables", { VAULT_CLUSTERS: "2", VAULT_NODES: A }, /not both/],
  ["zero clusters", { VAULT_CLUSTERS: "0" }, /1 to 8/],
  ["nine clusters", { VAULT_CLUSTERS: "9" }, /1 to 8/],
  ["a bad name", { VAULT_CLUSTERS: `EU=${A}` }, /names of a-z/],
  ["no name", { VAULT_CLUSTERS: A }, /names of a-z/],
  ["too few nodes", { VAULT_CLUSTERS: "eu=http://10.0.0.1:7000" }, /needs 3/],
  ["a name twice", { VAULT_CLUSTERS: `eu=${A};eu=${B}` }, /twice/],
  ["a node twice", { VAULT_CLUSTERS: `eu=${A};us=${A}` }, /two places/],
  ["not a URL", { VAULT_CLUSTERS: "eu=a,b,c" }, /base URLs/],
];

for (const [what, env, message] of refused) {
  test(`refused at start: ${what}`, () => {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
    );
  });
}
