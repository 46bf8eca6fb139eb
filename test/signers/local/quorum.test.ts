/** Quorum choice given node states, without processes (src/signers/local/cluster/quorum.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { NodeView } from "../../../src/signers/local/cluster/membership.js";
import { chooseQuorum, ringStart } from "../../../src/signers/local/cluster/quorum.js";

const view = (index: number, up = true, fresh = up): NodeView => ({ index, up, fresh });
const all = (n: number) => Array.from({ length: n }, (_, i) => view(i));

test("fewer than t usable nodes: no quorum", () => {
  const nodes = [view(0), view(1, false), view(2, false)];
  assert.equal(chooseQuorum({ agentId: "a", n: 3, t: 2, nodes, pooled: [] }), undefined);
  assert.equal(
    chooseQuorum({ agentId: "a", n: 3, t: 2, nodes: all(3), pooled: [], exclude: new Set([0, 1]) }),
    undefined,
    "nodes that failed in this request are left out",
  );
});

test("a pooled quorum of fresh nodes is used; a quorum with a down node is not", () => {
  const input = { agentId: "a", n: 3, t: 2, pooled: [[0, 2]] };
  assert.deepEqual(chooseQuorum({ ...input, nodes: all(3) }), [0, 2]);
  const q = chooseQuorum({ ...input, nodes: [view(0), view(1), view(2, false)] });
  assert.deepEqual(q, [0, 1]);
});

test("slow nodes are avoided while t fresh ones exist, and used rather than refusing", () => {
  const slow2 = [view(0), view(1), view(2, true, false)];
  assert.deepEqual(
    chooseQuorum({ agentId: "a", n: 3, t: 2, nodes: slow2, pooled: [[1, 2]] }),
    [0, 1],
    "the pooled quorum with a slow node loses to two fresh ones",
  );
  const allSlow = [view(0, true, false), view(1, true, false), view(2, true, false)];
  assert.deepEqual(
    chooseQuorum({ agentId: "a", n: 3, t: 2, nodes: allSlow, pooled: [[1, 2]] }),
    [1, 2],
    "every node busy: still a quorum (the pooled one)",
  );
  const oneFresh = [view(0, true, false), view(1), view(2, false)];
  assert.deepEqual(chooseQuorum({ agentId: "a", n: 3, t: 2, nodes: oneFresh, pooled: [] }), [0, 1]);
});

test("home quorums start at a position derived from the agent id and spread over the ring", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const agentId = `agt_${i}`;
    const q = chooseQuorum({ agentId, n: 5, t: 3, nodes: all(5), pooled: [] }) as number[];
    const start = ringStart(agentId, 5);
    const expected = [start, (start + 1) % 5, (start + 2) % 5].sort((a, b) => a - b);
    assert.deepEqual(q, expected);
    seen.add(q.join(","));
  }
  assert.equal(seen.size, 5, "every ring position is some agent's home");
});
