/**
 * Placing a new agent on a signer cluster (src/signers/local/shards.ts, chooseShard): the one
 * named, else the least loaded of the clusters whose nodes are all up (key generation needs
 * every node), ties to the first listed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { VaultError } from "../../../src/errors/index.js";
import { chooseShard, type ShardLoad } from "../../../src/signers/local/shards.js";

const load = (name: string, agents: number, allUp = true): ShardLoad => ({ name, agents, allUp });

test("the least loaded cluster takes the next agent; a tie goes to the first", () => {
  assert.equal(chooseShard([load("c0", 3), load("c1", 2), load("c2", 2)]), "c1");
  assert.equal(chooseShard([load("c0", 0), load("c1", 0)]), "c0");
});

test("a cluster with a node down is passed over while another is whole", () => {
  assert.equal(chooseShard([load("c0", 0, false), load("c1", 9)]), "c1");
  assert.equal(chooseShard([load("c0", 4, false), load("c1", 2, false)]), "c1");
});

test("a named cluster is used as named; an unknown name is UNKNOWN_CLUSTER", () => {
  assert.equal(chooseShard([load("c0", 0), load("c1", 9, false)], "c1"), "c1");
  assert.throws(
    () => chooseShard([load("c0", 0)], "c7"),
    (err: unknown) => err instanceof VaultError && err.code === "UNKNOWN_CLUSTER",
  );
});

test("property: the choice is whole when any cluster is, and no whole cluster holds fewer", () => {
  const loads = fc
    .uniqueArray(fc.record({ n: fc.nat(8), agents: fc.nat(50), allUp: fc.boolean() }), {
      minLength: 1,
      maxLength: 8,
      selector: (l) => l.n,
    })
    .map((ls) => ls.map((l) => load(`c${l.n}`, l.agents, l.allUp)));
  fc.assert(
    fc.property(loads, (ls) => {
      const chosen = ls.find((l) => l.name === chooseShard(ls));
      assert.ok(chosen);
      const pool = ls.some((l) => l.allUp) ? ls.filter((l) => l.allUp) : ls;
      assert.ok(pool.includes(chosen));
      assert.ok(pool.every((l) => l.agents >= chosen.agents));
      // Ties go to the first listed.
      assert.equal(
        pool.find((l) => l.agents === chosen.agents),
        chosen,
      );
    }),
  );
});
