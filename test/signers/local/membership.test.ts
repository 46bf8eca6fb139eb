/**
 * Membership state transitions on beats, without processes: a busy node (slow or
 * missed beats, requests in flight) stays up; one that is gone, misses three beats,
 * or stays silent too long is down; any answer brings it back.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Membership } from "../../../src/signers/local/cluster/membership.js";

function setup() {
  let now = 1_000_000;
  const events: string[] = [];
  const m = new Membership(
    [0, 1, 2].map((index) => ({ index, url: `http://node-${index}` })),
    { missesToDown: 3, silenceMs: 10_000 },
    {
      nodeDown: (i, why) => events.push(`down ${i} ${why}`),
      nodeUp: (i) => events.push(`up ${i}`),
    },
    () => now,
  );
  const advance = (ms: number) => {
    now += ms;
  };
  return { m, events, advance };
}

const up = (m: Membership, i: number) => m.status().find((s) => s.index === i)?.up;

test("one or two missed beats leave a node up; the third consecutive one takes it down", () => {
  const { m, events, advance } = setup();
  m.missed(1, "slow");
  advance(1000);
  m.missed(1, "slow");
  assert.equal(up(m, 1), true, "two misses are a busy node, not a dead one");
  assert.deepEqual(
    m.views().find((v) => v.index === 1),
    { index: 1, up: true, fresh: false },
    "but it is no longer fresh",
  );
  advance(1000);
  m.missed(1, "no health answer");
  assert.equal(up(m, 1), false);
  assert.deepEqual(events, ["down 1 no health answer"]);
  assert.equal(m.status().find((s) => s.index === 1)?.lastError, "no health answer");
});

test("an answer between misses resets the count", () => {
  const { m, advance } = setup();
  for (let i = 0; i < 10; i++) {
    m.missed(0, "slow");
    m.missed(0, "slow");
    advance(500);
    m.answered(0);
  }
  assert.equal(up(m, 0), true);
  assert.equal(m.views().find((v) => v.index === 0)?.fresh, true);
});

test("a miss while a request of ours is in flight is not counted, until the silence limit", () => {
  const { m, advance } = setup();
  m.requestStarted(2);
  for (let i = 0; i < 5; i++) {
    advance(1000);
    m.missed(2, "busy");
  }
  assert.equal(up(m, 2), true, "5 s of missed beats while it works on our request");
  advance(5000);
  m.missed(2, "silent for 10 s");
  assert.equal(up(m, 2), false, "10 s without any answer is down, busy or not");
});

test("a request that ends and answers is a beat", () => {
  const { m, advance } = setup();
  m.missed(1, "slow");
  m.missed(1, "slow");
  m.requestStarted(1);
  advance(3000);
  m.requestEnded(1);
  m.answered(1);
  m.missed(1, "slow");
  assert.equal(up(m, 1), true, "the answer reset the misses");
});

test("a node that is gone is down at once; the next answer brings it up, once", () => {
  const { m, events } = setup();
  m.gone(0, "node-0: connect ECONNREFUSED");
  m.gone(0, "again");
  assert.equal(up(m, 0), false);
  m.answered(0);
  m.answered(0);
  assert.equal(up(m, 0), true);
  assert.equal(m.status().find((s) => s.index === 0)?.lastError, undefined);
  assert.deepEqual(events, ["down 0 node-0: connect ECONNREFUSED", "up 0"]);
});
